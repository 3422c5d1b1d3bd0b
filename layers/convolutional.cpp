#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/convolutional.h>
#include <strata/layers/kernel_bias_config.h>
#include <strata/layers/registry.h>

#include <algorithm>
#include <cctype>

namespace strata::layers {
namespace {

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

// An int, a list, or null (None) from a Keras config.
ConvTuple tuple_from_json(const nlohmann::json& j) {
  if (j.is_null()) return {};
  if (j.is_number_integer()) return ConvTuple(j.get<int64_t>());
  return ConvTuple(j.get<std::vector<int64_t>>());
}

const char* spatial_layout(int64_t rank, bool channels_first) {
  switch (rank) {
    case 1: return channels_first ? "(batch, channels, steps)" : "(batch, steps, channels)";
    case 2: return channels_first ? "(batch, channels, rows, cols)" : "(batch, rows, cols, channels)";
    default: return channels_first ? "(batch, channels, dim1, dim2, dim3)" : "(batch, dim1, dim2, dim3, channels)";
  }
}

// Keras compares data_format in lower case.
std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// ConvBase

ConvBase::ConvBase(std::string class_name, std::string name, int64_t rank, const ConvTuple& kernel_size,
                   const ConvTuple& strides, std::string padding, const std::string& data_format,
                   const ConvTuple& dilation_rate, bool allow_causal)
    : Layer(std::move(class_name), std::move(name)), rank_(rank), padding_(std::move(padding)) {
  kernel_size_ = expand(kernel_size, "kernel_size", 1);
  strides_ = expand(strides, "strides", 1);
  dilation_rate_ = expand(dilation_rate, "dilation_rate", 1);
  const bool known = padding_ == "valid" || padding_ == "same" || (allow_causal && padding_ == "causal");
  if (!known)
    throw ValueError(describe() + ": padding must be " +
                     (allow_causal ? "\"valid\", \"same\" or \"causal\"" : "\"valid\" or \"same\"") + ", got " +
                     in_quotes(padding_));
  data_format_ = lower(data_format);
  if (data_format_ != "channels_last" && data_format_ != "channels_first")
    throw ValueError(describe() + ": data_format must be \"channels_last\" or \"channels_first\", got " +
                     in_quotes(data_format));
  set_input_spec({.ndim = rank_ + 2});
}

std::vector<int64_t> ConvBase::expand(const ConvTuple& tuple, const char* what, int64_t min_value) const {
  const auto& values = tuple.values();
  if (values.size() != 1 && static_cast<int64_t>(values.size()) != rank_)
    throw ValueError(describe() + ": " + what + " must be an int or a tuple of " + std::to_string(rank_) +
                     " ints, got " + format_dims(values));
  for (int64_t v : values)
    if (v < min_value)
      throw ValueError(describe() + ": every entry of " + what + " must be >= " + std::to_string(min_value) +
                       ", got " + format_dims(values));
  return values.size() == 1 ? std::vector<int64_t>(rank_, values[0]) : values;
}

void ConvBase::check_rank(const Shape& input_shape) const {
  if (static_cast<int64_t>(input_shape.size()) != rank_ + 2)
    throw ShapeError(describe() + ": expected input of rank " + std::to_string(rank_ + 2) + " " +
                     spatial_layout(rank_, channels_first()) + ", got shape " + format_shape(input_shape));
}

int64_t ConvBase::known_channels(const Shape& input_shape) const {
  check_rank(input_shape);
  const int64_t channels = input_shape[channel_axis()];
  if (channels == kNone)
    throw ShapeError(describe() + ": the channel dimension (axis " + std::to_string(channel_axis()) + ", " +
                     data_format_ + ") of the input must be known, got " + format_shape(input_shape));
  return channels;
}

void ConvBase::set_built_input_spec(int64_t channels) {
  set_input_spec({.ndim = rank_ + 2, .axes = {{channels_first() ? 1 : -1, channels}}});
}

Shape ConvBase::output_shape(int64_t batch, const std::vector<int64_t>& spatial, int64_t channels) const {
  Shape out{batch};
  if (channels_first()) out.push_back(channels);
  out.insert(out.end(), spatial.begin(), spatial.end());
  if (!channels_first()) out.push_back(channels);
  return out;
}

std::vector<int64_t> ConvBase::conv_output_sizes(const Shape& input_shape,
                                                 const std::string& input_description) const {
  std::vector<int64_t> out(rank_);
  for (int64_t i = 0; i < rank_; ++i) {
    const int64_t in = input_shape[spatial_axis(i)];
    if (in == kNone) {
      out[i] = kNone;
    } else if (padding_ == "valid") {
      const int64_t dk = dilated_kernel(i);
      if (in < dk) {
        std::vector<int64_t> dilated(rank_);
        for (int64_t j = 0; j < rank_; ++j) dilated[j] = dilated_kernel(j);
        throw ShapeError(describe() + ": with padding \"valid\" the kernel " + format_dims(kernel_size_) +
                         " (dilated " + format_dims(dilated) + ") is larger than the input " + input_description +
                         " along spatial axis " + std::to_string(i));
      }
      out[i] = (in - dk) / strides_[i] + 1;
    } else {  // same, causal
      out[i] = (in + strides_[i] - 1) / strides_[i];
    }
  }
  return out;
}

Shape ConvBase::forward_output_shape(const Shape& input_shape, int64_t channels) const {
  check_rank(input_shape);
  return output_shape(input_shape[0], conv_output_sizes(input_shape, format_shape(input_shape)), channels);
}

at::Tensor ConvBase::to_aten_layout(const at::Tensor& x) const {
  if (channels_first()) return x;
  std::vector<int64_t> perm{0, rank_ + 1};
  for (int64_t i = 1; i <= rank_; ++i) perm.push_back(i);
  return x.permute(perm);
}

at::Tensor ConvBase::from_aten_layout(const at::Tensor& y) const {
  if (channels_first()) return y;
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < rank_ + 2; ++i) perm.push_back(i);
  perm.push_back(1);
  return y.permute(perm).contiguous();
}

at::Tensor ConvBase::kernel_to_aten(const at::Tensor& kernel) const {
  std::vector<int64_t> perm{rank_ + 1, rank_};
  for (int64_t i = 0; i < rank_; ++i) perm.push_back(i);
  return kernel.permute(perm);
}

at::Tensor ConvBase::convolve(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              int64_t groups) const {
  std::vector<int64_t> left(rank_, 0), right(rank_, 0);
  for (int64_t i = 0; i < rank_; ++i) {
    const int64_t in = x.size(2 + i);
    const int64_t dk = dilated_kernel(i);
    if (padding_ == "same") {
      const int64_t out = (in + strides_[i] - 1) / strides_[i];
      const int64_t total = std::max<int64_t>((out - 1) * strides_[i] + dk - in, 0);
      left[i] = total / 2;  // TensorFlow puts the odd pixel on the right
      right[i] = total - left[i];
    } else if (padding_ == "causal") {
      left[i] = dk - 1;
    }
  }
  at::Tensor padded = x;
  std::vector<int64_t> symmetric = left;
  if (left != right) {
    std::vector<int64_t> pads;  // constant_pad_nd lists the last axis first
    for (int64_t i = rank_ - 1; i >= 0; --i) {
      pads.push_back(left[i]);
      pads.push_back(right[i]);
    }
    padded = at::constant_pad_nd(x, pads, 0);
    symmetric.assign(rank_, 0);
  }
  return at::convolution(padded, weight, bias, strides_, symmetric, dilation_rate_, /*transposed=*/false,
                         std::vector<int64_t>(rank_, 0), groups);
}

at::Tensor ConvBase::cast_input(const at::Tensor& inputs, const at::Tensor& kernel) const {
  if (!inputs.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
  return inputs.scalar_type() == kernel.scalar_type() ? inputs : inputs.to(kernel.scalar_type());
}

void ConvBase::add_base_config(nlohmann::json& config) const {
  config["kernel_size"] = kernel_size_;
  config["strides"] = strides_;
  config["padding"] = padding_;
  config["data_format"] = data_format_;
  config["dilation_rate"] = dilation_rate_;
}

// ---------------------------------------------------------------------------------------------------------------
// Conv1D / Conv2D / Conv3D

Conv::Conv(std::string class_name, int64_t rank, int64_t filters, const ConvTuple& kernel_size, ConvOptions options)
    : ConvBase(std::move(class_name), options.name, rank, kernel_size, options.strides, options.padding,
               options.data_format, options.dilation_rate, /*allow_causal=*/rank == 1),
      filters_(filters),
      options_(std::move(options)) {
  set_activity_regularizer(options_.activity_regularizer);
  if (filters_ <= 0) throw ValueError(describe() + ": expected filters > 0, got " + std::to_string(filters_));
  if (options_.groups <= 0)
    throw ValueError(describe() + ": expected groups > 0, got " + std::to_string(options_.groups));
  if (filters_ % options_.groups != 0)
    throw ValueError(describe() + ": filters (" + std::to_string(filters_) + ") must be divisible by groups (" +
                     std::to_string(options_.groups) + ")");
}

void Conv::build(const Shape& input_shape) {
  const int64_t channels = known_channels(input_shape);
  if (channels % options_.groups != 0)
    throw ShapeError(describe() + ": input channels (" + std::to_string(channels) + ") must be divisible by groups (" +
                     std::to_string(options_.groups) + "), got input shape " + format_shape(input_shape));
  Shape kernel_shape = kernel_size_;
  kernel_shape.push_back(channels / options_.groups);
  kernel_shape.push_back(filters_);
  kernel_ = add_weight("kernel", kernel_shape, options_.kernel_initializer, true, options_.kernel_regularizer,
                       options_.kernel_constraint);
  if (options_.use_bias)
    bias_ = add_weight("bias", {filters_}, options_.bias_initializer, true, options_.bias_regularizer,
                       options_.bias_constraint);
  set_built_input_spec(channels);
}

at::Tensor Conv::call(const at::Tensor& inputs, bool training) {
  const at::Tensor kernel = autocast(kernel_), bias = autocast(bias_);
  const at::Tensor x = cast_input(inputs, kernel);
  conv_output_sizes(shape_of(x), format_dims(x.sizes()));
  at::Tensor outputs = from_aten_layout(convolve(to_aten_layout(x), kernel_to_aten(kernel), bias, options_.groups));
  return options_.activation.is_linear() ? outputs : options_.activation(outputs);
}

Shape Conv::compute_output_shape(const Shape& input_shape) const {
  return forward_output_shape(input_shape, filters_);
}

nlohmann::json Conv::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["filters"] = filters_;
  add_base_config(config);
  config["groups"] = options_.groups;
  config["activation"] = options_.activation.name();
  config["use_bias"] = options_.use_bias;
  write_kernel_bias_config(options_, config);
  return config;
}

ConvOptions Conv::options_from_config(const nlohmann::json& config) {
  ConvOptions options{.activation = config.value("activation", "linear"), .use_bias = config.value("use_bias", true)};
  if (config.contains("strides")) options.strides = tuple_from_json(config.at("strides"));
  options.padding = config.value("padding", "valid");
  options.data_format = data_format_from(config);
  if (config.contains("dilation_rate")) options.dilation_rate = tuple_from_json(config.at("dilation_rate"));
  options.groups = config.value("groups", int64_t{1});
  read_kernel_bias_config(config, options);
  options.name = config.value("name", "");
  return options;
}

// A layer constructed as L(filters, kernel_size, options) from its Keras config.
template <class L, class Options>
L from_filters_config(const nlohmann::json& config, Options options) {
  L layer(config.at("filters").get<int64_t>(), tuple_from_json(config.at("kernel_size")), std::move(options));
  layer.apply_base_config(config);
  return layer;
}

Conv1D::Conv1D(int64_t filters, const ConvTuple& kernel_size, ConvOptions options)
    : Conv("Conv1D", 1, filters, kernel_size, std::move(options)) {}
Conv2D::Conv2D(int64_t filters, const ConvTuple& kernel_size, ConvOptions options)
    : Conv("Conv2D", 2, filters, kernel_size, std::move(options)) {}
Conv3D::Conv3D(int64_t filters, const ConvTuple& kernel_size, ConvOptions options)
    : Conv("Conv3D", 3, filters, kernel_size, std::move(options)) {}

Conv1D Conv1D::from_config(const nlohmann::json& config) {
  return from_filters_config<Conv1D>(config, options_from_config(config));
}
Conv2D Conv2D::from_config(const nlohmann::json& config) {
  return from_filters_config<Conv2D>(config, options_from_config(config));
}
Conv3D Conv3D::from_config(const nlohmann::json& config) {
  return from_filters_config<Conv3D>(config, options_from_config(config));
}

// ---------------------------------------------------------------------------------------------------------------
// Conv1DTranspose / Conv2DTranspose / Conv3DTranspose

ConvTranspose::ConvTranspose(std::string class_name, int64_t rank, int64_t filters, const ConvTuple& kernel_size,
                             ConvTransposeOptions options)
    : ConvBase(std::move(class_name), options.name, rank, kernel_size, options.strides, options.padding,
               options.data_format, options.dilation_rate, /*allow_causal=*/false),
      filters_(filters),
      options_(std::move(options)) {
  set_activity_regularizer(options_.activity_regularizer);
  if (filters_ <= 0) throw ValueError(describe() + ": expected filters > 0, got " + std::to_string(filters_));
  if (!options_.output_padding.empty()) {
    output_padding_ = expand(options_.output_padding, "output_padding", 0);
    for (int64_t i = 0; i < rank_; ++i)
      if (output_padding_[i] >= strides_[i])
        throw ValueError(describe() + ": every entry of output_padding must be smaller than the stride, got " +
                         "output_padding " + format_dims(output_padding_) + " with strides " + format_dims(strides_));
  }
}

int64_t ConvTranspose::output_length(int64_t axis, int64_t input_length) const {
  if (input_length == kNone) return kNone;
  const int64_t dk = dilated_kernel(axis);
  const int64_t s = strides_[axis];
  if (output_padding_.empty())
    return padding_ == "valid" ? input_length * s + std::max<int64_t>(dk - s, 0) : input_length * s;
  const int64_t pad = padding_ == "same" ? dk / 2 : 0;
  return (input_length - 1) * s + dk - 2 * pad + output_padding_[axis];
}

void ConvTranspose::build(const Shape& input_shape) {
  const int64_t channels = known_channels(input_shape);
  compute_output_shape(input_shape);
  Shape kernel_shape = kernel_size_;
  kernel_shape.push_back(filters_);
  kernel_shape.push_back(channels);
  kernel_ = add_weight("kernel", kernel_shape, options_.kernel_initializer, true, options_.kernel_regularizer,
                       options_.kernel_constraint);
  if (options_.use_bias)
    bias_ = add_weight("bias", {filters_}, options_.bias_initializer, true, options_.bias_regularizer,
                       options_.bias_constraint);
  set_built_input_spec(channels);
}

at::Tensor ConvTranspose::call(const at::Tensor& inputs, bool training) {
  const at::Tensor kernel = autocast(kernel_), bias = autocast(bias_);
  const at::Tensor x = cast_input(inputs, kernel);
  compute_output_shape(shape_of(x));  // rejects an input whose output would be empty
  // The full transposed convolution puts input i, tap t at position i * s + t * d, length (in - 1) * s + k'.
  // TensorFlow's output position is that minus pad_left, where pad_left is the left padding of the forward
  // convolution that maps the output back to the input; positions past the full length are zeros.
  std::vector<int64_t> left(rank_), right(rank_);
  bool symmetric = true;
  for (int64_t i = 0; i < rank_; ++i) {
    const int64_t in = x.size(spatial_axis(i));
    const int64_t full = (in - 1) * strides_[i] + dilated_kernel(i);
    const int64_t length = output_length(i, in);
    const int64_t total = std::max<int64_t>(full - length, 0);
    left[i] = padding_ == "same" ? total / 2 : 0;
    right[i] = full - left[i] - length;  // cropped from the right; negative means zeros appended
    symmetric = symmetric && right[i] == left[i];
  }
  const std::vector<int64_t> zeros(rank_, 0);
  at::Tensor y = at::convolution(to_aten_layout(x), kernel_to_aten(kernel), at::Tensor(), strides_,
                                 symmetric ? left : zeros, dilation_rate_, /*transposed=*/true, zeros, 1);
  if (!symmetric) {
    std::vector<int64_t> pads;  // negative pads crop
    for (int64_t i = rank_ - 1; i >= 0; --i) {
      pads.push_back(-left[i]);
      pads.push_back(-right[i]);
    }
    y = at::constant_pad_nd(y, pads, 0);
  }
  at::Tensor outputs = from_aten_layout(y);
  // Added after the crop so that appended zero positions get the bias too; channels_first broadcasts it
  // along axis 1.
  if (bias.defined()) {
    std::vector<int64_t> bias_shape{filters_};
    if (channels_first()) bias_shape.resize(rank_ + 1, 1);
    outputs = outputs + bias.view(bias_shape);
  }
  return options_.activation.is_linear() ? outputs : options_.activation(outputs);
}

Shape ConvTranspose::compute_output_shape(const Shape& input_shape) const {
  check_rank(input_shape);
  std::vector<int64_t> spatial;
  for (int64_t i = 0; i < rank_; ++i) {
    const int64_t length = output_length(i, input_shape[spatial_axis(i)]);
    if (length != kNone && length <= 0)
      throw ShapeError(describe() + ": input " + format_shape(input_shape) + " gives an empty output along spatial axis " +
                       std::to_string(i));
    spatial.push_back(length);
  }
  return output_shape(input_shape[0], spatial, filters_);
}

nlohmann::json ConvTranspose::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["filters"] = filters_;
  add_base_config(config);
  config["output_padding"] = output_padding_.empty() ? nlohmann::json(nullptr) : nlohmann::json(output_padding_);
  config["activation"] = options_.activation.name();
  config["use_bias"] = options_.use_bias;
  write_kernel_bias_config(options_, config);
  return config;
}

