#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/rmsprop.h>

namespace strata::optimizers {

RMSprop::RMSprop(RMSpropOptions options)
    : Optimizer("RMSprop", common_options(options)), options_(std::move(options)) {
  if (!(options_.rho >= 0.0 && options_.rho < 1.0))
    throw ValueError(describe() + ": expected rho in [0, 1), got " + std::to_string(options_.rho));
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw ValueError(describe() + ": expected momentum in [0, 1], got " + std::to_string(options_.momentum));
}

std::vector<std::string> RMSprop::slot_names() const {
  std::vector<std::string> names = {"velocity"};
  if (options_.momentum > 0.0) names.push_back("momentum");
  if (options_.centered) names.push_back("average_gradient");
  return names;
}

std::vector<std::vector<size_t>> RMSprop::slot_groups() const {
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < slot_names().size(); ++i) groups.push_back({i});
  return groups;
}

void RMSprop::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                          const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) {
  const auto& velocity = slots[0];
  at::_foreach_mul_(velocity, options_.rho);
  at::_foreach_addcmul_(velocity, grads, grads, 1.0 - options_.rho);
  std::vector<at::Tensor> denominator;
  if (options_.centered) {
    const auto& average_gradient = slots.back();
    at::_foreach_mul_(average_gradient, options_.rho);
    at::_foreach_add_(average_gradient, grads, 1.0 - options_.rho);
    denominator = at::_foreach_addcmul(velocity, average_gradient, average_gradient, -1.0);
    at::_foreach_add_(denominator, options_.epsilon);
  } else {
    denominator = at::_foreach_add(velocity, options_.epsilon);
  }
  denominator = at::_foreach_sqrt(denominator);
  if (options_.momentum > 0.0) {
    const auto& momentum = slots[1];
    at::_foreach_mul_(momentum, options_.momentum);
    at::_foreach_addcdiv_(momentum, grads, denominator, learning_rate);
    at::_foreach_sub_(variables, momentum);
  } else {
    at::_foreach_addcdiv_(variables, grads, denominator, -learning_rate);
  }
}

nlohmann::json RMSprop::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["rho"] = options_.rho;
  config["momentum"] = options_.momentum;
  config["epsilon"] = options_.epsilon;
  config["centered"] = options_.centered;
  return config;
}

RMSprop RMSprop::from_config(const nlohmann::json& config) {
  RMSpropOptions options;
  options.rho = config.value("rho", options.rho);
  options.momentum = config.value("momentum", options.momentum);
  options.epsilon = config.value("epsilon", options.epsilon);
  options.centered = config.value("centered", options.centered);
  read_common_options(config, options);
  return RMSprop(std::move(options));
}

}  // namespace strata::optimizers
