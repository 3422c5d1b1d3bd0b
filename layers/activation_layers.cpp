#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/activation_layers.h>
#include <strata/layers/registry.h>

namespace strata::layers {

ReLU::ReLU(ReLUOptions options) : Layer("ReLU", options.name), options_(std::move(options)) {
  set_supports_masking(true);
  if (options_.max_value && *options_.max_value < 0.0)
    throw ValueError(describe() + ": expected max_value >= 0, got " + std::to_string(*options_.max_value));
  if (options_.negative_slope < 0.0)
    throw ValueError(describe() + ": expected negative_slope >= 0, got " + std::to_string(options_.negative_slope));
}

at::Tensor ReLU::call(const at::Tensor& inputs, bool training) {
  at::Tensor out;
  if (options_.negative_slope == 0.0 && options_.threshold == 0.0) {
    out = at::relu(inputs);
  } else {
    at::Tensor below = options_.negative_slope * (inputs - options_.threshold);
    out = at::where(inputs >= options_.threshold, inputs, below);
  }
  return options_.max_value ? at::clamp_max(out, *options_.max_value) : out;
}

nlohmann::json ReLU::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["max_value"] = options_.max_value ? nlohmann::json(*options_.max_value) : nlohmann::json(nullptr);
  config["negative_slope"] = options_.negative_slope;
  config["threshold"] = options_.threshold;
  return config;
}

ReLU ReLU::from_config(const nlohmann::json& config) {
  ReLUOptions options{.negative_slope = config.value("negative_slope", 0.0),
                      .threshold = config.value("threshold", 0.0),
                      .name = config.value("name", "")};
  if (config.contains("max_value") && !config.at("max_value").is_null())
    options.max_value = config.at("max_value").get<double>();
  ReLU layer(std::move(options));
  layer.apply_base_config(config);
  return layer;
}

LeakyReLU::LeakyReLU(double negative_slope, std::string name)
    : Layer("LeakyReLU", std::move(name)), negative_slope_(negative_slope) {
  set_supports_masking(true);
  if (negative_slope_ < 0.0)
    throw ValueError(describe() + ": expected negative_slope >= 0, got " + std::to_string(negative_slope_));
}

at::Tensor LeakyReLU::call(const at::Tensor& inputs, bool training) { return at::leaky_relu(inputs, negative_slope_); }

nlohmann::json LeakyReLU::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["negative_slope"] = negative_slope_;
  return config;
}

LeakyReLU LeakyReLU::from_config(const nlohmann::json& config) {
  // tf.keras called the slope `alpha`; both spellings load.
  LeakyReLU layer(config.value("negative_slope", config.value("alpha", 0.3)), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

PReLU::PReLU(PReLUOptions options) : Layer("PReLU", options.name), options_(std::move(options)) {
  set_supports_masking(true);
  set_input_spec({.min_ndim = 2});
}

void PReLU::build(const Shape& input_shape) {
  Shape alpha_shape(input_shape.begin() + 1, input_shape.end());
  for (int64_t axis : options_.shared_axes) {
    if (axis < 1 || axis >= static_cast<int64_t>(input_shape.size()))
      throw ValueError(describe() + ": shared_axes entries must be in [1, " + std::to_string(input_shape.size() - 1) +
                       "] for inputs " + format_shape(input_shape) + ", got " + std::to_string(axis));
    alpha_shape[axis - 1] = 1;
  }
  for (int64_t d : alpha_shape)
    if (d == kNone)
      throw ShapeError(describe() + ": every non-shared axis must be known, got inputs " + format_shape(input_shape));
  alpha_ = add_weight("alpha", alpha_shape, options_.alpha_initializer, true, options_.alpha_regularizer,
                      options_.alpha_constraint);
}

at::Tensor PReLU::call(const at::Tensor& inputs, bool training) {
  return at::relu(inputs) - autocast(alpha_) * at::relu(-inputs);
}

nlohmann::json PReLU::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["alpha_initializer"] = initializers::serialize(*options_.alpha_initializer);
  config["alpha_regularizer"] = regularizers::serialize(options_.alpha_regularizer);
  config["alpha_constraint"] = constraints::serialize(options_.alpha_constraint);
  config["shared_axes"] = options_.shared_axes.empty() ? nlohmann::json(nullptr) : nlohmann::json(options_.shared_axes);
  return config;
}

PReLU PReLU::from_config(const nlohmann::json& config) {
  PReLUOptions options{.name = config.value("name", "")};
  options.alpha_initializer = initializer_from(config, "alpha_initializer", options.alpha_initializer);
  options.alpha_regularizer = regularizer_from(config, "alpha_regularizer");
  options.alpha_constraint = constraint_from(config, "alpha_constraint");
  if (config.contains("shared_axes") && !config.at("shared_axes").is_null())
    options.shared_axes = config.at("shared_axes").get<std::vector<int64_t>>();
  PReLU layer(std::move(options));
  layer.apply_base_config(config);
  return layer;
}

ELU::ELU(double alpha, std::string name) : Layer("ELU", std::move(name)), alpha_(alpha) { set_supports_masking(true); }

at::Tensor ELU::call(const at::Tensor& inputs, bool training) { return at::elu(inputs, alpha_); }

nlohmann::json ELU::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["alpha"] = alpha_;
  return config;
}

ELU ELU::from_config(const nlohmann::json& config) {
  ELU layer(config.value("alpha", 1.0), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

Softmax::Softmax(int64_t axis, std::string name) : Layer("Softmax", std::move(name)), axis_(axis) {
  set_supports_masking(true);
}

at::Tensor Softmax::call(const at::Tensor& inputs, bool training) {
  if (axis_ >= inputs.dim() || axis_ < -inputs.dim())
    throw ShapeError(describe() + ": axis " + std::to_string(axis_) + " is out of range for input shape " +
                     format_dims(inputs.sizes()));
  return at::softmax(inputs, axis_);
}

nlohmann::json Softmax::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["axis"] = axis_;
  return config;
}

Softmax Softmax::from_config(const nlohmann::json& config) {
  Softmax layer(config.value("axis", int64_t{-1}), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
