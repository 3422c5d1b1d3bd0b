#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/adadelta.h>

namespace strata::optimizers {

Adadelta::Adadelta(AdadeltaOptions options)
    : Optimizer("Adadelta", common_options(options)), options_(std::move(options)) {
  if (!(options_.rho >= 0.0 && options_.rho <= 1.0))
    throw ValueError(describe() + ": expected rho in [0, 1], got " + std::to_string(options_.rho));
  if (!(options_.epsilon > 0.0))
    throw ValueError(describe() + ": expected epsilon > 0, got " + std::to_string(options_.epsilon));
}

std::vector<std::string> Adadelta::slot_names() const { return {"accumulated_grad", "accumulated_delta_var"}; }

void Adadelta::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                           const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t /*step*/) {
  const auto& accumulated_grad = slots[0];
  const auto& accumulated_delta = slots[1];
  const double rho = options_.rho, eps = options_.epsilon;
  at::_foreach_mul_(accumulated_grad, rho);
  at::_foreach_addcmul_(accumulated_grad, grads, grads, 1.0 - rho);
  // step = -Δ = sqrt(E[Δ²] + ε)·g / sqrt(E[g²] + ε), from E[Δ²] before this update.
  std::vector<at::Tensor> step_size = at::_foreach_add(accumulated_delta, eps);
  at::_foreach_sqrt_(step_size);
  std::vector<at::Tensor> grad_rms = at::_foreach_add(accumulated_grad, eps);
  at::_foreach_sqrt_(grad_rms);
  at::_foreach_div_(step_size, grad_rms);
  at::_foreach_mul_(step_size, grads);
  at::_foreach_mul_(accumulated_delta, rho);
  at::_foreach_addcmul_(accumulated_delta, step_size, step_size, 1.0 - rho);
  at::_foreach_add_(variables, step_size, -learning_rate);
}

nlohmann::json Adadelta::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["rho"] = options_.rho;
  config["epsilon"] = options_.epsilon;
  return config;
}

Adadelta Adadelta::from_config(const nlohmann::json& config) {
  AdadeltaOptions options;
  options.rho = config.value("rho", options.rho);
  options.epsilon = config.value("epsilon", options.epsilon);
  read_common_options(config, options);
  return Adadelta(std::move(options));
}

}  // namespace strata::optimizers
