#pragma once
// Convolution layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv2D and SeparableConv2D. data_format
// "channels_last" (Keras' default; NWC / NHWC / NDHWC) or "channels_first" (NCW / NCHW / NCDHW). Kernels are
// stored in Keras' layout (kernel_size..., in, out) whatever the data format, so get_weights/set_weights and
// saved files use Keras' shapes; a channels_last call permutes to ATen's channels-first convolution and back,
// a channels_first call hands its input to ATen as it is. "same" padding follows TensorFlow exactly: the total
// padding of an axis is max((ceil(in / stride) - 1) * stride + (k - 1) * dilation + 1 - in, 0), the odd pixel on
// the right.

#include <strata/core/activations.h>
#include <strata/core/initializers.h>
#include <strata/layers/layer.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace strata::layers {

// An int or a tuple, as Keras takes kernel_size, strides and dilation_rate: `3` or `{3, 3}`. A single value
// is used for every spatial axis. Default-constructed it is empty, which stands for None (output_padding).
class ConvTuple {
 public:
  ConvTuple() = default;
  ConvTuple(int64_t value) : values_{value} {}                              // NOLINT: `.strides = 2`
  ConvTuple(std::initializer_list<int64_t> values) : values_(values) {}     // `.strides = {2, 1}`
  ConvTuple(std::vector<int64_t> values) : values_(std::move(values)) {}   // NOLINT
  const std::vector<int64_t>& values() const { return values_; }
  bool empty() const { return values_.empty(); }

 private:
  std::vector<int64_t> values_;
};

// Conv1D / Conv2D / Conv3D keyword arguments, in Keras' order (filters and kernel_size are positional).
struct ConvOptions {
  ConvTuple strides = 1;
  std::string padding = "valid";  // "valid", "same", and "causal" for Conv1D
  std::string data_format = "channels_last";  // or "channels_first"
  ConvTuple dilation_rate = 1;
  int64_t groups = 1;  // input channels and filters must both be divisible by it
  activations::Function activation = "linear";
  bool use_bias = true;
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec kernel_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec kernel_constraint = {};
  constraints::Spec bias_constraint = {};
  std::string name = "";
};

// Conv1DTranspose / Conv2DTranspose / Conv3DTranspose keyword arguments, in Keras' order.
struct ConvTransposeOptions {
  ConvTuple strides = 1;
  std::string padding = "valid";  // "valid" or "same"
  ConvTuple output_padding = {};  // empty = None (Keras infers the length); each entry must be < its stride
  std::string data_format = "channels_last";
  ConvTuple dilation_rate = 1;
  activations::Function activation = "linear";
  bool use_bias = true;
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec kernel_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec kernel_constraint = {};
  constraints::Spec bias_constraint = {};
  std::string name = "";
};

struct DepthwiseConv2DOptions {
  ConvTuple strides = 1;
  std::string padding = "valid";
  int64_t depth_multiplier = 1;
  std::string data_format = "channels_last";
  ConvTuple dilation_rate = 1;
  activations::Function activation = "linear";
  bool use_bias = true;
  initializers::Spec depthwise_initializer = "glorot_uniform";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec depthwise_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec depthwise_constraint = {};
  constraints::Spec bias_constraint = {};
  std::string name = "";
};

struct SeparableConv2DOptions {
  ConvTuple strides = 1;
  std::string padding = "valid";
  std::string data_format = "channels_last";
  ConvTuple dilation_rate = 1;
  int64_t depth_multiplier = 1;
  activations::Function activation = "linear";
  bool use_bias = true;
  initializers::Spec depthwise_initializer = "glorot_uniform";
  initializers::Spec pointwise_initializer = "glorot_uniform";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec depthwise_regularizer = {};
  regularizers::Spec pointwise_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec depthwise_constraint = {};
  constraints::Spec pointwise_constraint = {};
  constraints::Spec bias_constraint = {};
  std::string name = "";
};

// What every convolution layer shares: spatial rank, kernel size, strides, padding, data format, dilation, and
// the shape arithmetic of Keras (TensorFlow) for them.
class ConvBase : public Layer {
 public:
  int64_t rank() const { return rank_; }  // number of spatial axes
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  const std::vector<int64_t>& dilation_rate() const { return dilation_rate_; }
  const std::string& padding() const { return padding_; }
  const std::string& data_format() const { return data_format_; }

