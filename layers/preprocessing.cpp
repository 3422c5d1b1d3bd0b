#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/error.h>
#include <strata/layers/preprocessing.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace strata::layers {

namespace detail {

at::Tensor image_batch(const std::string& who, const at::Tensor& inputs, bool& unbatched) {
  if (inputs.dim() != 3 && inputs.dim() != 4)
    throw ShapeError(who +
                     ": expected images of rank 4 (batch, height, width, channels) or 3 (height, width, " +
                     "channels), got shape " + format_dims(inputs.sizes()));
  unbatched = inputs.dim() == 3;
  at::Tensor images = unbatched ? inputs.unsqueeze(0) : inputs;
  return at::isFloatingType(images.scalar_type()) ? images : images.to(at::kFloat);
}

void require_channels_last(const std::string& class_name, const nlohmann::json& config) {
  if (config.contains("data_format") && !config.at("data_format").is_null() &&
      config.at("data_format") != "channels_last")
    throw ValueError(class_name + ": Strata reads channels_last images only, got data_format=" +
                     config.at("data_format").dump());
}

}  // namespace detail

namespace {

at::Tensor floating(const at::Tensor& inputs) {
  return at::isFloatingType(inputs.scalar_type()) ? inputs : inputs.to(at::kFloat);
}

// The largest central window of `images` (batched, channels_last) with the target's aspect ratio, with
// Keras' integer arithmetic.
at::Tensor crop_to_aspect_ratio(const at::Tensor& images, int64_t target_height, int64_t target_width) {
  const int64_t height = images.size(1), width = images.size(2);
  const auto crop_height = std::max<int64_t>(
      std::min(height, static_cast<int64_t>(static_cast<double>(width * target_height) / target_width)), 1);
  const auto crop_width = std::max<int64_t>(
      std::min(width, static_cast<int64_t>(static_cast<double>(height * target_width) / target_height)), 1);
  return images.narrow(1, (height - crop_height) / 2, crop_height)
      .narrow(2, (width - crop_width) / 2, crop_width);
}

// Pads `images` (batched, channels_last) with fill_value by the same amount on both sides of the one spatial
// axis that is short of the target's aspect ratio, with Keras' integer arithmetic.
at::Tensor pad_to_aspect_ratio(const at::Tensor& images, int64_t target_height, int64_t target_width,
                               double fill_value) {
  const int64_t height = images.size(1), width = images.size(2);
  const auto pad_height =
      std::max(height, static_cast<int64_t>(static_cast<double>(width * target_height) / target_width));
  const auto pad_width =
      std::max(width, static_cast<int64_t>(static_cast<double>(height * target_width) / target_height));
  const int64_t top = (pad_height - height) / 2, left = (pad_width - width) / 2;
  // constant_pad_nd lists (before, after) pairs from the last axis: channels, width, height.
  if (top > 0) return at::constant_pad_nd(images, {0, 0, 0, 0, top, top}, fill_value);
  if (left > 0) return at::constant_pad_nd(images, {0, 0, left, left}, fill_value);
  return images;
}

// tf.image.resize without antialiasing on batched channels_last images.
at::Tensor resize_images(const at::Tensor& images, int64_t height, int64_t width,
                         const std::string& interpolation) {
  const at::Tensor nchw = images.permute({0, 3, 1, 2});
  const at::Tensor resized =
      interpolation == "nearest"
          ? at::_upsample_nearest_exact2d(nchw, {height, width}, c10::nullopt, c10::nullopt)
          : at::upsample_bilinear2d(nchw, {height, width}, /*align_corners=*/false, c10::nullopt,
                                    c10::nullopt);
  return resized.permute({0, 2, 3, 1}).contiguous();
}

Shape resized_shape(const std::string& who, Shape shape, int64_t height, int64_t width) {
  if (shape.size() != 3 && shape.size() != 4)
    throw ShapeError(who +
                     ": expected images of rank 4 (batch, height, width, channels) or 3 (height, width, " +
                     "channels), got shape " + format_shape(shape));
  const size_t h_axis = shape.size() - 3;
  shape[h_axis] = height;
  shape[h_axis + 1] = width;
  return shape;
}

void check_target_size(const std::string& who, int64_t height, int64_t width) {
  if (height <= 0 || width <= 0)
    throw ValueError(who + ": expected a positive target height and width, got " + std::to_string(height) +
                     " x " + std::to_string(width));
}

// A tensor as Keras writes an array in a config: a number for a scalar, nested lists otherwise.
nlohmann::json tensor_to_json(const at::Tensor& t) {
  if (t.dim() == 0) return t.item<double>();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(tensor_to_json(t[i]));
  return out;
}

void flatten_json(const nlohmann::json& j, std::vector<double>& values, std::vector<int64_t>& shape,
                  size_t depth) {
  if (j.is_number()) {
    if (depth != shape.size()) throw ValueError("ragged array in config: " + j.dump());
    values.push_back(j.get<double>());
    return;
  }
  if (!j.is_array())
    throw ValueError("expected a number or nested lists of numbers in config, got " + j.dump());
  if (depth == shape.size()) shape.push_back(static_cast<int64_t>(j.size()));
  if (shape[depth] != static_cast<int64_t>(j.size())) throw ValueError("ragged array in config: " + j.dump());
  for (const auto& item : j) flatten_json(item, values, shape, depth + 1);
}

at::Tensor tensor_from_json(const nlohmann::json& j) {
  if (j.is_null()) return {};
  std::vector<double> values;
  std::vector<int64_t> shape;
  flatten_json(j, values, shape, 0);
  return at::tensor(values, at::kDouble).reshape(shape);
}

std::vector<int64_t> axis_from_json(const nlohmann::json& j) {
  if (j.is_null()) return {};
  if (j.is_number_integer()) return {j.get<int64_t>()};
  return j.get<std::vector<int64_t>>();
}

constexpr double kBackendEpsilon = 1e-7;  // keras.backend.epsilon()

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Rescaling

Rescaling::Rescaling(double scale, RescalingOptions options)
    : Layer("Rescaling", std::move(options.name)), scale_(scale), options_(std::move(options)) {}

at::Tensor Rescaling::call(const at::Tensor& inputs, bool /*training*/) {
  return floating(inputs) * scale_ + options_.offset;
}

nlohmann::json Rescaling::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["scale"] = scale_;
  config["offset"] = options_.offset;
  return config;
}

