#pragma once
// Keras' dtype names ("float32", "int64", ...) and the ATen scalar types they stand for.

#include <c10/core/ScalarType.h>

#include <string>

namespace strata {

// Throws ValueError naming `name` and the accepted names when it is not one of them.
at::ScalarType dtype_from_name(const std::string& name);
std::string dtype_name(at::ScalarType dtype);

}  // namespace strata
