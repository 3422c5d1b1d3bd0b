#pragma once
// Adam (Kingma & Ba) in Keras' form: m and v are exponential moving averages of g and g², and
// w -= lr·sqrt(1-β2^t)/(1-β1^t) · m / (sqrt(v) + ε); AMSGrad uses the running maximum of v.

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct AdamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "Adam";
};

class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});
  nlohmann::json get_config() const override;
  static Adam from_config(const nlohmann::json& config);

 protected:
  // For variants that keep Adam's rule under another class name (AdamW).
  Adam(std::string class_name, AdamOptions options);
  // Keras interleaves momentum and velocity per variable and creates amsgrad's velocity_hat after them all.
  std::vector<std::vector<size_t>> slot_groups() const override;
  std::vector<std::string> slot_names() const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  AdamOptions options_;
};

}  // namespace strata::optimizers
