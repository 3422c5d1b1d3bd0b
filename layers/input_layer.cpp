#include <nlohmann/json.hpp>
#include <strata/core/dtype.h>
#include <strata/core/error.h>
#include <strata/layers/input_layer.h>

namespace strata::layers {

InputLayer::InputLayer(Shape shape, InputOptions options)
    : Layer("InputLayer", options.name), dtype_(dtype_from_name(options.dtype)) {
  set_autocast(false);  // an Input passes data as it comes; the layers after it cast to their compute dtype
  for (int64_t d : shape)
    if (d <= 0 && d != kNone)
      throw ValueError(describe() + ": shape entries must be positive or None, got " + format_dims(shape));
  if (options.batch_size != kNone && options.batch_size <= 0)
    throw ValueError(describe() + ": batch_size must be positive, got " + std::to_string(options.batch_size));
  batch_shape_ = shape;
  batch_shape_.insert(batch_shape_.begin(), options.batch_size);
  InputSpec spec{.ndim = static_cast<int64_t>(batch_shape_.size())};
  for (size_t axis = 0; axis < batch_shape_.size(); ++axis)
    if (batch_shape_[axis] != kNone) spec.axes[static_cast<int64_t>(axis)] = batch_shape_[axis];
  set_input_spec(spec);
  ensure_built(batch_shape_);
  record_output_shape(with_batch_none(batch_shape_));
}

nlohmann::json InputLayer::get_config() const {
  nlohmann::json shape = nlohmann::json::array();
  for (int64_t d : batch_shape_) shape.push_back(d == kNone ? nlohmann::json(nullptr) : nlohmann::json(d));
  return {{"batch_input_shape", shape}, {"dtype", dtype_name(dtype_)}, {"sparse", false}, {"ragged", false},
          {"name", name()}};
}

InputLayer InputLayer::from_config(const nlohmann::json& config) {
  const nlohmann::json& batch_shape = config.contains("batch_input_shape") ? config.at("batch_input_shape")
                                                                             : config.at("batch_shape");
  Shape shape;
  for (size_t i = 1; i < batch_shape.size(); ++i)
    shape.push_back(batch_shape[i].is_null() ? kNone : batch_shape[i].get<int64_t>());
  const int64_t batch_size = batch_shape.empty() || batch_shape[0].is_null() ? kNone : batch_shape[0].get<int64_t>();
  return InputLayer(std::move(shape), {.name = config.value("name", ""),
                                       .dtype = config.value("dtype", "float32"),
                                       .batch_size = batch_size});
}

SymbolicTensor Input(Shape shape, InputOptions options) {
  return call_symbolic(std::make_shared<InputLayer>(std::move(shape), std::move(options)), {}).front();
}

}  // namespace strata::layers
