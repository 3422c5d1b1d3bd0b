#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/adagrad.h>

namespace strata::optimizers {

Adagrad::Adagrad(AdagradOptions options)
    : Optimizer("Adagrad", common_options(options)), options_(std::move(options)) {
  if (!(options_.initial_accumulator_value >= 0.0))
    throw ValueError(describe() + ": expected initial_accumulator_value >= 0, got " +
                     std::to_string(options_.initial_accumulator_value));
  if (!(options_.epsilon >= 0.0))
    throw ValueError(describe() + ": expected epsilon >= 0, got " + std::to_string(options_.epsilon));
}

std::vector<std::string> Adagrad::slot_names() const { return {"accumulator"}; }

at::Tensor Adagrad::initial_slot(size_t /*slot*/, const at::Tensor& variable) const {
  return at::full_like(variable, options_.initial_accumulator_value);
}

void Adagrad::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                          const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t /*step*/) {
  const auto& accumulator = slots[0];
  at::_foreach_addcmul_(accumulator, grads, grads);
  std::vector<at::Tensor> denominator = at::_foreach_add(accumulator, options_.epsilon);
  at::_foreach_sqrt_(denominator);
  at::_foreach_addcdiv_(variables, grads, denominator, -learning_rate);
}

nlohmann::json Adagrad::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["initial_accumulator_value"] = options_.initial_accumulator_value;
  config["epsilon"] = options_.epsilon;
  return config;
}

Adagrad Adagrad::from_config(const nlohmann::json& config) {
  AdagradOptions options;
  options.initial_accumulator_value = config.value("initial_accumulator_value", options.initial_accumulator_value);
  options.epsilon = config.value("epsilon", options.epsilon);
  read_common_options(config, options);
  return Adagrad(std::move(options));
}

}  // namespace strata::optimizers
