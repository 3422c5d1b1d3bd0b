#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/nadam.h>

#include <cmath>

namespace strata::optimizers {

namespace {

// Keras' momentum cache μ_t = β1·(1 - ½·0.96^t).
double momentum_cache(double beta_1, int64_t t) { return beta_1 * (1.0 - 0.5 * std::pow(0.96, static_cast<double>(t))); }

}  // namespace

Nadam::Nadam(NadamOptions options) : Optimizer("Nadam", common_options(options)), options_(std::move(options)) {
  for (double beta : {options_.beta_1, options_.beta_2})
    if (!(beta >= 0.0 && beta < 1.0))
      throw ValueError(describe() + ": expected beta_1 and beta_2 in [0, 1), got " + std::to_string(beta));
  if (!(options_.epsilon > 0.0))
    throw ValueError(describe() + ": expected epsilon > 0, got " + std::to_string(options_.epsilon));
}

std::vector<std::string> Nadam::slot_names() const { return {"momentum", "velocity"}; }

std::vector<at::Tensor> Nadam::extra_state() const {
  double product = 1.0;
  for (int64_t t = 1; t <= iterations(); ++t) product *= momentum_cache(options_.beta_1, t);
  return {at::scalar_tensor(product, at::kDouble)};
}

std::vector<std::string> Nadam::extra_state_names(const std::string& /*prefix*/,
                                                  const std::vector<std::string>& /*variable_names*/) const {
  return {"variable"};
}

double Nadam::momentum_product(int64_t step) {
  if (step != product_step_ + 1) {  // restored or reset iterations: rebuild the product from the start
    product_step_ = 0;
    momentum_product_ = 1.0;
  }
  while (product_step_ < step) momentum_product_ *= momentum_cache(options_.beta_1, ++product_step_);
  return momentum_product_;
}

void Nadam::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                        const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) {
  const auto& m = slots[0];
  const auto& v = slots[1];
  const double b1 = options_.beta_1, b2 = options_.beta_2;
  const double u_t = momentum_cache(b1, step);
  const double u_next = momentum_cache(b1, step + 1);
  const double product = momentum_product(step);
  const double product_next = product * u_next;
  at::_foreach_mul_(m, b1);
  at::_foreach_add_(m, grads, 1.0 - b1);
  at::_foreach_mul_(v, b2);
  at::_foreach_addcmul_(v, grads, grads, 1.0 - b2);
  // sqrt(v̂) + ε with v̂ = v/(1-β2^t).
  std::vector<at::Tensor> denominator = at::_foreach_sqrt(v);
  at::_foreach_div_(denominator, std::sqrt(1.0 - std::pow(b2, static_cast<double>(step))));
  at::_foreach_add_(denominator, options_.epsilon);
  at::_foreach_addcdiv_(variables, m, denominator, -learning_rate * u_next / (1.0 - product_next));
  at::_foreach_addcdiv_(variables, grads, denominator, -learning_rate * (1.0 - u_t) / (1.0 - product));
}

nlohmann::json Nadam::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  config["epsilon"] = options_.epsilon;
  return config;
}

Nadam Nadam::from_config(const nlohmann::json& config) {
  NadamOptions options;
  options.beta_1 = config.value("beta_1", options.beta_1);
  options.beta_2 = config.value("beta_2", options.beta_2);
  options.epsilon = config.value("epsilon", options.epsilon);
  read_common_options(config, options);
  return Nadam(std::move(options));
}

}  // namespace strata::optimizers
