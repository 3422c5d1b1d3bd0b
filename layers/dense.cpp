#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/dense.h>
#include <strata/layers/kernel_bias_config.h>
#include <strata/layers/registry.h>

namespace strata::layers {

Dense::Dense(int64_t units, DenseOptions options) : Layer("Dense", options.name), units_(units), options_(std::move(options)) {
  if (units_ <= 0) throw ValueError(describe() + ": expected units > 0, got " + std::to_string(units_));
  set_input_spec({.min_ndim = 2});
  set_activity_regularizer(options_.activity_regularizer);
  set_supports_masking(true);
}

void Dense::build(const Shape& input_shape) {
  const int64_t input_dim = input_shape.back();
  if (input_dim == kNone)
    throw ShapeError(describe() + ": the last dimension of the input must be known, got " + format_shape(input_shape));
  kernel_ = add_weight("kernel", {input_dim, units_}, options_.kernel_initializer, true, options_.kernel_regularizer,
                       options_.kernel_constraint);
  if (options_.use_bias) bias_ = add_weight("bias", {units_}, options_.bias_initializer, true, options_.bias_regularizer,
                       options_.bias_constraint);
  set_input_spec({.min_ndim = 2, .axes = {{-1, input_dim}}});
}

at::Tensor Dense::call(const at::Tensor& inputs, bool training) {
  if (!inputs.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point input, got dtype " + std::string(c10::toString(inputs.scalar_type())));
  // Floating inputs of another precision (float64 data) are cast to the kernel's dtype, as Keras' autocast does.
  const at::Tensor kernel = autocast(kernel_), bias = autocast(bias_);
  const at::Tensor x = inputs.scalar_type() == kernel.scalar_type() ? inputs : inputs.to(kernel.scalar_type());
  at::Tensor outputs;
  if (x.dim() == 2 && bias.defined()) {
    outputs = at::addmm(bias, x, kernel);  // one fused kernel for the common 2-D case
  } else {
    outputs = at::matmul(x, kernel);
    if (bias.defined()) outputs = outputs + bias;
  }
  return options_.activation.is_linear() ? outputs : options_.activation(outputs);
}

Shape Dense::compute_output_shape(const Shape& input_shape) const {
  Shape out = input_shape;
  out.back() = units_;
  return out;
}

nlohmann::json Dense::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["units"] = units_;
  config["activation"] = options_.activation.name();
  config["use_bias"] = options_.use_bias;
  write_kernel_bias_config(options_, config);
  return config;
}

Dense Dense::from_config(const nlohmann::json& config) {
  DenseOptions options{.activation = config.value("activation", "linear"), .use_bias = config.value("use_bias", true)};
  read_kernel_bias_config(config, options);
  options.name = config.value("name", "");
  Dense layer(config.at("units").get<int64_t>(), std::move(options));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
