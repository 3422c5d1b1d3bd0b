#pragma once
// Hinge metrics (Keras' hinge_metrics): the running mean of the hinge losses per sample. Binary targets in
// {0, 1} are read as {-1, 1}, as Keras does.

#include <strata/metrics/mean.h>

namespace strata::metrics {

// mean(max(1 - y_true * y_pred, 0), axis=-1)
class Hinge : public MeanMetricWrapper {
 public:
  explicit Hinge(std::string name = "hinge");
  static Hinge from_config(const nlohmann::json& config);
};

// mean(max(1 - y_true * y_pred, 0)^2, axis=-1)
class SquaredHinge : public MeanMetricWrapper {
 public:
  explicit SquaredHinge(std::string name = "squared_hinge");
  static SquaredHinge from_config(const nlohmann::json& config);
};

// max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) over the last axis, for one-hot targets.
class CategoricalHinge : public MeanMetricWrapper {
 public:
  explicit CategoricalHinge(std::string name = "categorical_hinge");
  static CategoricalHinge from_config(const nlohmann::json& config);
};

}  // namespace strata::metrics
