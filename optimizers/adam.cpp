#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/adam.h>

#include <cmath>

namespace strata::optimizers {

Adam::Adam(AdamOptions options) : Adam("Adam", std::move(options)) {}

Adam::Adam(std::string class_name, AdamOptions options)
    : Optimizer(std::move(class_name), common_options(options)), options_(std::move(options)) {
  for (double beta : {options_.beta_1, options_.beta_2})
    if (!(beta >= 0.0 && beta < 1.0))
      throw ValueError(describe() + ": expected beta_1 and beta_2 in [0, 1), got " + std::to_string(beta));
  if (!(options_.epsilon > 0.0))
    throw ValueError(describe() + ": expected epsilon > 0, got " + std::to_string(options_.epsilon));
}

std::vector<std::vector<size_t>> Adam::slot_groups() const {
  if (options_.amsgrad) return {{0, 1}, {2}};
  return {{0, 1}};
}

std::vector<std::string> Adam::slot_names() const {
  if (options_.amsgrad) return {"momentum", "velocity", "velocity_hat"};
  return {"momentum", "velocity"};
}

void Adam::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                       const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) {
  const auto& m = slots[0];
  const auto& v = slots[1];
  const double t = static_cast<double>(step);
  const double alpha =
      learning_rate * std::sqrt(1.0 - std::pow(options_.beta_2, t)) / (1.0 - std::pow(options_.beta_1, t));
  at::_foreach_mul_(m, options_.beta_1);
  at::_foreach_add_(m, grads, 1.0 - options_.beta_1);
  at::_foreach_mul_(v, options_.beta_2);
  at::_foreach_addcmul_(v, grads, grads, 1.0 - options_.beta_2);
  const std::vector<at::Tensor>* second_moment = &v;
  if (options_.amsgrad) {
    at::_foreach_maximum_(slots[2], v);
    second_moment = &slots[2];
  }
  std::vector<at::Tensor> denominator = at::_foreach_sqrt(*second_moment);
  at::_foreach_add_(denominator, options_.epsilon);
  at::_foreach_addcdiv_(variables, m, denominator, -alpha);
}

nlohmann::json Adam::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  config["amsgrad"] = options_.amsgrad;
  return config;
}

Adam Adam::from_config(const nlohmann::json& config) {
  AdamOptions options;
  options.beta_1 = config.value("beta_1", options.beta_1);
  options.beta_2 = config.value("beta_2", options.beta_2);
  options.epsilon = config.value("epsilon", options.epsilon);
  options.amsgrad = config.value("amsgrad", options.amsgrad);
  read_common_options(config, options);
  return Adam(std::move(options));
}

}  // namespace strata::optimizers
