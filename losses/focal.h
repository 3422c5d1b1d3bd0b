#pragma once
// Focal cross-entropies (Lin et al., 2018): cross-entropy scaled by (1 - p_t)^gamma, so confident, correct
// predictions weigh less.

#include <strata/losses/loss.h>

#include <vector>

namespace strata::losses {

struct BinaryFocalCrossentropyOptions {
  bool apply_class_balancing = false;
  double alpha = 0.25;  // weight of class 1 when balancing; class 0 gets 1 - alpha
  double gamma = 2.0;
  bool from_logits = false;
  double label_smoothing = 0.0;
  int64_t axis = -1;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// Per entry (1 - p_t)^gamma * bce, p_t = y * p + (1 - y) * (1 - p), times alpha * y + (1 - alpha) * (1 - y) with
// apply_class_balancing; mean over `axis`. Logits go through a sigmoid first, then clipping, as in Keras 3.
class BinaryFocalCrossentropy : public Loss {
 public:
  explicit BinaryFocalCrossentropy(BinaryFocalCrossentropyOptions options = {});
  static BinaryFocalCrossentropy from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  nlohmann::json get_config() const override;

 private:
  BinaryFocalCrossentropyOptions options_;
};

struct CategoricalFocalCrossentropyOptions {
  std::vector<double> alpha = {0.25};  // one value for every class, or one per class
  double gamma = 2.0;
  bool from_logits = false;
  double label_smoothing = 0.0;
  int64_t axis = -1;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// sum(alpha * (1 - p)^gamma * -y * log(p), axis) over one-hot targets y (smoothed: y * (1 - ls) + ls / C),
// p the probabilities renormalised and clipped to [1e-7, 1 - 1e-7] (softmax first when from_logits).
class CategoricalFocalCrossentropy : public Loss {
 public:
  explicit CategoricalFocalCrossentropy(CategoricalFocalCrossentropyOptions options = {});
  static CategoricalFocalCrossentropy from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  void validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  nlohmann::json get_config() const override;

 private:
  CategoricalFocalCrossentropyOptions options_;
};

}  // namespace strata::losses
