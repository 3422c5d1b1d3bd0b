#pragma once
// Keras' weight constraints: a projection applied to a weight after each optimizer update. Names and
// defaults follow Keras: MaxNorm(2, axis 0), MinMaxNorm(0, 1, rate 1, axis 0), NonNeg, UnitNorm(axis 0).
// The norm of a Dense kernel (in, out) over axis 0 is the norm of each unit's incoming weights; for a
// Conv2D kernel (kh, kw, in, out) Keras' advice is axis {0, 1, 2}.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata::constraints {

class Constraint {
 public:
  virtual ~Constraint() = default;
  // The projected weight.
  virtual at::Tensor operator()(const at::Tensor& w) const = 0;
  virtual std::string class_name() const = 0;
  virtual nlohmann::json get_config() const;
};

// Axes over which a norm is taken; an int or a list, as Keras takes `axis`.
using Axes = std::vector<int64_t>;

class MaxNorm : public Constraint {
 public:
  explicit MaxNorm(double max_value = 2.0, Axes axis = {0});
  at::Tensor operator()(const at::Tensor& w) const override;
  std::string class_name() const override { return "MaxNorm"; }
  nlohmann::json get_config() const override;

 private:
  double max_value_;
  Axes axis_;
};

struct MinMaxNormOptions {
  double min_value = 0.0;
  double max_value = 1.0;
  double rate = 1.0;  // 1 projects exactly; smaller values move the norm part of the way
  Axes axis = {0};
};
class MinMaxNorm : public Constraint {
 public:
  explicit MinMaxNorm(MinMaxNormOptions options = {});
  at::Tensor operator()(const at::Tensor& w) const override;
  std::string class_name() const override { return "MinMaxNorm"; }
  nlohmann::json get_config() const override;

 private:
  MinMaxNormOptions options_;
};

class NonNeg : public Constraint {
 public:
  at::Tensor operator()(const at::Tensor& w) const override;
  std::string class_name() const override { return "NonNeg"; }
};

class UnitNorm : public Constraint {
 public:
  explicit UnitNorm(Axes axis = {0}) : axis_(std::move(axis)) {}
  at::Tensor operator()(const at::Tensor& w) const override;
  std::string class_name() const override { return "UnitNorm"; }
  nlohmann::json get_config() const override;

 private:
  Axes axis_;
};

// The constraint Keras registers under `name` ("max_norm", "min_max_norm", "non_neg", "unit_norm").
std::shared_ptr<Constraint> get(const std::string& name);

// A constraint given by name or as an object; empty (the default) means none.
class Spec : public Ref<Constraint> {
 public:
  using Ref<Constraint>::Ref;
  Spec() = default;
  Spec(const char* name) : Ref(get(name)) {}         // NOLINT
  Spec(const std::string& name) : Ref(get(name)) {}  // NOLINT
};

// {"class_name": "MaxNorm", "config": {"max_value": 2.0, "axis": 0}}, or null for none.
nlohmann::json serialize(const Spec& constraint);
// The inverse of serialize(); null gives an empty Spec, a plain string a Keras name.
Spec deserialize(const nlohmann::json& spec);

}  // namespace strata::constraints
