#include <strata/core/dtype.h>
#include <strata/core/error.h>

#include <utility>
#include <vector>

namespace strata {
namespace {

const std::vector<std::pair<std::string, at::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, at::ScalarType>> names = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
      {"int64", at::kLong},    {"int32", at::kInt},      {"int16", at::kShort},  {"int8", at::kChar},
      {"uint8", at::kByte},    {"bool", at::kBool},
  };
  return names;
}

}  // namespace

at::ScalarType dtype_from_name(const std::string& name) {
  std::string known;
  for (const auto& [key, dtype] : dtype_names()) {
    if (key == name) return dtype;
    known += (known.empty() ? "" : ", ") + key;
  }
  throw ValueError("unknown dtype '" + name + "'; expected one of: " + known);
}

std::string dtype_name(at::ScalarType dtype) {
  for (const auto& [key, value] : dtype_names())
    if (value == dtype) return key;
  throw ValueError(std::string("dtype ") + c10::toString(dtype) + " has no Keras name");
}

}  // namespace strata
