#pragma once
// Stateful metrics (DESIGN.md §4): state lives in tensors, update_state adds to it without reading it
// back (no .item() in the per-batch path), result() computes the value, reset_state() starts over.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace strata::metrics {

class Metric {
 public:
  Metric(std::string class_name, std::string name);
  virtual ~Metric() = default;

  virtual at::Tensor result() const = 0;
  virtual void reset_state() = 0;
  // The state tensors, so a distribution strategy can sum them across replicas.
  virtual std::vector<at::Tensor> variables() const = 0;

  virtual nlohmann::json get_config() const;
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }

 protected:
  std::string describe() const { return class_name_ + " '" + name_ + "'"; }

 private:
  std::string class_name_;
  std::string name_;
};

// A metric that compares predictions with targets, the kind compile(metrics=...) takes.
class PredictionMetric : public Metric {
 public:
  using Metric::Metric;
  virtual void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) = 0;
};

// The metric Keras registers under `name` ("sparse_categorical_accuracy", ...). "accuracy" and "acc"
// depend on the loss and the shapes, so Model::compile resolves those itself.
std::shared_ptr<PredictionMetric> get(const std::string& name);

// A metric given by name or as an object: `.metrics = {"accuracy", metrics::BinaryAccuracy()}`.
class Spec {
 public:
  Spec(const char* name) : value_(std::string(name)) {}  // NOLINT
  Spec(std::string name) : value_(std::move(name)) {}    // NOLINT
  template <class T>
    requires std::derived_from<std::decay_t<T>, PredictionMetric>
  Spec(T&& metric) : value_(std::make_shared<std::decay_t<T>>(std::forward<T>(metric))) {}  // NOLINT
  template <class T>
    requires std::derived_from<T, PredictionMetric>
  Spec(std::shared_ptr<T> metric) : value_(std::shared_ptr<PredictionMetric>(std::move(metric))) {}  // NOLINT

  bool is_name() const { return std::holds_alternative<std::string>(value_); }
  const std::string& name() const { return std::get<std::string>(value_); }
  const std::shared_ptr<PredictionMetric>& metric() const { return std::get<std::shared_ptr<PredictionMetric>>(value_); }

 private:
  std::variant<std::string, std::shared_ptr<PredictionMetric>> value_;
};

}  // namespace strata::metrics
