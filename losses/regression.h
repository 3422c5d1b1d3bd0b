#pragma once
// Regression losses, each the mean over the last axis of an elementwise error.

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
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// mean(|y_pred - y_true|, axis=-1)
class MeanAbsoluteError : public Loss {
 public:
  explicit MeanAbsoluteError(RegressionOptions options = {});
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

}  // namespace strata::losses
