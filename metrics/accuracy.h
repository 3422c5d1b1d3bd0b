#pragma once
// Accuracy metrics: each turns a batch into per-sample 0/1 matches and keeps their running mean.

#include <strata/metrics/mean.h>

#include <functional>

namespace strata::metrics {

// The mean of fn(y_true, y_pred) over samples, Keras' MeanMetricWrapper.
class MeanMetricWrapper : public PredictionMetric {
 public:
  using Fn = std::function<at::Tensor(const at::Tensor& y_true, const at::Tensor& y_pred)>;
  MeanMetricWrapper(std::string class_name, std::string name, Fn fn);

  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override { return mean_.result(); }
  void reset_state() override { mean_.reset_state(); }
  std::vector<at::Tensor> variables() const override { return mean_.variables(); }

 private:
  Fn fn_;
  Mean mean_;
};

// Exact equality of y_true and y_pred.
class Accuracy : public MeanMetricWrapper {
 public:
  explicit Accuracy(std::string name = "accuracy");
};

// Predictions above `threshold` count as 1.
class BinaryAccuracy : public MeanMetricWrapper {
 public:
  explicit BinaryAccuracy(std::string name = "binary_accuracy", double threshold = 0.5);
  nlohmann::json get_config() const override;

 private:
  double threshold_;
};

// argmax of one-hot targets against argmax of predictions.
class CategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit CategoricalAccuracy(std::string name = "categorical_accuracy");
};

// Integer labels against argmax of predictions.
class SparseCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy");
};

}  // namespace strata::metrics
