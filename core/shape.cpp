#include <strata/core/error.h>
#include <strata/core/shape.h>

namespace strata {

Shape shape_of(const at::Tensor& tensor) { return Shape(tensor.sizes().begin(), tensor.sizes().end()); }

Shape with_batch_none(Shape shape) {
  if (!shape.empty()) shape[0] = kNone;
  return shape;
}

std::string format_shape(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += shape[i] == kNone ? "None" : std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

std::string format_dims(at::IntArrayRef dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ", ";
    out += dims[i] == kNone ? "None" : std::to_string(dims[i]);
  }
  return out + "]";
}

int64_t num_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == kNone) throw ShapeError("cannot count the elements of shape " + format_shape(shape));
    n *= d;
  }
  return n;
}

}  // namespace strata
