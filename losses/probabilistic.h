#pragma once
// Cross-entropy losses, on probabilities (clipped to [1e-7, 1 - 1e-7]) or on logits (from_logits).

#include <strata/losses/loss.h>

namespace strata::losses {

struct CrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// Targets in [0, 1]; label smoothing pulls them toward 0.5: y * (1 - ls) + 0.5 * ls.
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(CrossentropyOptions options = {});
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  nlohmann::json get_config() const override;

 private:
  CrossentropyOptions options_;
};

// One-hot targets; label smoothing: y * (1 - ls) + ls / num_classes.
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(CrossentropyOptions options = {});
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  nlohmann::json get_config() const override;

 private:
  CrossentropyOptions options_;
};

struct SparseCrossentropyOptions {
  bool from_logits = false;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// Integer class ids in [0, num_classes) as targets, shape (batch,) or (batch, 1).
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(SparseCrossentropyOptions options = {});
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  nlohmann::json get_config() const override;

 private:
  SparseCrossentropyOptions options_;
};

}  // namespace strata::losses
