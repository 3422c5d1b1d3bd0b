#pragma once
// Nadam (Dozat 2015), Adam with Nesterov momentum, in Keras' form with its momentum-cache schedule
// μ_t = β1·(1 - ½·0.96^t) and Π_t = μ_1⋯μ_t:  m̂ = μ_{t+1}·m/(1-Π_{t+1}) + (1-μ_t)·g/(1-Π_t),
// v̂ = v/(1-β2^t), w -= lr·m̂/(sqrt(v̂) + ε). Π_t is a function of t alone, so it is recomputed from the step
// (iterations) rather than kept as a variable.

#include <strata/optimizers/optimizer.h>

namespace strata::optimizers {

struct NadamOptions {
  LearningRate learning_rate = 0.001;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "nadam";
};

class Nadam : public Optimizer {
 public:
  explicit Nadam(NadamOptions options = {});
  nlohmann::json get_config() const override;
  static Nadam from_config(const nlohmann::json& config);
  const NadamOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  // Keras keeps Π_t as a variable after the slots ("variable", it has no name); here it follows from
  // iterations(), so restoring ignores the stored value.
  std::vector<at::Tensor> extra_state() const override;
  std::vector<std::string> extra_state_names(const std::string& prefix,
                                             const std::vector<std::string>& variable_names) const override;
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;

 private:
  NadamOptions options_;
  // Π_t for the last step seen, so consecutive steps extend it by one factor instead of recomputing it.
  int64_t product_step_ = 0;
  double momentum_product_ = 1.0;
  double momentum_product(int64_t step);
};

}  // namespace strata::optimizers
