#pragma once
// SGD with optional (Nesterov) momentum, Keras' form: v = m·v - lr·g; w += v (Nesterov: w += m·v - lr·g).

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct SGDOptions {
  LearningRate learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "SGD";
};

class SGD : public Optimizer {
 public:
  explicit SGD(SGDOptions options = {});
  nlohmann::json get_config() const override;
  static SGD from_config(const nlohmann::json& config);

 protected:
  std::vector<std::string> slot_names() const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  SGDOptions options_;
};

}  // namespace strata::optimizers