ConvTransposeOptions ConvTranspose::options_from_config(const nlohmann::json& config) {
  ConvTransposeOptions options{.activation = config.value("activation", "linear"),
                               .use_bias = config.value("use_bias", true)};
  if (config.contains("strides")) options.strides = tuple_from_json(config.at("strides"));
  options.padding = config.value("padding", "valid");
  if (config.contains("output_padding")) options.output_padding = tuple_from_json(config.at("output_padding"));
  options.data_format = data_format_from(config);
  if (config.contains("dilation_rate")) options.dilation_rate = tuple_from_json(config.at("dilation_rate"));
  read_kernel_bias_config(config, options);
  options.name = config.value("name", "");
  return options;
}

Conv1DTranspose::Conv1DTranspose(int64_t filters, const ConvTuple& kernel_size, ConvTransposeOptions options)
    : ConvTranspose("Conv1DTranspose", 1, filters, kernel_size, std::move(options)) {}
Conv2DTranspose::Conv2DTranspose(int64_t filters, const ConvTuple& kernel_size, ConvTransposeOptions options)
    : ConvTranspose("Conv2DTranspose", 2, filters, kernel_size, std::move(options)) {}
Conv3DTranspose::Conv3DTranspose(int64_t filters, const ConvTuple& kernel_size, ConvTransposeOptions options)
    : ConvTranspose("Conv3DTranspose", 3, filters, kernel_size, std::move(options)) {}

