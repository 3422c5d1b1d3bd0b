#pragma once
// Cross-entropy losses, on probabilities (clipped to [1e-7, 1 - 1e-7]) or on logits (from_logits), and the other
// losses between distributions: KLDivergence, Poisson.

#include <strata/losses/loss.h>

#include <optional>

namespace strata::losses {

struct CrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  int64_t axis = -1;  // the class (features) axis
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// Targets in [0, 1]; label smoothing pulls them toward 0.5: y * (1 - ls) + 0.5 * ls. Mean over `axis`.
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(CrossentropyOptions options = {});
  static BinaryCrossentropy from_config(const nlohmann::json& config);
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
  static CategoricalCrossentropy from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  void validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  nlohmann::json get_config() const override;

 private:
  CrossentropyOptions options_;
};

// Keras 3's SparseCategoricalCrossentropy has no label_smoothing.
struct SparseCrossentropyOptions {
  bool from_logits = false;
  // Labels equal to this id (e.g. -1 or 255 for "void" pixels) add nothing and are masked out of the mean.
  std::optional<int64_t> ignore_class = std::nullopt;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// Integer class ids in [0, num_classes) as targets, shape (batch, ...) or (batch, ..., 1).
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(SparseCrossentropyOptions options = {});
  static SparseCategoricalCrossentropy from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  at::Tensor loss_mask(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  // Class ids are checked on every call: an id out of range would index out of bounds.
  void validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
  nlohmann::json get_config() const override;

 private:
  at::Tensor labels(const at::Tensor& y_true, const at::Tensor& y_pred) const;

  SparseCrossentropyOptions options_;
};

struct DivergenceOptions {
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [1e-7, 1]. Names "kl_divergence", "kld".
class KLDivergence : public Loss {
 public:
  explicit KLDivergence(DivergenceOptions options = {});
  static KLDivergence from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

// mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)
class Poisson : public Loss {
 public:
  explicit Poisson(DivergenceOptions options = {});
  static Poisson from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
};

}  // namespace strata::losses
