#pragma once
// Keras' weight regularizers: a penalty computed from a weight (or a layer's output, for an activity
// regularizer) and added to the training loss. Names and defaults follow Keras: L1(0.01), L2(0.01),
// L1L2(0, 0), and the strings "l1", "l2", "l1_l2".

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>

#include <memory>
#include <string>

namespace strata::regularizers {

class Regularizer {
 public:
  virtual ~Regularizer() = default;
  // The scalar penalty for `x`.
  virtual at::Tensor operator()(const at::Tensor& x) const = 0;
  virtual std::string class_name() const = 0;
  virtual nlohmann::json get_config() const = 0;
};

// l1 * sum(|x|) + l2 * sum(x^2); L1 and L2 are the cases with one factor.
class L1L2 : public Regularizer {
 public:
  explicit L1L2(double l1 = 0.0, double l2 = 0.0);
  at::Tensor operator()(const at::Tensor& x) const override;
  std::string class_name() const override { return "L1L2"; }
  nlohmann::json get_config() const override;
  double l1() const { return l1_; }
  double l2() const { return l2_; }

 private:
  double l1_;
  double l2_;
};

class L1 : public L1L2 {
 public:
  explicit L1(double l1 = 0.01) : L1L2(l1, 0.0) {}
  std::string class_name() const override { return "L1"; }
  nlohmann::json get_config() const override;
};

class L2 : public L1L2 {
 public:
  explicit L2(double l2 = 0.01) : L1L2(0.0, l2) {}
  std::string class_name() const override { return "L2"; }
  nlohmann::json get_config() const override;
};

// The regularizer Keras registers under `name` ("l1", "l2", "l1_l2").
std::shared_ptr<Regularizer> get(const std::string& name);

// A regularizer given by name or as an object; empty (the default) means none.
class Spec : public Ref<Regularizer> {
 public:
  using Ref<Regularizer>::Ref;
  Spec() = default;
  Spec(const char* name) : Ref(get(name)) {}         // NOLINT
  Spec(const std::string& name) : Ref(get(name)) {}  // NOLINT
};

// {"class_name": "L2", "config": {"l2": 0.01}}, or null for none.
nlohmann::json serialize(const Spec& regularizer);
// The inverse of serialize(); null gives an empty Spec, a plain string a Keras name.
Spec deserialize(const nlohmann::json& spec);

}  // namespace strata::regularizers