Conv1DTranspose Conv1DTranspose::from_config(const nlohmann::json& config) {
  return from_filters_config<Conv1DTranspose>(config, options_from_config(config));
}
Conv2DTranspose Conv2DTranspose::from_config(const nlohmann::json& config) {
  return from_filters_config<Conv2DTranspose>(config, options_from_config(config));
}
Conv3DTranspose Conv3DTranspose::from_config(const nlohmann::json& config) {
  return from_filters_config<Conv3DTranspose>(config, options_from_config(config));
}

// ---------------------------------------------------------------------------------------------------------------
// DepthwiseConv2D

namespace {

// (kh, kw, in, dm) in Keras' layout as ATen's grouped weight (in * dm, 1, kh, kw); output channel c * dm + m.
at::Tensor depthwise_to_aten(const at::Tensor& kernel) {
  return kernel.reshape({kernel.size(0), kernel.size(1), 1, kernel.size(2) * kernel.size(3)}).permute({3, 2, 0, 1});
}

}  // namespace

DepthwiseConv2D::DepthwiseConv2D(const ConvTuple& kernel_size, DepthwiseConv2DOptions options)
    : ConvBase("DepthwiseConv2D", options.name, 2, kernel_size, options.strides, options.padding, options.data_format,
               options.dilation_rate, /*allow_causal=*/false),
      options_(std::move(options)) {
  set_activity_regularizer(options_.activity_regularizer);
  if (options_.depth_multiplier <= 0)
    throw ValueError(describe() + ": expected depth_multiplier > 0, got " + std::to_string(options_.depth_multiplier));
}

