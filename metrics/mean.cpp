#include <ATen/ATen.h>
#include <strata/metrics/mean.h>

namespace strata::metrics {

// Totals are kept in double so a long epoch of float32 values does not lose precision.
Mean::Mean(std::string name)
    : Metric("Mean", std::move(name)), total_(at::zeros({}, at::kDouble)), count_(at::zeros({}, at::kDouble)) {}

void Mean::update_state(const at::Tensor& values, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  if (!sample_weight.defined()) {
    total_.add_(values.sum());
    count_.add_(static_cast<double>(values.numel()));
    return;
  }
  at::Tensor weights = sample_weight.to(values.scalar_type());
  while (weights.dim() < values.dim()) weights = weights.unsqueeze(-1);
  weights = weights.expand_as(values);
  total_.add_((values * weights).sum());
  count_.add_(weights.sum());
}

void Mean::add(const at::Tensor& total, double count) {
  at::NoGradGuard no_grad;
  total_.add_(total);
  count_.add_(count);
}

at::Tensor Mean::result() const { return total_ / at::clamp_min(count_, 1e-300) * (count_ > 0); }

void Mean::reset_state() {
  total_.zero_();
  count_.zero_();
}

}  // namespace strata::metrics
