#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/adamw.h>

namespace strata::optimizers {

AdamW::AdamW(AdamWOptions options)
    : Adam("AdamW", {.learning_rate = options.learning_rate,
                     .beta_1 = options.beta_1,
                     .beta_2 = options.beta_2,
                     .epsilon = options.epsilon,
                     .amsgrad = options.amsgrad,
                     .name = options.name}),
      weight_decay_(options.weight_decay) {
  if (!(weight_decay_ >= 0.0))
    throw ValueError(describe() + ": expected weight_decay >= 0, got " + std::to_string(weight_decay_));
}

void AdamW::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                        const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) {
  if (weight_decay_ > 0.0) at::_foreach_mul_(variables, 1.0 - learning_rate * weight_decay_);
  Adam::update_step(grads, variables, slots, learning_rate, step);
}

nlohmann::json AdamW::get_config() const {
  nlohmann::json config = Adam::get_config();
  config["weight_decay"] = weight_decay_;
  return config;
}

AdamW AdamW::from_config(const nlohmann::json& config) {
  const AdamWOptions d;
  return AdamW({.learning_rate = config.value("learning_rate", d.learning_rate),
                .weight_decay = config.value("weight_decay", d.weight_decay),
                .beta_1 = config.value("beta_1", d.beta_1),
                .beta_2 = config.value("beta_2", d.beta_2),
                .epsilon = config.value("epsilon", d.epsilon),
                .amsgrad = config.value("amsgrad", d.amsgrad),
                .name = config.value("name", d.name)});
}

}  // namespace strata::optimizers