void DepthwiseConv2D::build(const Shape& input_shape) {
  const int64_t channels = known_channels(input_shape);
  depthwise_kernel_ = add_weight("depthwise_kernel", {kernel_size_[0], kernel_size_[1], channels, options_.depth_multiplier},
                                 options_.depthwise_initializer, true, options_.depthwise_regularizer,
                                 options_.depthwise_constraint);
  if (options_.use_bias)
    bias_ = add_weight("bias", {channels * options_.depth_multiplier}, options_.bias_initializer, true,
                       options_.bias_regularizer, options_.bias_constraint);
  set_built_input_spec(channels);
}

at::Tensor DepthwiseConv2D::call(const at::Tensor& inputs, bool training) {
  const at::Tensor depthwise_kernel = autocast(depthwise_kernel_), bias = autocast(bias_);
  const at::Tensor x = cast_input(inputs, depthwise_kernel);
  conv_output_sizes(shape_of(x), format_dims(x.sizes()));
  at::Tensor outputs = from_aten_layout(
      convolve(to_aten_layout(x), depthwise_to_aten(depthwise_kernel), bias, depthwise_kernel.size(2)));
  return options_.activation.is_linear() ? outputs : options_.activation(outputs);
}

Shape DepthwiseConv2D::compute_output_shape(const Shape& input_shape) const {
  check_rank(input_shape);
  const int64_t channels = input_shape[channel_axis()];
  return forward_output_shape(input_shape, channels == kNone ? kNone : channels * options_.depth_multiplier);
}

