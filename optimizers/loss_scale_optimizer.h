#pragma once
// Keras 3's LossScaleOptimizer: dynamic loss scaling for mixed_float16 training. The loss is multiplied by a
// scale (2^15 at first) before backward so that small float16 gradients do not flush to zero; apply() divides the
// gradients by it again and hands them to the wrapped optimizer. A step whose gradients hold inf or NaN is
// skipped and the scale halved; after `dynamic_growth_steps` finite steps in a row the scale doubles.
// Model::compile() wraps its optimizer in one under the "mixed_float16" policy, as Keras does.

#include <strata/optimizers/optimizer.h>

#include <cstdint>
#include <string>

namespace strata::optimizers {

struct LossScaleOptimizerOptions {
  double initial_scale = 32768.0;  // 2^15
  int64_t dynamic_growth_steps = 2000;
  std::string name = "loss_scale_optimizer";
};

class LossScaleOptimizer : public Optimizer {
 public:
  explicit LossScaleOptimizer(Spec inner_optimizer, LossScaleOptimizerOptions options = {});

  // The loss that backward() should differentiate: loss * dynamic_scale().
  at::Tensor scale_loss(const at::Tensor& loss) const override;

  double dynamic_scale() const { return dynamic_scale_; }
  // Finite steps since the scale last changed.
  int64_t step_counter() const { return step_counter_; }
  // The wrapped optimizer; its iterations() counts the steps actually applied (skipped ones are not).
  Optimizer& inner_optimizer() const { return *inner_; }
  const LossScaleOptimizerOptions& options() const { return options_; }

  // Keras 3's keys: name, inner_optimizer (serialized), initial_scale, dynamic_growth_steps.
  nlohmann::json get_config() const override;
  static LossScaleOptimizer from_config(const nlohmann::json& config);

  // Builds the inner optimizer on the same variables too, so set_state() can restore its slots.
  void build(const std::vector<at::Tensor>& variables, const std::vector<std::string>& names = {}) override;

 protected:
  // Checks the gradients are finite (one host sync per step: the branch decides whether the inner optimizer
  // runs), then unscales them and applies the inner optimizer, or skips the step.
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) override;
  // Keras 3's order after iteration and learning_rate: step_counter, dynamic_scale, then the inner optimizer's
  // whole state (its own iteration, learning_rate and slots).
  std::vector<at::Tensor> extra_state() const override;
  std::vector<std::string> extra_state_names(const std::string& prefix,
                                             const std::vector<std::string>& variable_names) const override;
  void set_extra_state(const std::vector<at::Tensor>& state) override;

 private:
  std::shared_ptr<Optimizer> inner_;
  LossScaleOptimizerOptions options_;
  double dynamic_scale_;
  int64_t step_counter_ = 0;
  double forwarded_learning_rate_;
};

}  // namespace strata::optimizers
