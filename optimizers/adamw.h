#pragma once
// AdamW (Loshchilov & Hutter 2019) as Keras 3 defines it: Adam with decoupled weight decay on by default
// (weight_decay 0.004). Before each Adam update every variable decays as w -= lr·weight_decay·w.

#include <strata/optimizers/adam.h>

namespace strata::optimizers {

struct AdamWOptions {
  double learning_rate = 0.001;
  double weight_decay = 0.004;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
  std::string name = "adamw";
};

class AdamW : public Adam {
 public:
  explicit AdamW(AdamWOptions options = {});
  nlohmann::json get_config() const override;
  static AdamW from_config(const nlohmann::json& config);
  double weight_decay() const { return weight_decay_; }

 protected:
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  double weight_decay_;
};

}  // namespace strata::optimizers
