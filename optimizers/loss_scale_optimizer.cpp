#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/loss_scale_optimizer.h>
#include <strata/optimizers/serialization.h>

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
          {"inner_optimizer", serialize(*inner_)},
          {"initial_scale", options_.initial_scale},
          {"dynamic_growth_steps", options_.dynamic_growth_steps}};
}

LossScaleOptimizer LossScaleOptimizer::from_config(const nlohmann::json& config) {
  if (!config.contains("inner_optimizer"))
    throw ValueError("LossScaleOptimizer.from_config: expected an \"inner_optimizer\" key, got " + config.dump());
  LossScaleOptimizerOptions options;
  if (config.contains("initial_scale")) options.initial_scale = config.at("initial_scale").get<double>();
  if (config.contains("dynamic_growth_steps"))
    options.dynamic_growth_steps = config.at("dynamic_growth_steps").get<int64_t>();
  if (config.contains("name") && config.at("name").is_string()) options.name = config.at("name").get<std::string>();
  return LossScaleOptimizer(deserialize(config.at("inner_optimizer")), options);
}

void LossScaleOptimizer::build(const std::vector<at::Tensor>& variables, const std::vector<std::string>& names) {
  Optimizer::build(variables, names);
  inner_->build(variables, names);
}

std::vector<at::Tensor> LossScaleOptimizer::extra_state() const {
  std::vector<at::Tensor> state = {at::scalar_tensor(step_counter_, at::kLong),
                                   at::scalar_tensor(dynamic_scale_, at::kDouble)};
  for (auto& tensor : inner_->get_state()) state.push_back(std::move(tensor));
  return state;
}

std::vector<std::string> LossScaleOptimizer::extra_state_names(const std::string& prefix,
                                                               const std::vector<std::string>& variable_names) const {
  std::vector<std::string> names = {prefix + "/step_counter", prefix + "/dynamic_scale"};
  for (auto& name : inner_->state_names(variable_names)) names.push_back(std::move(name));
  return names;
}

void LossScaleOptimizer::set_extra_state(const std::vector<at::Tensor>& state) {
  if (state[0].numel() != 1 || state[1].numel() != 1)
    throw ShapeError(describe() + ": set_state expected scalars for step_counter and dynamic_scale");
  inner_->set_state({state.begin() + 2, state.end()});
  step_counter_ = state[0].item<int64_t>();
  dynamic_scale_ = state[1].item<double>();
  forwarded_learning_rate_ = inner_->learning_rate();
}

}  // namespace strata::optimizers
