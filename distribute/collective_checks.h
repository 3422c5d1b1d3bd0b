#pragma once
// Checks the Gloo and NCCL communicators share (internal to distribute/): the tensors a collective accepts, and the
// wording of its errors.

#include <ATen/core/Tensor.h>

#include <chrono>
#include <string>
#include <vector>

namespace strata::distribute::detail {

// ValueError unless `tensor` is defined, dense, contiguous and on `device`; `who` names the collective, e.g.
// "Gloo all_reduce_sum".
void check_collective_tensor(const std::string& who, const at::Tensor& tensor, const c10::Device& device);
// ValueError unless `tensor`'s dtype is one of `allowed`.
void check_dtype(const std::string& who, const at::Tensor& tensor, const std::vector<at::ScalarType>& allowed);
// ValueError unless 0 <= root < size.
void check_root(const std::string& who, int root, int size);
// ValueError unless 0 <= rank < size and the timeout is positive; `who` names the factory.
void check_group(const std::string& who, int rank, int size, std::chrono::milliseconds timeout);
// "2.5 s", for messages.
std::string seconds_text(std::chrono::milliseconds duration);

}  // namespace strata::distribute::detail
