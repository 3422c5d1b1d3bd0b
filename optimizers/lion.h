#pragma once
// Lion (Chen et al. 2023) in Keras' form: w -= lr·sign(β1·m + (1-β1)·g); m = β2·m + (1-β2)·g.

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct LionOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.99;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "lion";
};

class Lion : public Optimizer {
 public:
  explicit Lion(LionOptions options = {});
  nlohmann::json get_config() const override;
  static Lion from_config(const nlohmann::json& config);
  const LionOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  LionOptions options_;
};

}  // namespace strata::optimizers
