#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/reshaping.h>

#include <algorithm>

namespace strata::layers {

Flatten::Flatten(std::string name) : Layer("Flatten", std::move(name)) { set_input_spec({.min_ndim = 1}); }

at::Tensor Flatten::call(const at::Tensor& inputs, bool training) { return inputs.reshape({inputs.size(0), -1}); }

Shape Flatten::compute_output_shape(const Shape& input_shape) const {
  Shape per_sample(input_shape.begin() + 1, input_shape.end());
  const bool known = std::none_of(per_sample.begin(), per_sample.end(), [](int64_t d) { return d == kNone; });
  return {input_shape[0], known ? num_elements(per_sample) : kNone};
}

nlohmann::json Flatten::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["data_format"] = "channels_last";
  return config;
}

Reshape::Reshape(Shape target_shape, std::string name)
    : Layer("Reshape", std::move(name)), target_shape_(std::move(target_shape)) {
  const auto unknown = std::count(target_shape_.begin(), target_shape_.end(), -1);
  const bool valid = unknown <= 1 && std::all_of(target_shape_.begin(), target_shape_.end(),
                                                 [](int64_t d) { return d > 0 || d == -1; });
  if (!valid)
    throw ValueError(describe() + ": target_shape must hold positive sizes and at most one -1, got " +
                     format_dims(target_shape_));
}

Shape Reshape::resolve_target(int64_t values_per_sample, const std::string& input_description) const {
  Shape resolved = target_shape_;
  int64_t known = 1;
  for (int64_t d : target_shape_)
    if (d != -1) known *= d;
  auto unknown = std::find(resolved.begin(), resolved.end(), -1);
  const bool fits = unknown != resolved.end() ? values_per_sample % known == 0 : values_per_sample == known;
  if (!fits)
    throw ShapeError(describe() + ": cannot reshape input of shape " + input_description + " (" +
                     std::to_string(values_per_sample) + " values per sample) to target_shape " +
                     format_dims(target_shape_));
  if (unknown != resolved.end()) *unknown = values_per_sample / known;
  return resolved;
}

at::Tensor Reshape::call(const at::Tensor& inputs, bool training) {
  const int64_t batch = inputs.size(0);
  const int64_t per_sample = batch == 0 ? 0 : inputs.numel() / batch;
  Shape target = resolve_target(per_sample, format_dims(inputs.sizes()));
  target.insert(target.begin(), batch);
  return inputs.reshape(target);
}

Shape Reshape::compute_output_shape(const Shape& input_shape) const {
  Shape per_sample(input_shape.begin() + 1, input_shape.end());
  Shape out = resolve_target(num_elements(per_sample), format_shape(input_shape));
  out.insert(out.begin(), input_shape[0]);
  return out;
}

nlohmann::json Reshape::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["target_shape"] = target_shape_;
  return config;
}

Flatten Flatten::from_config(const nlohmann::json& config) {
  Flatten layer(config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

Reshape Reshape::from_config(const nlohmann::json& config) {
  Reshape layer(config.at("target_shape").get<Shape>(), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
