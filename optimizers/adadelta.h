#pragma once
// Adadelta (Zeiler 2012) in Keras' form: E[g²] = ρ·E[g²] + (1-ρ)·g²;
// Δ = -sqrt(E[Δ²] + ε)·g / sqrt(E[g²] + ε); E[Δ²] = ρ·E[Δ²] + (1-ρ)·Δ²; w += lr·Δ.

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct AdadeltaOptions {
  LearningRate learning_rate = 0.001;
  double rho = 0.95;
  double epsilon = 1e-7;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "adadelta";
};

class Adadelta : public Optimizer {
 public:
  explicit Adadelta(AdadeltaOptions options = {});
  nlohmann::json get_config() const override;
  static Adadelta from_config(const nlohmann::json& config);
  const AdadeltaOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  AdadeltaOptions options_;
};

}  // namespace strata::optimizers
