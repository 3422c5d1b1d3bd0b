#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/lion.h>

namespace strata::optimizers {

Lion::Lion(LionOptions options) : Optimizer("Lion", common_options(options)), options_(std::move(options)) {
  // As Keras: beta_1 = 0 would make Lion plain sign-SGD.
  if (!(options_.beta_1 > 0.0 && options_.beta_1 <= 1.0))
    throw ValueError(describe() + ": expected beta_1 in (0, 1], got " + std::to_string(options_.beta_1));
  if (!(options_.beta_2 >= 0.0 && options_.beta_2 <= 1.0))
    throw ValueError(describe() + ": expected beta_2 in [0, 1], got " + std::to_string(options_.beta_2));
}

std::vector<std::string> Lion::slot_names() const { return {"momentum"}; }

void Lion::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                       const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t /*step*/) {
  const auto& m = slots[0];
  std::vector<at::Tensor> direction = at::_foreach_mul(m, options_.beta_1);
  at::_foreach_add_(direction, grads, 1.0 - options_.beta_1);
  for (auto& d : direction) d.sign_();  // no _foreach sign in ATen 1.13
  at::_foreach_add_(variables, direction, -learning_rate);
  at::_foreach_mul_(m, options_.beta_2);
  at::_foreach_add_(m, grads, 1.0 - options_.beta_2);
}

nlohmann::json Lion::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_1"] = options_.beta_1;
  config["beta_2"] = options_.beta_2;
  return config;
}

Lion Lion::from_config(const nlohmann::json& config) {
  LionOptions options;
  options.beta_1 = config.value("beta_1", options.beta_1);
  options.beta_2 = config.value("beta_2", options.beta_2);
  read_common_options(config, options);
  return Lion(std::move(options));
}

}  // namespace strata::optimizers
