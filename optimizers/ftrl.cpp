#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/ftrl.h>

namespace strata::optimizers {

Ftrl::Ftrl(FtrlOptions options) : Optimizer("Ftrl", common_options(options)), options_(std::move(options)) {
  auto require_non_negative = [this](double value, const char* what) {
    if (!(value >= 0.0))
      throw ValueError(describe() + ": expected " + what + " >= 0, got " + std::to_string(value));
  };
  require_non_negative(options_.initial_accumulator_value, "initial_accumulator_value");
  require_non_negative(options_.l1_regularization_strength, "l1_regularization_strength");
  require_non_negative(options_.l2_regularization_strength, "l2_regularization_strength");
  require_non_negative(options_.l2_shrinkage_regularization_strength, "l2_shrinkage_regularization_strength");
  if (!(options_.learning_rate_power <= 0.0))
    throw ValueError(describe() + ": expected learning_rate_power <= 0, got " +
                     std::to_string(options_.learning_rate_power));
}

std::vector<std::string> Ftrl::slot_names() const { return {"accumulator", "linear"}; }

at::Tensor Ftrl::initial_slot(size_t slot, const at::Tensor& variable) const {
  if (slot == 0) return at::full_like(variable, options_.initial_accumulator_value);
  return at::zeros_like(variable);
}

void Ftrl::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                       const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t /*step*/) {
  const auto& accumulators = slots[0];
  const auto& linears = slots[1];
  const double power = -options_.learning_rate_power;
  const double l1 = options_.l1_regularization_strength;
  const double l2 = options_.l2_regularization_strength + options_.beta / (2.0 * learning_rate);
  const double shrinkage = options_.l2_shrinkage_regularization_strength;
  // ATen 1.13 has no _foreach pow or clamp, so this rule runs variable by variable (still without host syncs).
  for (size_t i = 0; i < variables.size(); ++i) {
    const at::Tensor& g = grads[i];
    const at::Tensor& w = variables[i];
    at::Tensor new_accumulator = accumulators[i] + g * g;
    at::Tensor new_power = new_accumulator.pow(power);
    at::Tensor sigma = (new_power - accumulators[i].pow(power)) / learning_rate;
    at::Tensor adjusted_grad = shrinkage == 0.0 ? g : g + (2.0 * shrinkage) * w;
    linears[i].add_(adjusted_grad - sigma * w);
    at::Tensor quadratic = new_power / learning_rate + 2.0 * l2;
    w.copy_((linears[i].clamp(-l1, l1) - linears[i]) / quadratic);
    accumulators[i].copy_(new_accumulator);
  }
}

nlohmann::json Ftrl::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["learning_rate_power"] = options_.learning_rate_power;
  config["initial_accumulator_value"] = options_.initial_accumulator_value;
  config["l1_regularization_strength"] = options_.l1_regularization_strength;
  config["l2_regularization_strength"] = options_.l2_regularization_strength;
  config["l2_shrinkage_regularization_strength"] = options_.l2_shrinkage_regularization_strength;
  config["beta"] = options_.beta;
  return config;
}

Ftrl Ftrl::from_config(const nlohmann::json& config) {
  FtrlOptions options;
  options.learning_rate_power = config.value("learning_rate_power", options.learning_rate_power);
  options.initial_accumulator_value = config.value("initial_accumulator_value", options.initial_accumulator_value);
  options.l1_regularization_strength = config.value("l1_regularization_strength", options.l1_regularization_strength);
  options.l2_regularization_strength = config.value("l2_regularization_strength", options.l2_regularization_strength);
  options.l2_shrinkage_regularization_strength = config.value("l2_shrinkage_regularization_strength", options.l2_shrinkage_regularization_strength);
  options.beta = config.value("beta", options.beta);
  read_common_options(config, options);
  return Ftrl(std::move(options));
}

}  // namespace strata::optimizers
