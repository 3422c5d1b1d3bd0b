#pragma once
// Adafactor (Shazeer & Stern 2018) in Keras 3's form. With ρ_t = min(lr, 1/sqrt(t)),
// α_t = max(ε2, rms(w))·ρ_t, β2_t = 1 - t^beta_2_decay and G = g² + ε1: a variable of rank >= 2 keeps factored
// moments over its last two axes, r = β2_t·r + (1-β2_t)·mean(G, -1), c = β2_t·c + (1-β2_t)·mean(G, -2),
// v = (r / mean(r, -1)) ⊗ c; a lower-rank one keeps v = β2_t·v + (1-β2_t)·G. Then u = g/sqrt(v),
// w -= α_t·u / max(1, rms(u)/clip_threshold). Keras 3 applies min(lr, 1/sqrt(t)) whether or not
// relative_step is set, so relative_step is kept for the config only and changes nothing (as in Keras).

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct AdafactorOptions {
  LearningRate learning_rate = 0.001;
  double beta_2_decay = -0.8;
  double epsilon_1 = 1e-30;
  double epsilon_2 = 1e-3;
  double clip_threshold = 1.0;
  bool relative_step = true;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "adafactor";
};

class Adafactor : public Optimizer {
 public:
  explicit Adafactor(AdafactorOptions options = {});
  nlohmann::json get_config() const override;
  static Adafactor from_config(const nlohmann::json& config);
  const AdafactorOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  at::Tensor initial_slot(size_t slot, const at::Tensor& variable) const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  AdafactorOptions options_;
};

}  // namespace strata::optimizers
