#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/loss_scale_optimizer.h>

#include <cmath>

namespace strata::optimizers {

LossScaleOptimizer::LossScaleOptimizer(Spec inner_optimizer, LossScaleOptimizerOptions options)
    : Optimizer("LossScaleOptimizer", options.name, inner_optimizer ? inner_optimizer->learning_rate() : 0.0),
      inner_(inner_optimizer.ptr()),
      options_(std::move(options)),
      dynamic_scale_(options_.initial_scale),
      forwarded_learning_rate_(learning_rate()) {
  if (!inner_) throw ValueError(describe() + ": needs an inner optimizer to wrap");
  if (dynamic_cast<LossScaleOptimizer*>(inner_.get()))
    throw ValueError(describe() + ": the inner optimizer is already a LossScaleOptimizer; wrap the plain one");
  if (!(options_.initial_scale > 0.0) || !std::isfinite(options_.initial_scale))
    throw ValueError(describe() + ": expected a finite initial_scale > 0, got " + std::to_string(options_.initial_scale));
  if (options_.dynamic_growth_steps < 1)
    throw ValueError(describe() + ": expected dynamic_growth_steps >= 1, got " +
                     std::to_string(options_.dynamic_growth_steps));
}

at::Tensor LossScaleOptimizer::scale_loss(const at::Tensor& loss) const { return loss * dynamic_scale_; }

void LossScaleOptimizer::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                                     const std::vector<std::vector<at::Tensor>>& /*slots*/, double learning_rate,
                                     int64_t /*step*/) {
  // Keras' learning_rate belongs to the inner optimizer; a rate set on this wrapper (by a callback that sees
  // model.optimizer()) is passed on.
  if (learning_rate != forwarded_learning_rate_) {
    inner_->set_learning_rate(learning_rate);
    forwarded_learning_rate_ = learning_rate;
  }
  std::vector<at::Tensor> finite;
  finite.reserve(grads.size());
  for (const auto& grad : grads) finite.push_back(at::isfinite(grad).all());
  if (!at::stack(finite).all().item<bool>()) {
    dynamic_scale_ /= 2.0;
    step_counter_ = 0;
    return;
  }
  inner_->apply(at::_foreach_div(grads, dynamic_scale_), variables);
  // Keras compares the counter before incrementing: the scale doubles on the growth_steps-th finite step.
  if (step_counter_ == options_.dynamic_growth_steps - 1) {
    step_counter_ = 0;
    dynamic_scale_ *= 2.0;
  } else {
    ++step_counter_;
  }
}

nlohmann::json LossScaleOptimizer::get_config() const {
  return {{"name", name()},
          {"inner_optimizer",
           {{"module", "keras.optimizers"},
            {"class_name", inner_->class_name()},
            {"config", inner_->get_config()},
            {"registered_name", nullptr}}},
          {"initial_scale", options_.initial_scale},
          {"dynamic_growth_steps", options_.dynamic_growth_steps}};
}

}  // namespace strata::optimizers
