#include <ATen/ATen.h>
#include <strata/losses/regression.h>

namespace strata::losses {
namespace {

// Targets of shape (batch,) are compared with predictions of shape (batch, 1) as Keras does.
at::Tensor aligned_targets(const at::Tensor& y_true, const at::Tensor& y_pred) {
  at::Tensor targets = y_true.to(y_pred.scalar_type());
  if (targets.dim() + 1 == y_pred.dim() && y_pred.size(-1) == 1) return targets.unsqueeze(-1);
  if (targets.dim() == y_pred.dim() + 1 && targets.size(-1) == 1) return targets.squeeze(-1);
  return targets;
}

}  // namespace

MeanSquaredError::MeanSquaredError(RegressionOptions options)
    : Loss("MeanSquaredError", options.name.empty() ? "mean_squared_error" : options.name, options.reduction) {}

at::Tensor MeanSquaredError::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  return (y_pred - aligned_targets(y_true, y_pred)).square().mean(-1);
}

MeanAbsoluteError::MeanAbsoluteError(RegressionOptions options)
    : Loss("MeanAbsoluteError", options.name.empty() ? "mean_absolute_error" : options.name, options.reduction) {}

at::Tensor MeanAbsoluteError::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  return (y_pred - aligned_targets(y_true, y_pred)).abs().mean(-1);
}

}  // namespace strata::losses
