// Argument checks shared by the Gloo and NCCL communicators.
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/distribute/collective_checks.h>

#include <ATen/ATen.h>

#include <cstdio>

namespace strata::distribute::detail {

void check_collective_tensor(const std::string& who, const at::Tensor& tensor, const c10::Device& device) {
  if (!tensor.defined()) throw ValueError(who + ": expected a tensor, got an undefined one");
  if (tensor.layout() != at::kStrided)
    throw ValueError(who + ": expected a dense (strided) tensor, got layout " + c10::toString(tensor.layout()));
  if (tensor.device() != device)
    throw ValueError(who + ": expected a tensor on " + device.str() + ", got one on " + tensor.device().str());
  if (!tensor.is_contiguous())
    throw ValueError(who + ": expected a contiguous tensor, got shape " + format_dims(tensor.sizes()) +
                     " with strides " + format_dims(tensor.strides()) + "; call .contiguous() first");
}

void check_dtype(const std::string& who, const at::Tensor& tensor, const std::vector<at::ScalarType>& allowed) {
  for (at::ScalarType type : allowed)
    if (tensor.scalar_type() == type) return;
  std::string names;
  for (at::ScalarType type : allowed) names += (names.empty() ? "" : ", ") + std::string(c10::toString(type));
  throw ValueError(who + ": expected a tensor of dtype " + names + ", got " + c10::toString(tensor.scalar_type()));
}

void check_root(const std::string& who, int root, int size) {
  if (root < 0 || root >= size)
    throw ValueError(who + ": root must be a rank in [0, " + std::to_string(size) + "), got " + std::to_string(root));
}

void check_group(const std::string& who, int rank, int size, std::chrono::milliseconds timeout) {
  if (size < 1) throw ValueError(who + ": size must be >= 1, got " + std::to_string(size));
  if (rank < 0 || rank >= size)
    throw ValueError(who + ": rank must be in [0, " + std::to_string(size) + "), got " + std::to_string(rank));
  if (timeout.count() <= 0)
    throw ValueError(who + ": timeout must be positive, got " + std::to_string(timeout.count()) + " ms");
}

std::string seconds_text(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

}  // namespace strata::distribute::detail
