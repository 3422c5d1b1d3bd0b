#pragma once
// Adagrad (Duchi et al. 2011) in Keras' form: a += g² (a starts at initial_accumulator_value);
// w -= lr·g / sqrt(a + ε).

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct AdagradOptions {
  LearningRate learning_rate = 0.001;
  double initial_accumulator_value = 0.1;
  double epsilon = 1e-7;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "adagrad";
};

class Adagrad : public Optimizer {
 public:
  explicit Adagrad(AdagradOptions options = {});
  nlohmann::json get_config() const override;
  static Adagrad from_config(const nlohmann::json& config);
  const AdagradOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  at::Tensor initial_slot(size_t slot, const at::Tensor& variable) const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  AdagradOptions options_;
};

}  // namespace strata::optimizers