nlohmann::json DepthwiseConv2D::get_config() const {
  nlohmann::json config = Layer::get_config();
  add_base_config(config);
  config["depth_multiplier"] = options_.depth_multiplier;
  config["activation"] = options_.activation.name();
  config["use_bias"] = options_.use_bias;
  config["depthwise_initializer"] = initializers::serialize(*options_.depthwise_initializer);
  config["bias_initializer"] = initializers::serialize(*options_.bias_initializer);
  config["depthwise_regularizer"] = regularizers::serialize(options_.depthwise_regularizer);
  config["bias_regularizer"] = regularizers::serialize(options_.bias_regularizer);
  config["activity_regularizer"] = regularizers::serialize(options_.activity_regularizer);
  config["depthwise_constraint"] = constraints::serialize(options_.depthwise_constraint);
  config["bias_constraint"] = constraints::serialize(options_.bias_constraint);
  return config;
}

DepthwiseConv2D DepthwiseConv2D::from_config(const nlohmann::json& config) {
  DepthwiseConv2DOptions options{.activation = config.value("activation", "linear"),
                                 .use_bias = config.value("use_bias", true)};
  if (config.contains("strides")) options.strides = tuple_from_json(config.at("strides"));
  options.padding = config.value("padding", "valid");
  options.depth_multiplier = config.value("depth_multiplier", int64_t{1});
  options.data_format = data_format_from(config);
  if (config.contains("dilation_rate")) options.dilation_rate = tuple_from_json(config.at("dilation_rate"));
  options.depthwise_initializer = initializer_from(config, "depthwise_initializer", options.depthwise_initializer);
  options.bias_initializer = initializer_from(config, "bias_initializer", options.bias_initializer);
  options.depthwise_regularizer = regularizer_from(config, "depthwise_regularizer");
  options.bias_regularizer = regularizer_from(config, "bias_regularizer");
  options.activity_regularizer = regularizer_from(config, "activity_regularizer");
  options.depthwise_constraint = constraint_from(config, "depthwise_constraint");
  options.bias_constraint = constraint_from(config, "bias_constraint");
  options.name = config.value("name", "");
  DepthwiseConv2D layer(tuple_from_json(config.at("kernel_size")), std::move(options));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// SeparableConv2D

SeparableConv2D::SeparableConv2D(int64_t filters, const ConvTuple& kernel_size, SeparableConv2DOptions options)
    : ConvBase("SeparableConv2D", options.name, 2, kernel_size, options.strides, options.padding, options.data_format,
               options.dilation_rate, /*allow_causal=*/false),
      filters_(filters),
      options_(std::move(options)) {
  set_activity_regularizer(options_.activity_regularizer);
  if (filters_ <= 0) throw ValueError(describe() + ": expected filters > 0, got " + std::to_string(filters_));
  if (options_.depth_multiplier <= 0)
    throw ValueError(describe() + ": expected depth_multiplier > 0, got " + std::to_string(options_.depth_multiplier));
}

void SeparableConv2D::build(const Shape& input_shape) {
  const int64_t channels = known_channels(input_shape);
  const int64_t dm = options_.depth_multiplier;
  depthwise_kernel_ = add_weight("depthwise_kernel", {kernel_size_[0], kernel_size_[1], channels, dm},
                                 options_.depthwise_initializer, true, options_.depthwise_regularizer,
                                 options_.depthwise_constraint);
  pointwise_kernel_ = add_weight("pointwise_kernel", {1, 1, channels * dm, filters_}, options_.pointwise_initializer,
                                 true, options_.pointwise_regularizer, options_.pointwise_constraint);
  if (options_.use_bias)
    bias_ = add_weight("bias", {filters_}, options_.bias_initializer, true, options_.bias_regularizer,
                       options_.bias_constraint);
  set_built_input_spec(channels);
}

at::Tensor SeparableConv2D::call(const at::Tensor& inputs, bool training) {
  const at::Tensor depthwise_kernel = autocast(depthwise_kernel_), pointwise_kernel = autocast(pointwise_kernel_),
                   bias = autocast(bias_);
  const at::Tensor x = cast_input(inputs, depthwise_kernel);
  conv_output_sizes(shape_of(x), format_dims(x.sizes()));
  const at::Tensor depthwise =
      convolve(to_aten_layout(x), depthwise_to_aten(depthwise_kernel), at::Tensor(), depthwise_kernel.size(2));
  const at::Tensor pointwise = at::convolution(depthwise, kernel_to_aten(pointwise_kernel), bias, {1, 1}, {0, 0},
                                               {1, 1}, /*transposed=*/false, {0, 0}, 1);
  at::Tensor outputs = from_aten_layout(pointwise);
  return options_.activation.is_linear() ? outputs : options_.activation(outputs);
}

Shape SeparableConv2D::compute_output_shape(const Shape& input_shape) const {
  return forward_output_shape(input_shape, filters_);
}

nlohmann::json SeparableConv2D::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["filters"] = filters_;
  add_base_config(config);
  config["depth_multiplier"] = options_.depth_multiplier;
  config["activation"] = options_.activation.name();
  config["use_bias"] = options_.use_bias;
  config["depthwise_initializer"] = initializers::serialize(*options_.depthwise_initializer);
  config["pointwise_initializer"] = initializers::serialize(*options_.pointwise_initializer);
  config["bias_initializer"] = initializers::serialize(*options_.bias_initializer);
  config["depthwise_regularizer"] = regularizers::serialize(options_.depthwise_regularizer);
  config["pointwise_regularizer"] = regularizers::serialize(options_.pointwise_regularizer);
  config["bias_regularizer"] = regularizers::serialize(options_.bias_regularizer);
  config["activity_regularizer"] = regularizers::serialize(options_.activity_regularizer);
  config["depthwise_constraint"] = constraints::serialize(options_.depthwise_constraint);
  config["pointwise_constraint"] = constraints::serialize(options_.pointwise_constraint);
  config["bias_constraint"] = constraints::serialize(options_.bias_constraint);
  return config;
}