 protected:
  ConvBase(std::string class_name, std::string name, int64_t rank, const ConvTuple& kernel_size,
           const ConvTuple& strides, std::string padding, const std::string& data_format,
           const ConvTuple& dilation_rate, bool allow_causal);

  // One entry per spatial axis from an int-or-tuple argument; throws ValueError naming `what` otherwise.
  std::vector<int64_t> expand(const ConvTuple& tuple, const char* what, int64_t min_value) const;
  // Throws ShapeError unless `input_shape` has rank() + 2 axes.
  void check_rank(const Shape& input_shape) const;
  bool channels_first() const { return data_format_ == "channels_first"; }
  // The axis holding the channels (1 or the last) and the axis of spatial axis i, for this data format.
  int64_t channel_axis() const { return channels_first() ? 1 : rank_ + 1; }
  int64_t spatial_axis(int64_t i) const { return channels_first() ? 2 + i : 1 + i; }
  // The size of the channel axis of a build shape; throws ShapeError when it is None.
  int64_t known_channels(const Shape& input_shape) const;
  // The input spec of a built layer: rank() + 2 axes and `channels` on the channel axis.
  void set_built_input_spec(int64_t channels);
  // An output shape in this data format from the batch size, spatial sizes and channels.
  Shape output_shape(int64_t batch, const std::vector<int64_t>& spatial, int64_t channels) const;
  // The kernel extent with dilation, (k - 1) * d + 1, of spatial axis i.
  int64_t dilated_kernel(int64_t i) const { return (kernel_size_[i] - 1) * dilation_rate_[i] + 1; }
  // Spatial output sizes of a forward convolution (None stays None); throws ShapeError when "valid" and an
  // axis is smaller than the dilated kernel, naming `input_description`.
  std::vector<int64_t> conv_output_sizes(const Shape& input_shape, const std::string& input_description) const;
  // The whole output shape of a forward convolution with `channels` output channels.
  Shape forward_output_shape(const Shape& input_shape, int64_t channels) const;
  // An input in this data format as ATen's channels-first layout, and an ATen result back in this format
  // (permutes for channels_last, the tensor itself for channels_first).
  at::Tensor to_aten_layout(const at::Tensor& x) const;
  at::Tensor from_aten_layout(const at::Tensor& y) const;
  // A Keras-layout kernel (kernel_size..., a, b) as ATen's (b, a, kernel_size...).
  at::Tensor kernel_to_aten(const at::Tensor& kernel) const;
  // ATen's convolution of channels-first `x` with this layer's strides, dilation and TF padding.
  at::Tensor convolve(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t groups) const;
  // `inputs` in the kernel's floating dtype; throws ValueError for integer inputs.
  at::Tensor cast_input(const at::Tensor& inputs, const at::Tensor& kernel) const;
  // kernel_size, strides, padding, data_format, dilation_rate as Keras writes them.
  void add_base_config(nlohmann::json& config) const;

  int64_t rank_;
  std::vector<int64_t> kernel_size_;
  std::vector<int64_t> strides_;
  std::string padding_;
  std::string data_format_;
  std::vector<int64_t> dilation_rate_;
};

// Conv1D/2D/3D: outputs = activation(conv(inputs, kernel) + bias); kernel (kernel_size..., in / groups, filters).
class Conv : public ConvBase {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  int64_t filters() const { return filters_; }
  int64_t groups() const { return options_.groups; }
  const at::Tensor& kernel() const { return kernel_; }
  const at::Tensor& bias() const { return bias_; }  // (filters,), undefined without use_bias

 protected:
  Conv(std::string class_name, int64_t rank, int64_t filters, const ConvTuple& kernel_size, ConvOptions options);
  void build(const Shape& input_shape) override;
  static ConvOptions options_from_config(const nlohmann::json& config);

 private:
  int64_t filters_;
  ConvOptions options_;
  at::Tensor kernel_;
  at::Tensor bias_;
};

class Conv1D : public Conv {
 public:
  Conv1D(int64_t filters, const ConvTuple& kernel_size, ConvOptions options = {});
  static Conv1D from_config(const nlohmann::json& config);
};

