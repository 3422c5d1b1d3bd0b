#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/adamax.h>

#include <cmath>

namespace strata::optimizers {

Adamax::Adamax(AdamaxOptions options)
    : Optimizer("Adamax", common_options(options)), options_(std::move(options)) {
  for (double beta : {options_.beta_1, options_.beta_2})
    if (!(beta >= 0.0 && beta < 1.0))
      throw ValueError(describe() + ": expected beta_1 and beta_2 in [0, 1), got " + std::to_string(beta));
  if (!(options_.epsilon > 0.0))
    throw ValueError(describe() + ": expected epsilon > 0, got " + std::to_string(options_.epsilon));
}

std::vector<std::string> Adamax::slot_names() const { return {"momentum", "norm"}; }

void Adamax::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                         const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) {
  const auto& m = slots[0];
  const auto& u = slots[1];
  at::_foreach_mul_(m, options_.beta_1);
  at::_foreach_add_(m, grads, 1.0 - options_.beta_1);
  at::_foreach_mul_(u, options_.beta_2);
  at::_foreach_maximum_(u, at::_foreach_abs(grads));
  std::vector<at::Tensor> denominator = at::_foreach_add(u, options_.epsilon);
  const double bias_correction = 1.0 - std::pow(options_.beta_1, static_cast<double>(step));
  at::_foreach_addcdiv_(variables, m, denominator, -learning_rate / bias_correction);
}

nlohmann::json Adamax::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  return config;
}

Adamax Adamax::from_config(const nlohmann::json& config) {
  AdamaxOptions options;
  options.beta_1 = config.value("beta_1", options.beta_1);
  options.beta_2 = config.value("beta_2", options.beta_2);
  options.epsilon = config.value("epsilon", options.epsilon);
  read_common_options(config, options);
  return Adamax(std::move(options));
}

}  // namespace strata::optimizers