SeparableConv2D SeparableConv2D::from_config(const nlohmann::json& config) {
  SeparableConv2DOptions options{.activation = config.value("activation", "linear"),
                                 .use_bias = config.value("use_bias", true)};
  if (config.contains("strides")) options.strides = tuple_from_json(config.at("strides"));
  options.padding = config.value("padding", "valid");
  options.data_format = data_format_from(config);
  if (config.contains("dilation_rate")) options.dilation_rate = tuple_from_json(config.at("dilation_rate"));
  options.depth_multiplier = config.value("depth_multiplier", int64_t{1});
  options.depthwise_initializer = initializer_from(config, "depthwise_initializer", options.depthwise_initializer);
  options.pointwise_initializer = initializer_from(config, "pointwise_initializer", options.pointwise_initializer);
  options.bias_initializer = initializer_from(config, "bias_initializer", options.bias_initializer);
  options.depthwise_regularizer = regularizer_from(config, "depthwise_regularizer");
  options.pointwise_regularizer = regularizer_from(config, "pointwise_regularizer");
  options.bias_regularizer = regularizer_from(config, "bias_regularizer");
  options.activity_regularizer = regularizer_from(config, "activity_regularizer");
  options.depthwise_constraint = constraint_from(config, "depthwise_constraint");
  options.pointwise_constraint = constraint_from(config, "pointwise_constraint");
  options.bias_constraint = constraint_from(config, "bias_constraint");
  options.name = config.value("name", "");
  SeparableConv2D layer(config.at("filters").get<int64_t>(), tuple_from_json(config.at("kernel_size")),
                        std::move(options));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
