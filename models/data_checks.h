#pragma once
// Checks a training or evaluation loop makes once on its whole data set, each throwing a strata::Error
// that names the model, the method and the offending value.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace strata {

// `who` is the caller as messages should name it, e.g. "Sequential 'sequential': fit()".
void check_batch_size(const std::string& who, int64_t batch_size);
void check_same_samples(const std::string& who, const at::Tensor& x, const at::Tensor& y);
// Throws if a floating tensor holds NaN or Inf, naming the first bad sample.
void check_finite(const std::string& who, const std::string& what, const at::Tensor& tensor);

}  // namespace strata
