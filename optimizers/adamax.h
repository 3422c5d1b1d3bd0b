#pragma once
// Adamax (Kingma & Ba §7.1) in Keras' form: m = β1·m + (1-β1)·g; u = max(β2·u, |g|);
// w -= lr·m / ((1-β1^t)·(u + ε)).

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct AdamaxOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "adamax";
};

class Adamax : public Optimizer {
 public:
  explicit Adamax(AdamaxOptions options = {});
  nlohmann::json get_config() const override;
  static Adamax from_config(const nlohmann::json& config);
  const AdamaxOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  AdamaxOptions options_;
};

}  // namespace strata::optimizers
