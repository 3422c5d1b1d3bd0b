#pragma once
// Overlap losses for segmentation: Dice and its weighted form Tversky. Both reduce over `axis`; by default (no
// axis, as Keras' axis=None) over every axis, batch included, giving one scalar for the batch.

#include <strata/losses/loss.h>

#include <optional>
#include <vector>

namespace strata::losses {

// Keras' order is (reduction, name, axis); axis comes first here so `name` stays last.
struct DiceOptions {
  std::optional<std::vector<int64_t>> axis = std::nullopt;  // e.g. {1, 2, 3} for one loss per image
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// 1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + 1e-7)
class Dice : public Loss {
 public:
  explicit Dice(DiceOptions options = {});
  static Dice from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  nlohmann::json get_config() const override;

 private:
  DiceOptions options_;
};

struct TverskyOptions {
  double alpha = 0.5;
  double beta = 0.5;
  std::optional<std::vector<int64_t>> axis = std::nullopt;
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// 1 - tp / (tp + alpha * sum((1 - y_pred) * y_true) + beta * sum(y_pred * (1 - y_true)) + 1e-7) with
// tp = sum(y_true * y_pred): Keras' formula (its alpha weighs the missed positives). alpha = beta = 0.5 is Dice.
class Tversky : public Loss {
 public:
  explicit Tversky(TverskyOptions options = {});
  static Tversky from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  nlohmann::json get_config() const override;

 private:
  TverskyOptions options_;
};

}  // namespace strata::losses
