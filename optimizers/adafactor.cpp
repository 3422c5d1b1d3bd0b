#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/adafactor.h>

#include <algorithm>
#include <cmath>

namespace strata::optimizers {

namespace {

at::Tensor rms(const at::Tensor& x) { return x.square().mean().sqrt(); }

}  // namespace

Adafactor::Adafactor(AdafactorOptions options)
    : Optimizer("Adafactor", common_options(options)), options_(std::move(options)) {
  if (!(options_.epsilon_1 >= 0.0 && options_.epsilon_2 >= 0.0))
    throw ValueError(describe() + ": expected epsilon_1 and epsilon_2 >= 0, got " + std::to_string(options_.epsilon_1) +
                     " and " + std::to_string(options_.epsilon_2));
  if (!(options_.clip_threshold > 0.0))
    throw ValueError(describe() + ": expected clip_threshold > 0, got " + std::to_string(options_.clip_threshold));
}

std::vector<std::string> Adafactor::slot_names() const { return {"r", "c", "velocity"}; }

// r drops the last axis and c the second-to-last; below rank 2 nothing is factored and r, c are scalar
// placeholders, as in Keras.
at::Tensor Adafactor::initial_slot(size_t slot, const at::Tensor& variable) const {
  if (slot == 2) return at::zeros_like(variable);
  const int64_t rank = variable.dim();
  if (rank < 2) return at::zeros({}, variable.options());
  std::vector<int64_t> shape(variable.sizes().begin(), variable.sizes().end());
  shape.erase(shape.end() - (slot == 0 ? 1 : 2));
  return at::zeros(shape, variable.options());
}

void Adafactor::update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                            const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) {
  const double t = static_cast<double>(step);
  const double rho = std::min(learning_rate, 1.0 / std::sqrt(t));
  const double beta_2 = 1.0 - std::pow(t, options_.beta_2_decay);
  // Per-variable RMS values and factored means have no _foreach form; each op stays on the device.
  for (size_t i = 0; i < variables.size(); ++i) {
    const at::Tensor& g = grads[i];
    const at::Tensor& w = variables[i];
    const at::Tensor& r = slots[0][i];
    const at::Tensor& c = slots[1][i];
    const at::Tensor& v = slots[2][i];
    at::Tensor alpha = rms(w).clamp_min(options_.epsilon_2) * rho;
    at::Tensor regulated = g.square() + options_.epsilon_1;
    if (w.dim() >= 2) {
      r.mul_(beta_2).add_(regulated.mean(-1), 1.0 - beta_2);
      c.mul_(beta_2).add_(regulated.mean(-2), 1.0 - beta_2);
      v.copy_((r / r.mean(-1, true)).unsqueeze(-1) * c.unsqueeze(-2));
    } else {
      v.mul_(beta_2).add_(regulated, 1.0 - beta_2);
    }
    at::Tensor update = g / v.sqrt();
    update.div_((rms(update) / options_.clip_threshold).clamp_min(1.0));
    w.sub_(alpha * update);
  }
}

nlohmann::json Adafactor::get_config() const {
  nlohmann::json config = Optimizer::get_config();
  config["beta_2_decay"] = options_.beta_2_decay;
  config["epsilon_1"] = options_.epsilon_1;
  config["epsilon_2"] = options_.epsilon_2;
  config["clip_threshold"] = options_.clip_threshold;
  config["relative_step"] = options_.relative_step;
  return config;
}

Adafactor Adafactor::from_config(const nlohmann::json& config) {
  AdafactorOptions options;
  options.beta_2_decay = config.value("beta_2_decay", options.beta_2_decay);
  options.epsilon_1 = config.value("epsilon_1", options.epsilon_1);
  options.epsilon_2 = config.value("epsilon_2", options.epsilon_2);
  options.clip_threshold = config.value("clip_threshold", options.clip_threshold);
  options.relative_step = config.value("relative_step", options.relative_step);
  read_common_options(config, options);
  return Adafactor(std::move(options));
}

}  // namespace strata::optimizers
