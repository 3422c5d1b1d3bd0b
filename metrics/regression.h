#pragma once
// Regression metrics (Keras' regression_metrics): running means of per-sample errors, RMSE, and R2Score.

#include <strata/metrics/mean.h>

#include <optional>

namespace strata::metrics {

// mean((y_pred - y_true)^2, axis=-1), the MeanSquaredError loss per sample.
class MeanSquaredError : public MeanMetricWrapper {
 public:
  explicit MeanSquaredError(std::string name = "mean_squared_error");
  static MeanSquaredError from_config(const nlohmann::json& config);
};

// mean(|y_pred - y_true|, axis=-1).
class MeanAbsoluteError : public MeanMetricWrapper {
 public:
  explicit MeanAbsoluteError(std::string name = "mean_absolute_error");
  static MeanAbsoluteError from_config(const nlohmann::json& config);
};

// 100 * mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|, axis=-1).
class MeanAbsolutePercentageError : public MeanMetricWrapper {
 public:
  explicit MeanAbsolutePercentageError(std::string name = "mean_absolute_percentage_error");
  static MeanAbsolutePercentageError from_config(const nlohmann::json& config);
};

// mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))^2, axis=-1).
class MeanSquaredLogarithmicError : public MeanMetricWrapper {
 public:
  explicit MeanSquaredLogarithmicError(std::string name = "mean_squared_logarithmic_error");
  static MeanSquaredLogarithmicError from_config(const nlohmann::json& config);
};

// mean(log(cosh(y_pred - y_true)), axis=-1), computed as x + softplus(-2x) - log 2 so it cannot overflow.
class LogCoshError : public MeanMetricWrapper {
 public:
  explicit LogCoshError(std::string name = "logcosh");
  static LogCoshError from_config(const nlohmann::json& config);
};

struct CosineSimilarityOptions {
  int64_t axis = -1;
  std::string name = "cosine_similarity";
};

// The cosine of the angle between y_true and y_pred along `axis` (+1 when aligned; the loss is its negative).
class CosineSimilarity : public MeanMetricWrapper {
 public:
  explicit CosineSimilarity(CosineSimilarityOptions options = {});
  nlohmann::json get_config() const override;
  static CosineSimilarity from_config(const nlohmann::json& config);

 private:
  int64_t axis_;
};

// sqrt of the running (weighted) mean of the squared errors.
class RootMeanSquaredError : public PredictionMetric {
 public:
  explicit RootMeanSquaredError(std::string name = "root_mean_squared_error");
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;
  void reset_state() override { mean_.reset_state(); }
  std::vector<at::Tensor> variables() const override { return mean_.variables(); }
  static RootMeanSquaredError from_config(const nlohmann::json& config);

 private:
  Mean mean_;
};

struct R2ScoreOptions {
  // "uniform_average", "variance_weighted_average", or nullopt (Keras' None: one score per output).
  std::optional<std::string> class_aggregation = "uniform_average";
  // More than 0 gives the adjusted R2 (falls back to plain R2 when the samples are too few).
  int64_t num_regressors = 0;
  std::string name = "r2_score";
};

// The coefficient of determination per output column (inputs (batch, outputs)), from streaming sums as
// Keras keeps them: sum(w*y), sum(w*y^2), sum(w*(y - y_pred)^2), sum(w) per column and the element count.
class R2Score : public PredictionMetric {
 public:
  explicit R2Score(R2ScoreOptions options = {});
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;
  void reset_state() override;
  // Empty until the first update fixes the number of outputs; then num_samples, squared_sum, sum, residual,
  // count, Keras' order.
  std::vector<at::Tensor> variables() const override;
  nlohmann::json get_config() const override;
  static R2Score from_config(const nlohmann::json& config);

 private:
  R2ScoreOptions options_;
  at::Tensor squared_sum_, sum_, residual_, count_, num_samples_;
};

}  // namespace strata::metrics
