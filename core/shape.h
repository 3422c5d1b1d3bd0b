#pragma once
// Keras-style shapes: a batch dimension that is not known yet is None, stored as kNone.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata {

inline constexpr int64_t kNone = -1;

using Shape = std::vector<int64_t>;

// The shape of a tensor, batch dimension included.
Shape shape_of(const at::Tensor& tensor);

// The same shape with its first (batch) dimension replaced by None.
Shape with_batch_none(Shape shape);

// Keras' printed form, "(None, 28, 28)"; a rank-1 shape prints as "(10,)".
std::string format_shape(const Shape& shape);

// A concrete tensor shape as it appears in error messages, "[32, 10]".
std::string format_dims(at::IntArrayRef dims);

// Product of the dimensions; throws if one of them is None.
int64_t num_elements(const Shape& shape);

}  // namespace strata
