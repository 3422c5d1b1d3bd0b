#pragma once
// FTRL-Proximal (McMahan et al. 2013) in Keras' form, with online L2 (l2 + β/(2·lr)) and shrinkage L2:
// ĝ = g + 2·l2_shrinkage·w; n' = n + g²; z += ĝ - (n'^-p - n^-p)/lr·w (p = learning_rate_power);
// w = (clip(z, -l1, l1) - z) / (n'^-p/lr + 2·l2); n = n'.

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct FtrlOptions {
  LearningRate learning_rate = 0.001;
  double learning_rate_power = -0.5;
  double initial_accumulator_value = 0.1;
  double l1_regularization_strength = 0.0;
  double l2_regularization_strength = 0.0;
  double l2_shrinkage_regularization_strength = 0.0;
  double beta = 0.0;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "ftrl";
};

class Ftrl : public Optimizer {
 public:
  explicit Ftrl(FtrlOptions options = {});
  nlohmann::json get_config() const override;
  static Ftrl from_config(const nlohmann::json& config);
  const FtrlOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  at::Tensor initial_slot(size_t slot, const at::Tensor& variable) const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  FtrlOptions options_;
};

}  // namespace strata::optimizers
