#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/distribute/strategy.h>
#include <strata/layers/normalization.h>
#include <strata/layers/registry.h>

#include <algorithm>

namespace strata::layers {
namespace {

std::string format_list(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

// `axis` (negative counts from the end) as an index into a shape of `rank`; ValueError when outside it.
int64_t resolve_axis(const std::string& who, int64_t axis, const Shape& input_shape) {
  const int64_t rank = static_cast<int64_t>(input_shape.size());
  const int64_t index = axis < 0 ? rank + axis : axis;
  if (index < 0 || index >= rank)
    throw ValueError(who + ": axis " + std::to_string(axis) + " is out of range for an input of rank " +
                     std::to_string(rank) + " (shape " + format_shape(input_shape) + ")");
  return index;
}

// Several axes resolved, sorted; duplicates are a ValueError.
std::vector<int64_t> resolve_axes(const std::string& who, const std::vector<int64_t>& axes, const Shape& input_shape) {
  std::vector<int64_t> out;
  for (int64_t a : axes) out.push_back(resolve_axis(who, a, input_shape));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw ValueError(who + ": axis " + format_list(axes) + " names an axis twice for an input of shape " +
                     format_shape(input_shape));
  return out;
}

int64_t known_size(const std::string& who, const Shape& input_shape, int64_t axis) {
  if (input_shape[axis] == kNone)
    throw ShapeError(who + ": axis " + std::to_string(axis) + " of the input must have a known size, got shape " +
                     format_shape(input_shape));
  return input_shape[axis];
}

void check_epsilon(const std::string& who, double epsilon) {
  if (!(epsilon > 0)) throw ValueError(who + ": expected epsilon > 0, got " + std::to_string(epsilon));
}

void check_axes_given(const std::string& who, const std::vector<int64_t>& axes) {
  if (axes.empty()) throw ValueError(who + ": expected at least one axis, got an empty axis list");
}

// Casts a floating input to the weights' dtype (Keras' autocast); rejects integer inputs.
at::Tensor floating_input(const std::string& who, const at::Tensor& inputs, at::ScalarType dtype) {
  if (!inputs.is_floating_point())
    throw ValueError(who + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
  return inputs.scalar_type() == dtype ? inputs : inputs.to(dtype);
}

// Keras 3 normalizes float16/bfloat16 inputs in float32 (their statistics overflow or lose too much in half
// precision) and hands the result back in the input's dtype, the layer's compute dtype under a mixed policy.
at::Tensor in_dtype_of(const at::Tensor& inputs, const at::Tensor& out) {
  const bool half = inputs.scalar_type() == at::kHalf || inputs.scalar_type() == at::kBFloat16;
  return half && out.scalar_type() != inputs.scalar_type() ? out.to(inputs.scalar_type()) : out;
}

// Keras writes an axis list of one as a plain int; configs may hold either.
std::vector<int64_t> json_axes(const nlohmann::json& value) {
  if (value.is_number_integer()) return {value.get<int64_t>()};
  return value.get<std::vector<int64_t>>();
}
nlohmann::json axes_json(const std::vector<int64_t>& axes) {
  if (axes.size() == 1) return axes[0];
  return axes;
}

template <class Options>
void write_regularizers(nlohmann::json& config, const Options& options) {
  config["beta_regularizer"] = regularizers::serialize(options.beta_regularizer);
  config["gamma_regularizer"] = regularizers::serialize(options.gamma_regularizer);
  config["beta_constraint"] = constraints::serialize(options.beta_constraint);
  config["gamma_constraint"] = constraints::serialize(options.gamma_constraint);
}

template <class Options>
void read_common(const nlohmann::json& config, Options& options) {
  options.epsilon = config.value("epsilon", 1e-3);
  options.center = config.value("center", true);
  options.scale = config.value("scale", true);
  options.beta_initializer = initializer_from(config, "beta_initializer", options.beta_initializer);
  options.gamma_initializer = initializer_from(config, "gamma_initializer", options.gamma_initializer);
  options.beta_regularizer = regularizer_from(config, "beta_regularizer");
  options.gamma_regularizer = regularizer_from(config, "gamma_regularizer");
  options.beta_constraint = constraint_from(config, "beta_constraint");
  options.gamma_constraint = constraint_from(config, "gamma_constraint");
  options.name = config.value("name", "");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// BatchNormalization

BatchNormalization::BatchNormalization(BatchNormalizationOptions options)
    : Layer("BatchNormalization", options.name), options_(std::move(options)) {
  set_supports_masking(true);
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw ValueError(describe() + ": expected momentum in [0, 1], got " + std::to_string(options_.momentum));
  check_epsilon(describe(), options_.epsilon);
  set_input_spec({.min_ndim = 2});
}

void BatchNormalization::build(const Shape& input_shape) {
  axis_ = resolve_axis(describe(), options_.axis, input_shape);
  const int64_t channels = known_size(describe(), input_shape, axis_);
  if (options_.scale) gamma_ = add_weight("gamma", {channels}, options_.gamma_initializer, true, options_.gamma_regularizer,
                                           options_.gamma_constraint);
  if (options_.center) beta_ = add_weight("beta", {channels}, options_.beta_initializer, true, options_.beta_regularizer,
                                          options_.beta_constraint);
  moving_mean_ = add_weight("moving_mean", {channels}, options_.moving_mean_initializer, false);
  moving_variance_ = add_weight("moving_variance", {channels}, options_.moving_variance_initializer, false);
  set_input_spec({.ndim = static_cast<int64_t>(input_shape.size()), .axes = {{axis_, channels}}});
}

at::Tensor BatchNormalization::call(const at::Tensor& inputs, bool training) {
  const at::Tensor x = floating_input(describe(), inputs, moving_mean_.scalar_type());
  // ATen's batch_norm wants the channels on axis 1. Moving the channels_last axis there gives a view in ATen's
  // channels_last memory format, which its CPU kernels take as it is; the result moved back is contiguous again.
  const at::Tensor x_cf = axis_ == 1 ? x : x.movedim(axis_, 1);
  at::Tensor out;
  if (training && trainable() && options_.synchronized && distribute::current_strategy().distributed()) {
    out = synchronized_batch_norm(x_cf);
  } else if (training && trainable()) {
    // native_batch_norm also returns the batch mean and 1 / sqrt(variance + epsilon) it normalized with; the
    // moving statistics are updated from those instead of a second (and on CPU slow) var_mean pass.
    at::Tensor mean, inv_std;
    std::tie(out, mean, inv_std) =
        at::native_batch_norm(x_cf, gamma_, beta_, {}, {}, /*training=*/true, 0.0, options_.epsilon);
    at::NoGradGuard no_grad;
    const at::Tensor variance = inv_std.detach().pow(-2).sub_(options_.epsilon).clamp_min_(0);  // biased, as Keras
    const double m = options_.momentum;
    moving_mean_.mul_(m).add_(mean.detach(), 1.0 - m);
    moving_variance_.mul_(m).add_(variance, 1.0 - m);
  } else {
    out = at::batch_norm(x_cf, gamma_, beta_, moving_mean_, moving_variance_, /*training=*/false, 0.0,
                         options_.epsilon, true);
  }
  // contiguous() is a no-op for channels_last inputs
  return in_dtype_of(inputs, (axis_ == 1 ? out : out.movedim(1, axis_)).contiguous());
}

at::Tensor BatchNormalization::synchronized_batch_norm(const at::Tensor& x_cf) {
  // One all-reduce of [sum x, sum x^2, count] per channel gives the global batch's mean and biased variance.
  const distribute::Strategy strategy = distribute::current_strategy();
  std::vector<int64_t> reduce_dims;
  std::vector<int64_t> channel_shape(static_cast<size_t>(x_cf.dim()), 1);
  for (int64_t d = 0; d < x_cf.dim(); ++d)
    if (d != 1) reduce_dims.push_back(d);
  const int64_t channels = x_cf.size(1);
  channel_shape[1] = channels;
  // The sums are taken in float64: E[x^2] - E[x]^2 loses float32's digits when the mean is large.
  const at::Tensor x64 = x_cf.to(at::kDouble);
  const at::Tensor count = at::full({1}, static_cast<double>(x_cf.numel() / std::max<int64_t>(channels, 1)),
                                    x64.options().requires_grad(false));
  const at::Tensor local = at::cat({x64.sum(reduce_dims), (x64 * x64).sum(reduce_dims), count});
  const at::Tensor global = strategy.all_reduce_sum_differentiable(local);
  const at::Tensor n = global.narrow(0, 2 * channels, 1).detach();
  const at::Tensor mean64 = global.narrow(0, 0, channels) / n;
  const at::Tensor mean = mean64.to(x_cf.scalar_type());
  const at::Tensor variance = (global.narrow(0, channels, channels) / n - mean64 * mean64).clamp_min(0).to(x_cf.scalar_type());
  at::Tensor out = (x_cf - mean.view(channel_shape)) * at::rsqrt(variance.view(channel_shape) + options_.epsilon);
  if (gamma_.defined()) out = out * gamma_.view(channel_shape);
  if (beta_.defined()) out = out + beta_.view(channel_shape);
  at::NoGradGuard no_grad;
  const double m = options_.momentum;
  moving_mean_.mul_(m).add_(mean.detach(), 1.0 - m);
  moving_variance_.mul_(m).add_(variance.detach(), 1.0 - m);
  return out;
}

nlohmann::json BatchNormalization::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["axis"] = options_.axis;
  config["momentum"] = options_.momentum;
  config["epsilon"] = options_.epsilon;
  config["center"] = options_.center;
  config["scale"] = options_.scale;
  config["beta_initializer"] = initializers::serialize(*options_.beta_initializer);
  config["gamma_initializer"] = initializers::serialize(*options_.gamma_initializer);
  config["moving_mean_initializer"] = initializers::serialize(*options_.moving_mean_initializer);
  config["moving_variance_initializer"] = initializers::serialize(*options_.moving_variance_initializer);
  write_regularizers(config, options_);
  config["synchronized"] = options_.synchronized;
  return config;
}

BatchNormalization BatchNormalization::from_config(const nlohmann::json& config) {
  BatchNormalizationOptions options;
  if (config.contains("axis")) {
    const std::vector<int64_t> axes = json_axes(config.at("axis"));  // tf.keras writes [3] after build
    if (axes.size() != 1)
      throw ValueError("BatchNormalization '" + config.value("name", "") + "': expected a single axis, got " +
                       config.at("axis").dump());
    options.axis = axes[0];
  }
  options.momentum = config.value("momentum", 0.99);
  options.synchronized = config.value("synchronized", false);
  read_common(config, options);
  options.moving_mean_initializer = initializer_from(config, "moving_mean_initializer", options.moving_mean_initializer);
  options.moving_variance_initializer = initializer_from(config, "moving_variance_initializer", options.moving_variance_initializer);
  BatchNormalization layer(std::move(options));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNormalization

LayerNormalization::LayerNormalization(LayerNormalizationOptions options)
    : Layer("LayerNormalization", options.name), options_(std::move(options)) {
  set_supports_masking(true);
  check_axes_given(describe(), options_.axis);
  check_epsilon(describe(), options_.epsilon);
}

void LayerNormalization::build(const Shape& input_shape) {
  axes_ = resolve_axes(describe(), options_.axis, input_shape);
  Shape param_shape;
  InputSpec spec{.ndim = static_cast<int64_t>(input_shape.size())};
  for (int64_t a : axes_) {
    param_shape.push_back(known_size(describe(), input_shape, a));
    spec.axes[a] = input_shape[a];
  }
  if (options_.scale) gamma_ = add_weight("gamma", param_shape, options_.gamma_initializer, true, options_.gamma_regularizer,
                                           options_.gamma_constraint);
  if (options_.center) beta_ = add_weight("beta", param_shape, options_.beta_initializer, true, options_.beta_regularizer,
                                          options_.beta_constraint);
  set_input_spec(std::move(spec));
}

at::Tensor LayerNormalization::call(const at::Tensor& inputs, bool training) {
  const at::Tensor x = floating_input(describe(), inputs, at::kFloat);
  const int64_t rank = x.dim();
  const int64_t count = static_cast<int64_t>(axes_.size());
  bool trailing = true;  // the axes are the last `count` axes: ATen's fused layer_norm applies
  for (int64_t i = 0; i < count; ++i) trailing = trailing && axes_[i] == rank - count + i;
  if (trailing) {
    std::vector<int64_t> normalized_shape(x.sizes().end() - count, x.sizes().end());
    return in_dtype_of(inputs, at::layer_norm(x, normalized_shape, gamma_, beta_, options_.epsilon, true));
  }
  const auto [variance, mean] = at::var_mean(x, axes_, /*unbiased=*/false, /*keepdim=*/true);
  at::Tensor out = (x - mean) * at::rsqrt(variance + options_.epsilon);
  std::vector<int64_t> broadcast(rank, 1);
  for (int64_t a : axes_) broadcast[a] = x.size(a);
  if (gamma_.defined()) out = out * gamma_.reshape(broadcast);
  if (beta_.defined()) out = out + beta_.reshape(broadcast);
  return in_dtype_of(inputs, out);
}

nlohmann::json LayerNormalization::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["axis"] = axes_json(options_.axis);
  config["epsilon"] = options_.epsilon;
  config["center"] = options_.center;
  config["scale"] = options_.scale;
  config["beta_initializer"] = initializers::serialize(*options_.beta_initializer);
  config["gamma_initializer"] = initializers::serialize(*options_.gamma_initializer);
  write_regularizers(config, options_);
  return config;
}

LayerNormalization LayerNormalization::from_config(const nlohmann::json& config) {
  LayerNormalizationOptions options;
  if (config.contains("axis")) options.axis = json_axes(config.at("axis"));
  read_common(config, options);
  LayerNormalization layer(std::move(options));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// GroupNormalization

GroupNormalization::GroupNormalization(GroupNormalizationOptions options)
    : Layer("GroupNormalization", options.name), options_(std::move(options)) {
  set_supports_masking(true);
  if (options_.groups <= 0)
    throw ValueError(describe() + ": expected groups > 0, got " + std::to_string(options_.groups));
  check_epsilon(describe(), options_.epsilon);
  set_input_spec({.min_ndim = 2});
}

void GroupNormalization::build(const Shape& input_shape) {
  axis_ = resolve_axis(describe(), options_.axis, input_shape);
  if (axis_ == 0)
    throw ValueError(describe() + ": axis " + std::to_string(options_.axis) +
                     " is the batch axis; expected the channels axis, for an input of shape " +
                     format_shape(input_shape));
  const int64_t channels = known_size(describe(), input_shape, axis_);
  if (channels < options_.groups)
    throw ValueError(describe() + ": groups (" + std::to_string(options_.groups) +
                     ") cannot be more than the number of channels (" + std::to_string(channels) + ")");
  if (channels % options_.groups != 0)
    throw ValueError(describe() + ": the number of channels (" + std::to_string(channels) +
                     ") must be a multiple of groups (" + std::to_string(options_.groups) + ")");
  if (options_.scale) gamma_ = add_weight("gamma", {channels}, options_.gamma_initializer, true, options_.gamma_regularizer,
                                           options_.gamma_constraint);
  if (options_.center) beta_ = add_weight("beta", {channels}, options_.beta_initializer, true, options_.beta_regularizer,
                                          options_.beta_constraint);
  set_input_spec({.ndim = static_cast<int64_t>(input_shape.size()), .axes = {{axis_, channels}}});
}

at::Tensor GroupNormalization::call(const at::Tensor& inputs, bool training) {
  const at::Tensor x = floating_input(describe(), inputs, at::kFloat);
  // ATen's group_norm takes (N, C, *) with groups of consecutive channels, the grouping Keras' reshape makes.
  const at::Tensor x_cf = axis_ == 1 ? x : x.movedim(axis_, 1);
  const at::Tensor out = at::group_norm(x_cf, options_.groups, gamma_, beta_, options_.epsilon, true);
  return in_dtype_of(inputs, (axis_ == 1 ? out : out.movedim(1, axis_)).contiguous());
}

nlohmann::json GroupNormalization::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["groups"] = options_.groups;
  config["axis"] = options_.axis;
  config["epsilon"] = options_.epsilon;
  config["center"] = options_.center;
  config["scale"] = options_.scale;
  config["beta_initializer"] = initializers::serialize(*options_.beta_initializer);
  config["gamma_initializer"] = initializers::serialize(*options_.gamma_initializer);
  write_regularizers(config, options_);
  return config;
}

GroupNormalization GroupNormalization::from_config(const nlohmann::json& config) {
  GroupNormalizationOptions options;
  options.groups = config.value("groups", int64_t{32});
  options.axis = config.value("axis", int64_t{-1});
  read_common(config, options);
  GroupNormalization layer(std::move(options));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// UnitNormalization

UnitNormalization::UnitNormalization(UnitNormalizationOptions options)
    : Layer("UnitNormalization", options.name), options_(std::move(options)) {
  set_supports_masking(true);
  check_axes_given(describe(), options_.axis);
}

void UnitNormalization::build(const Shape& input_shape) {
  axes_ = resolve_axes(describe(), options_.axis, input_shape);
  set_input_spec({.ndim = static_cast<int64_t>(input_shape.size())});
}

at::Tensor UnitNormalization::call(const at::Tensor& inputs, bool training) {
  if (!inputs.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
  const at::Tensor square_sum = at::sum(inputs * inputs, axes_, /*keepdim=*/true);
  return inputs * at::rsqrt(at::clamp_min(square_sum, 1e-12));
}

nlohmann::json UnitNormalization::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["axis"] = axes_json(options_.axis);
  return config;
}

UnitNormalization UnitNormalization::from_config(const nlohmann::json& config) {
  UnitNormalizationOptions options;
  if (config.contains("axis")) options.axis = json_axes(config.at("axis"));
  options.name = config.value("name", "");
  UnitNormalization layer(std::move(options));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
