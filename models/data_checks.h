#pragma once
// Checks a training or evaluation loop makes once on its whole data set, each throwing a strata::Error
// that names the model, the method and the offending value.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace strata {

// `who` is the caller as messages should name it, e.g. "Sequential 'sequential': fit()".
void check_batch_size(const std::string& who, int64_t batch_size);
// Every tensor defined (or skipped when undefined and optional), with a batch dimension, and all with the same
// number of samples, at least one; returns that number. `names` label them in errors ("x", "y[1]").
int64_t check_same_samples(const std::string& who, const std::vector<std::pair<std::string, at::Tensor>>& tensors);
// Throws if a floating tensor holds NaN or Inf, naming the first bad sample.
void check_finite(const std::string& who, const std::string& what, const at::Tensor& tensor);

}  // namespace strata
