#pragma once
// RMSprop, Keras' default optimizer: v = ρ·v + (1-ρ)·g²; w -= lr·g / sqrt(v + ε), with optional
// momentum and the centered variant that subtracts the squared mean gradient.

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct RMSpropOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  bool centered = false;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "RMSprop";
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(RMSpropOptions options = {});
  nlohmann::json get_config() const override;
  static RMSprop from_config(const nlohmann::json& config);

 protected:
  // Keras creates every velocity, then every momentum, then every average_gradient.
  std::vector<std::vector<size_t>> slot_groups() const override;
  std::vector<std::string> slot_names() const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  RMSpropOptions options_;
};

}  // namespace strata::optimizers
