#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/sgd.h>

namespace strata::optimizers {

SGD::SGD(SGDOptions options) : Optimizer("SGD", common_options(options)), options_(std::move(options)) {
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw ValueError(describe() + ": expected momentum in [0, 1], got " + std::to_string(options_.momentum));
}

std::vector<std::string> SGD::slot_names() const {
  if (options_.momentum > 0.0) return {"momentum"};
  return {};
}

void SGD::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                      const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) {
  if (options_.momentum == 0.0) {
    at::_foreach_add_(variables, grads, -learning_rate);
    return;
  }
  const auto& velocity = slots[0];
  at::_foreach_mul_(velocity, options_.momentum);
  at::_foreach_add_(velocity, grads, -learning_rate);
  if (options_.nesterov) {
    at::_foreach_add_(variables, velocity, options_.momentum);
    at::_foreach_add_(variables, grads, -learning_rate);
  } else {
    at::_foreach_add_(variables, velocity);
  }
}

nlohmann::json SGD::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["momentum"] = options_.momentum;
  config["nesterov"] = options_.nesterov;
  return config;
}

SGD SGD::from_config(const nlohmann::json& config) {
  SGDOptions options;
  options.momentum = config.value("momentum", options.momentum);
  options.nesterov = config.value("nesterov", options.nesterov);
  read_common_options(config, options);
  return SGD(std::move(options));
}

}  // namespace strata::optimizers
