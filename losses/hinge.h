#pragma once
// Hinge losses for maximum-margin classifiers: targets -1 or 1 (Hinge, SquaredHinge convert 0/1 labels), or
// one-hot targets (CategoricalHinge).

#include <strata/losses/loss.h>

namespace strata::losses {

struct HingeOptions {
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// mean(max(1 - y_true * y_pred, 0), axis=-1). When every target is 0 or 1 they become -1 or 1, as in Keras.
class Hinge : public Loss {
 public:
  explicit Hinge(HingeOptions options = {});
  static Hinge from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// mean(max(1 - y_true * y_pred, 0)^2, axis=-1), with Hinge's label conversion.
class SquaredHinge : public Loss {
 public:
  explicit SquaredHinge(HingeOptions options = {});
  static SquaredHinge from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// max(neg - pos + 1, 0) with pos = sum(y_true * y_pred, -1) and neg = max((1 - y_true) * y_pred, -1). No label
// conversion (Keras converts none here).
class CategoricalHinge : public Loss {
 public:
  explicit CategoricalHinge(HingeOptions options = {});
  static CategoricalHinge from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

}  // namespace strata::losses
