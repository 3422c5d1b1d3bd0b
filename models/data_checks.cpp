#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/models/data_checks.h>

#include <cmath>

namespace strata {

void check_batch_size(const std::string& who, int64_t batch_size) {
  if (batch_size <= 0) throw ValueError(who + ": expected batch_size > 0, got " + std::to_string(batch_size));
}

int64_t check_same_samples(const std::string& who, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  int64_t samples = -1;
  std::string first;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) continue;
    if (tensor.dim() == 0)
      throw ShapeError(who + ": " + name + " needs a batch dimension, got a scalar");
    if (samples < 0) {
      samples = tensor.size(0);
      first = name;
    } else if (tensor.size(0) != samples) {
      throw ShapeError(who + ": expected " + first + " and " + name + " with the same number of samples, got " +
                       std::to_string(samples) + " and " + std::to_string(tensor.size(0)));
    }
  }
  if (samples < 0) throw ValueError(who + ": got no data");
  if (samples == 0) throw ValueError(who + ": " + first + " holds no samples");
  return samples;
}

void check_finite(const std::string& who, const std::string& what, const at::Tensor& tensor) {
  if (!tensor.is_floating_point() || tensor.numel() == 0) return;
  at::NoGradGuard no_grad;
  // NaN and Inf propagate through a sum, so a finite sum proves every element finite in one cheap pass;
  // only a non-finite sum (bad data, or a sum that overflowed) pays for the exact element-wise check.
  if (std::isfinite(tensor.sum(at::kDouble).item<double>())) return;
  if (at::isfinite(tensor).all().item<bool>()) return;
  at::Tensor bad_samples = at::nonzero(at::logical_not(at::isfinite(tensor).reshape({tensor.size(0), -1}).all(1)));
  throw ValueError(who + ": " + what + " contains NaN or Inf, first in sample " +
                   std::to_string(bad_samples[0][0].item<int64_t>()) + " (" + std::to_string(bad_samples.size(0)) +
                   " bad samples in all)");
}

}  // namespace strata