class Conv2D : public Conv {
 public:
  Conv2D(int64_t filters, const ConvTuple& kernel_size, ConvOptions options = {});
  static Conv2D from_config(const nlohmann::json& config);
};

class Conv3D : public Conv {
 public:
  Conv3D(int64_t filters, const ConvTuple& kernel_size, ConvOptions options = {});
  static Conv3D from_config(const nlohmann::json& config);
};

// Conv1D/2D/3DTranspose: the gradient of a convolution with respect to its input, with Keras' output length
// (valid: (in - 1) * s + max(k', s), same: in * s, or (in - 1) * s + k' - 2 * pad + output_padding when
// output_padding is given, k' the dilated kernel). Kernel (kernel_size..., filters, in).
class ConvTranspose : public ConvBase {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  int64_t filters() const { return filters_; }
  const std::vector<int64_t>& output_padding() const { return output_padding_; }  // empty = None
  const at::Tensor& kernel() const { return kernel_; }
  const at::Tensor& bias() const { return bias_; }

 protected:
  ConvTranspose(std::string class_name, int64_t rank, int64_t filters, const ConvTuple& kernel_size,
                ConvTransposeOptions options);
  void build(const Shape& input_shape) override;
  static ConvTransposeOptions options_from_config(const nlohmann::json& config);

 private:
  int64_t output_length(int64_t axis, int64_t input_length) const;

  int64_t filters_;
  ConvTransposeOptions options_;
  std::vector<int64_t> output_padding_;
  at::Tensor kernel_;
  at::Tensor bias_;
};

class Conv1DTranspose : public ConvTranspose {
 public:
  Conv1DTranspose(int64_t filters, const ConvTuple& kernel_size, ConvTransposeOptions options = {});
  static Conv1DTranspose from_config(const nlohmann::json& config);
};

class Conv2DTranspose : public ConvTranspose {
 public:
  Conv2DTranspose(int64_t filters, const ConvTuple& kernel_size, ConvTransposeOptions options = {});
  static Conv2DTranspose from_config(const nlohmann::json& config);
};

class Conv3DTranspose : public ConvTranspose {
 public:
  Conv3DTranspose(int64_t filters, const ConvTuple& kernel_size, ConvTransposeOptions options = {});
  static Conv3DTranspose from_config(const nlohmann::json& config);
};

// Each input channel convolved with depth_multiplier filters of its own; output channel c * dm + m.
// Weights: depthwise_kernel (kh, kw, in, depth_multiplier), bias (in * depth_multiplier,).
class DepthwiseConv2D : public ConvBase {
 public:
  explicit DepthwiseConv2D(const ConvTuple& kernel_size, DepthwiseConv2DOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static DepthwiseConv2D from_config(const nlohmann::json& config);

  int64_t depth_multiplier() const { return options_.depth_multiplier; }
  const at::Tensor& depthwise_kernel() const { return depthwise_kernel_; }
  const at::Tensor& bias() const { return bias_; }

 protected:
  void build(const Shape& input_shape) override;

 private:
  DepthwiseConv2DOptions options_;
  at::Tensor depthwise_kernel_;
  at::Tensor bias_;
};

// A depthwise convolution (with the padding and strides) followed by a 1x1 convolution to `filters`.
// Weights: depthwise_kernel (kh, kw, in, dm), pointwise_kernel (1, 1, in * dm, filters), bias (filters,).
class SeparableConv2D : public ConvBase {
 public:
  SeparableConv2D(int64_t filters, const ConvTuple& kernel_size, SeparableConv2DOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static SeparableConv2D from_config(const nlohmann::json& config);

  int64_t filters() const { return filters_; }
  int64_t depth_multiplier() const { return options_.depth_multiplier; }
  const at::Tensor& depthwise_kernel() const { return depthwise_kernel_; }
  const at::Tensor& pointwise_kernel() const { return pointwise_kernel_; }
  const at::Tensor& bias() const { return bias_; }

 protected:
  void build(const Shape& input_shape) override;

 private:
  int64_t filters_;
  SeparableConv2DOptions options_;
  at::Tensor depthwise_kernel_;
  at::Tensor pointwise_kernel_;
  at::Tensor bias_;
};

}  // namespace strata::layers
