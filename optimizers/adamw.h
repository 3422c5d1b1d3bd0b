#pragma once
// AdamW (Loshchilov & Hutter 2019) as Keras 3 defines it: Adam with the base optimizer's decoupled weight
// decay (w -= lr·weight_decay·w before each Adam update) on by default, weight_decay 0.004 and required.

#include <strata/optimizers/adam.h>

namespace strata::optimizers {

// Keras' argument order: weight_decay comes second, so the shared options are spelled out here rather than
// taken from STRATA_OPTIMIZER_COMMON_OPTIONS (same names and types, so common_options() reads them).
struct AdamWOptions {
  LearningRate learning_rate = 0.001;
  std::optional<double> weight_decay = 0.004;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  std::optional<double> clipnorm = std::nullopt;
  std::optional<double> clipvalue = std::nullopt;
  std::optional<double> global_clipnorm = std::nullopt;
  bool use_ema = false;
  double ema_momentum = 0.99;
  std::optional<int64_t> ema_overwrite_frequency = std::nullopt;
  std::optional<double> loss_scale_factor = std::nullopt;
  std::optional<int64_t> gradient_accumulation_steps = std::nullopt;
  std::string name = "adamw";
};

class AdamW : public Adam {
 public:
  explicit AdamW(AdamWOptions options = {});
  static AdamW from_config(const nlohmann::json& config);
};

}  // namespace strata::optimizers