Rescaling Rescaling::from_config(const nlohmann::json& config) {
  if (!config.at("scale").is_number())
    throw ValueError("Rescaling: only a scalar scale is supported, got scale=" + config.at("scale").dump());
  Rescaling layer(config.at("scale").get<double>(),
                  {.offset = config.value("offset", 0.0), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// Normalization

Normalization::Normalization(NormalizationOptions options)
    : Layer("Normalization", std::move(options.name)), options_(std::move(options)) {
  set_supports_masking(true);
  const bool has_mean = options_.mean.defined(), has_variance = options_.variance.defined();
  if (has_mean != has_variance)
    throw ValueError(describe() + ": when setting values directly, both mean and variance must be set, got " +
                     (has_mean ? "mean only" : "variance only"));
  if (!has_mean) return;
  if (options_.mean.sizes() != options_.variance.sizes())
    throw ValueError(describe() + ": mean and variance must have the same shape, got " +
                     format_dims(options_.mean.sizes()) + " and " + format_dims(options_.variance.sizes()));
  if (options_.mean.dim() > static_cast<int64_t>(options_.axis.size()))
    throw ValueError(describe() + ": the rank of mean must be at most the number of axes (" +
                     std::to_string(options_.axis.size()) + "), got mean of shape " +
                     format_dims(options_.mean.sizes()));
}

void Normalization::build(const Shape& input_shape) {
  const auto ndim = static_cast<int64_t>(input_shape.size());
  keep_axes_.clear();
  for (int64_t a : options_.axis) {
    if (a < -ndim || a >= ndim)
      throw ValueError(describe() + ": every axis must be in [-ndim, ndim) for inputs of shape " +
                       format_shape(input_shape) + ", got axis " + std::to_string(a));
    keep_axes_.push_back(a < 0 ? a + ndim : a);
  }
  std::sort(keep_axes_.begin(), keep_axes_.end());
  keep_axes_.erase(std::unique(keep_axes_.begin(), keep_axes_.end()), keep_axes_.end());
  reduce_axes_.clear();
  broadcast_shape_.assign(ndim, 1);
  kept_shape_.clear();
  for (int64_t d = 0; d < ndim; ++d) {
    if (!std::binary_search(keep_axes_.begin(), keep_axes_.end(), d)) {
      reduce_axes_.push_back(d);
      continue;
    }
    if (input_shape[d] == kNone)
      throw ValueError(describe() + ": the kept axis " + std::to_string(d) +
                       " must have a known size, got shape " + format_shape(input_shape));
    broadcast_shape_[d] = input_shape[d];
    kept_shape_.push_back(input_shape[d]);
  }
  if (!keep_axes_.empty()) {  // scalar statistics (axis=None) broadcast to inputs of any rank
    InputSpec spec{.ndim = ndim};
    for (int64_t d : keep_axes_) spec.axes[d] = input_shape[d];
    set_input_spec(spec);
  }

  if (!options_.mean.defined()) {
    mean_ = add_weight("mean", kept_shape_, "zeros", /*trainable=*/false);
    variance_ = add_weight("variance", kept_shape_, "ones", /*trainable=*/false);
    add_weight("count", {}, "zeros", /*trainable=*/false);
    return;
  }
  // Given statistics line up with the kept axes from the right, then broadcast over them.
  Shape aligned(kept_shape_.size(), 1);
  const int64_t given_rank = options_.mean.dim();
  for (int64_t i = 1; i <= given_rank; ++i) {
    const int64_t size = options_.mean.size(given_rank - i), kept = kept_shape_[kept_shape_.size() - i];
    if (size != kept && size != 1)
      throw ShapeError(describe() + ": mean and variance of shape " + format_dims(options_.mean.sizes()) +
                       " do not broadcast to the kept axes' shape " + format_shape(kept_shape_));
    aligned[kept_shape_.size() - i] = size;
  }
  mean_ = options_.mean.to(at::kFloat).reshape(aligned).expand(kept_shape_).contiguous();
  variance_ = options_.variance.to(at::kFloat).reshape(aligned).expand(kept_shape_).contiguous();
}

void Normalization::adapt(const at::Tensor& data) {
  if (!data.defined() || data.dim() == 0)
    throw ValueError(describe() + ": adapt() expects data with a batch axis, got " +
                     (data.defined() ? "a scalar" : "an undefined tensor"));
  if (options_.mean.defined())
    throw ValueError(describe() +
                     ": adapt() learns mean and variance, but they were given to the constructor");
  if (!built()) ensure_built(shape_of(data));
  const Shape built_shape = build_input_shape();
  bool compatible = data.dim() == static_cast<int64_t>(built_shape.size());
  for (size_t i = 0; compatible && i < keep_axes_.size(); ++i)
    compatible = data.size(keep_axes_[i]) == built_shape[keep_axes_[i]];
  if (!compatible)
    throw ShapeError(describe() + ": the layer was built for inputs of shape " + format_shape(built_shape) +
                     " but adapt() got data of shape " + format_dims(data.sizes()));

  const at::Tensor values = data.detach().to(at::kDouble);
  at::Tensor mean = values, variance = at::zeros_like(values);
  if (!reduce_axes_.empty()) {  // an empty dim list would make ATen reduce over everything
    mean = values.mean(reduce_axes_);
    variance = (values - values.mean(reduce_axes_, /*keepdim=*/true)).square().mean(reduce_axes_);
  }
  at::NoGradGuard no_grad;
  mean_.copy_(mean);
  variance_.copy_(variance);
}

at::Tensor Normalization::call(const at::Tensor& inputs, bool /*training*/) {
  const at::Tensor x = inputs.scalar_type() == at::kFloat ? inputs : inputs.to(at::kFloat);
  const at::Tensor mean = mean_.reshape(broadcast_shape_).to(x.device());
  const at::Tensor std =
      at::clamp_min(variance_.reshape(broadcast_shape_).to(x.device()).sqrt(), kBackendEpsilon);
  return options_.invert ? mean + x * std : (x - mean) / std;
}

at::Tensor Normalization::mean() const { return mean_; }
at::Tensor Normalization::variance() const { return variance_; }

nlohmann::json Normalization::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["axis"] = options_.axis;
  config["invert"] = options_.invert;
  config["mean"] =
      options_.mean.defined() ? tensor_to_json(options_.mean.to(at::kDouble)) : nlohmann::json(nullptr);
  config["variance"] = options_.variance.defined() ? tensor_to_json(options_.variance.to(at::kDouble))
                                                   : nlohmann::json(nullptr);
  return config;
}

Normalization Normalization::from_config(const nlohmann::json& config) {
  Normalization layer({.axis = axis_from_json(config.value("axis", nlohmann::json(-1))),
                       .mean = tensor_from_json(config.value("mean", nlohmann::json(nullptr))),
                       .variance = tensor_from_json(config.value("variance", nlohmann::json(nullptr))),
                       .invert = config.value("invert", false),
                       .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// CenterCrop

CenterCrop::CenterCrop(int64_t height, int64_t width, CenterCropOptions options)
    : Layer("CenterCrop", std::move(options.name)), height_(height), width_(width) {
  check_target_size(describe(), height_, width_);
}

at::Tensor CenterCrop::call(const at::Tensor& inputs, bool /*training*/) {
  bool unbatched = false;
  const at::Tensor images = detail::image_batch(describe(), inputs, unbatched);
  const int64_t h_diff = images.size(1) - height_, w_diff = images.size(2) - width_;
  const at::Tensor out =
      h_diff >= 0 && w_diff >= 0
          ? images.narrow(1, h_diff / 2, height_).narrow(2, w_diff / 2, width_)
          : resize_images(crop_to_aspect_ratio(images, height_, width_), height_, width_, "bilinear");
  return unbatched ? out.squeeze(0) : out;
}

Shape CenterCrop::compute_output_shape(const Shape& input_shape) const {
  return resized_shape(describe(), input_shape, height_, width_);
}

nlohmann::json CenterCrop::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["height"] = height_;
  config["width"] = width_;
  config["data_format"] = "channels_last";
  return config;
}

CenterCrop CenterCrop::from_config(const nlohmann::json& config) {
  detail::require_channels_last("CenterCrop", config);
  CenterCrop layer(config.at("height").get<int64_t>(), config.at("width").get<int64_t>(),
                   {.name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// Resizing

Resizing::Resizing(int64_t height, int64_t width, ResizingOptions options)
    : Layer("Resizing", std::move(options.name)),
      height_(height),
      width_(width),
      options_(std::move(options)) {
  check_target_size(describe(), height_, width_);
  if (options_.interpolation != "bilinear" && options_.interpolation != "nearest")
    throw ValueError(describe() + ": expected interpolation \"bilinear\" or \"nearest\", got \"" +
                     options_.interpolation + "\"");
  if (options_.crop_to_aspect_ratio && options_.pad_to_aspect_ratio)
    throw ValueError(describe() + ": only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be true");
  if (options_.fill_mode != "constant")
    throw ValueError(describe() + ": expected fill_mode \"constant\", got \"" + options_.fill_mode + "\"");
}

at::Tensor Resizing::call(const at::Tensor& inputs, bool /*training*/) {
  bool unbatched = false;
  at::Tensor images = detail::image_batch(describe(), inputs, unbatched);
  if (options_.crop_to_aspect_ratio) images = crop_to_aspect_ratio(images, height_, width_);
  if (options_.pad_to_aspect_ratio)
    images = pad_to_aspect_ratio(images, height_, width_, options_.fill_value);
  const at::Tensor out = resize_images(images, height_, width_, options_.interpolation);
  return unbatched ? out.squeeze(0) : out;
}

Shape Resizing::compute_output_shape(const Shape& input_shape) const {
  return resized_shape(describe(), input_shape, height_, width_);
}

nlohmann::json Resizing::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["height"] = height_;
  config["width"] = width_;
  config["interpolation"] = options_.interpolation;
  config["crop_to_aspect_ratio"] = options_.crop_to_aspect_ratio;
  config["pad_to_aspect_ratio"] = options_.pad_to_aspect_ratio;
  config["fill_mode"] = options_.fill_mode;
  config["fill_value"] = options_.fill_value;
  config["antialias"] = false;
  config["data_format"] = "channels_last";
  return config;
}

Resizing Resizing::from_config(const nlohmann::json& config) {
  detail::require_channels_last("Resizing", config);
  if (config.value("antialias", false)) throw ValueError("Resizing: antialias=true is not supported");
  Resizing layer(config.at("height").get<int64_t>(), config.at("width").get<int64_t>(),
                 {.interpolation = config.value("interpolation", "bilinear"),
                  .crop_to_aspect_ratio = config.value("crop_to_aspect_ratio", false),
                  .pad_to_aspect_ratio = config.value("pad_to_aspect_ratio", false),
                  .fill_mode = config.value("fill_mode", "constant"),
                  .fill_value = config.value("fill_value", 0.0),
                  .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
