#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/models/data_checks.h>

#include <cmath>

namespace strata {

void check_batch_size(const std::string& who, int64_t batch_size) {
  if (batch_size <= 0) throw ValueError(who + ": expected batch_size > 0, got " + std::to_string(batch_size));
}

void check_same_samples(const std::string& who, const at::Tensor& x, const at::Tensor& y) {
  if (!x.defined() || !y.defined()) throw ValueError(who + ": x and y must both be defined tensors");
  if (x.dim() == 0 || y.dim() == 0)
    throw ShapeError(who + ": x and y need a batch dimension, got shapes " + format_dims(x.sizes()) + " and " +
                     format_dims(y.sizes()));
  if (x.size(0) != y.size(0))
    throw ShapeError(who + ": expected x and y with the same number of samples, got " + std::to_string(x.size(0)) +
                     " and " + std::to_string(y.size(0)));
  if (x.size(0) == 0) throw ValueError(who + ": x and y hold no samples");
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
