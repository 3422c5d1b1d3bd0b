#pragma once
// Regression losses, each the mean over the last axis of an elementwise error, and CosineSimilarity.

#include <strata/losses/loss.h>

namespace strata::losses {

struct RegressionOptions {
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// mean((y_pred - y_true)^2, axis=-1)
class MeanSquaredError : public Loss {
 public:
  explicit MeanSquaredError(RegressionOptions options = {});
  static MeanSquaredError from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// mean(|y_pred - y_true|, axis=-1)
class MeanAbsoluteError : public Loss {
 public:
  explicit MeanAbsoluteError(RegressionOptions options = {});
  static MeanAbsoluteError from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// 100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7), axis=-1)
class MeanAbsolutePercentageError : public Loss {
 public:
  explicit MeanAbsolutePercentageError(RegressionOptions options = {});
  static MeanAbsolutePercentageError from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))^2, axis=-1)
class MeanSquaredLogarithmicError : public Loss {
 public:
  explicit MeanSquaredLogarithmicError(RegressionOptions options = {});
  static MeanSquaredLogarithmicError from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// mean(log(cosh(y_pred - y_true)), axis=-1), computed as x + softplus(-2x) - log 2 so large errors do not
// overflow.
class LogCosh : public Loss {
 public:
  explicit LogCosh(RegressionOptions options = {});
  static LogCosh from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

struct HuberOptions {
  double delta = 1.0;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// Per entry 0.5 * x^2 where |x| <= delta, else delta * |x| - 0.5 * delta^2 (x = y_pred - y_true); mean over
// the last axis. Default name "huber_loss", as Keras.
class Huber : public Loss {
 public:
  explicit Huber(HuberOptions options = {});
  static Huber from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  nlohmann::json get_config() const override;

 private:
  HuberOptions options_;
};

struct CosineSimilarityOptions {
  int64_t axis = -1;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// -sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): -1 for vectors pointing the same way, 0 when either is
// zero. l2_normalize(x) = x / max(||x||, 1e-7), as Keras 3's ops.normalize.
class CosineSimilarity : public Loss {
 public:
  explicit CosineSimilarity(CosineSimilarityOptions options = {});
  static CosineSimilarity from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  nlohmann::json get_config() const override;

 private:
  CosineSimilarityOptions options_;
};

}  // namespace strata::losses
