#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/registry.h>
#include <strata/layers/reshaping.h>

#include <algorithm>
#include <numeric>

namespace strata::layers {
namespace {

std::string format_ints(const std::vector<int64_t>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + (values.size() == 1 ? ",)" : ")");
}

std::string format_pairs(const std::vector<SidePair>& pairs) {
  if (pairs.size() == 1) return format_ints({pairs[0].first, pairs[0].second});
  std::string out = "(";
  for (size_t i = 0; i < pairs.size(); ++i)
    out += (i ? ", " : "") + format_ints({pairs[i].first, pairs[i].second});
  return out + ")";
}

std::string spatial_class_name(const char* family, int64_t rank) {
  return family + std::to_string(rank) + "D";
}

// Only channels_last is implemented, as for the convolution layers.
void check_channels_last(const std::string& who, const std::string& data_format) {
  if (data_format != "channels_last")
    throw ValueError(who + ": only data_format \"channels_last\" is supported, got \"" + data_format + "\"");
}

// A (batch, spatial..., channels) input of the layer's rank, or a ShapeError naming the layer.
void check_spatial_rank(const std::string& who, const Shape& input_shape, int64_t rank) {
  if (static_cast<int64_t>(input_shape.size()) != rank + 2)
    throw ShapeError(who + ": expected input of rank " + std::to_string(rank + 2) + " (batch, " +
                     (rank == 1 ? "steps" : "spatial axes") + ", channels), got shape " +
                     format_shape(input_shape));
}

nlohmann::json pairs_to_json(const std::vector<SidePair>& pairs) {
  if (pairs.size() == 1) return {pairs[0].first, pairs[0].second};
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [before, after] : pairs) out.push_back({before, after});
  return out;
}

}  // namespace

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

// ---------------------------------------------------------------------------------------------------------------
// Permute

Permute::Permute(std::vector<int64_t> dims, std::string name)
    : Layer("Permute", std::move(name)), dims_(std::move(dims)) {
  std::vector<int64_t> sorted = dims_;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expected(dims_.size());
  std::iota(expected.begin(), expected.end(), int64_t{1});
  if (dims_.empty() || sorted != expected)
    throw ValueError(describe() + ": dims must be a permutation of 1.." + std::to_string(dims_.size()) +
                     " (1-based, the batch axis excluded), got " + format_ints(dims_));
  set_input_spec({.ndim = static_cast<int64_t>(dims_.size()) + 1});
}

at::Tensor Permute::call(const at::Tensor& inputs, bool training) {
  std::vector<int64_t> order = {0};
  order.insert(order.end(), dims_.begin(), dims_.end());
  return inputs.permute(order);
}

Shape Permute::compute_output_shape(const Shape& input_shape) const {
  if (input_shape.size() != dims_.size() + 1)
    throw ShapeError(describe() + ": expected input of rank " + std::to_string(dims_.size() + 1) +
                     ", got shape " + format_shape(input_shape));
  Shape out = {input_shape[0]};
  for (int64_t d : dims_) out.push_back(input_shape[d]);
  return out;
}

nlohmann::json Permute::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["dims"] = dims_;
  return config;
}

Permute Permute::from_config(const nlohmann::json& config) {
  Permute layer(config.at("dims").get<std::vector<int64_t>>(), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// RepeatVector

RepeatVector::RepeatVector(int64_t n, std::string name) : Layer("RepeatVector", std::move(name)), n_(n) {
  if (n_ < 1) throw ValueError(describe() + ": expected n >= 1, got " + std::to_string(n_));
  set_input_spec({.ndim = 2});
}

at::Tensor RepeatVector::call(const at::Tensor& inputs, bool training) {
  return inputs.unsqueeze(1).repeat({1, n_, 1});
}

Shape RepeatVector::compute_output_shape(const Shape& input_shape) const {
  if (input_shape.size() != 2)
    throw ShapeError(describe() + ": expected input of rank 2 (batch, features), got shape " +
                     format_shape(input_shape));
  return {input_shape[0], n_, input_shape[1]};
}

nlohmann::json RepeatVector::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["n"] = n_;
  return config;
}

RepeatVector RepeatVector::from_config(const nlohmann::json& config) {
  RepeatVector layer(config.at("n").get<int64_t>(), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// SidePairs

SidePairs SidePairs::from_json(const nlohmann::json& value) {
  SidePairs out;
  if (value.is_number_integer()) {
    out.flat_ = {value.get<int64_t>()};
  } else if (value.is_array() && !value.empty() && value.at(0).is_array()) {
    for (const auto& pair : value) {
      const auto ints = pair.get<std::vector<int64_t>>();
      if (ints.size() != 2) throw ValueError("expected (before, after) pairs, got " + value.dump());
      out.pairs_.emplace_back(ints[0], ints[1]);
    }
  } else {
    out.flat_ = value.get<std::vector<int64_t>>();
  }
  return out;
}

std::vector<SidePair> SidePairs::resolve(const std::string& who, const std::string& what,
                                         int64_t rank) const {
  std::vector<SidePair> out;
  const auto count = static_cast<int64_t>(flat_.size());
  if (count == 1) {
    out.assign(rank, {flat_[0], flat_[0]});
  } else if (rank == 1 && count == 2) {
    out = {{flat_[0], flat_[1]}};
  } else if (rank > 1 && count == rank) {
    for (int64_t v : flat_) out.emplace_back(v, v);
  } else if (static_cast<int64_t>(pairs_.size()) == rank) {
    out = pairs_;
  } else {
    const std::string got = flat_.empty() ? format_pairs(pairs_) : format_ints(flat_);
    throw ValueError(
        who + ": expected " + what + " as an int, " +
        (rank == 1 ? std::string("or a pair (before, after)")
                   : std::to_string(rank) + " ints, or " + std::to_string(rank) + " (before, after) pairs") +
        ", got " + got);
  }
  for (const auto& [before, after] : out)
    if (before < 0 || after < 0)
      throw ValueError(who + ": expected " + what + " >= 0, got " + format_pairs(out));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// ZeroPadding

ZeroPadding::ZeroPadding(int64_t rank, const SidePairs& padding, SpatialOptions options)
    : Layer(spatial_class_name("ZeroPadding", rank), std::move(options.name)),
      rank_(rank),
      padding_(padding.resolve(describe(), "padding", rank)) {
  check_channels_last(describe(), options.data_format);
  set_input_spec({.ndim = rank_ + 2});
}

Shape ZeroPadding::compute_output_shape(const Shape& input_shape) const {
  check_spatial_rank(describe(), input_shape, rank_);
  Shape out = input_shape;
  for (int64_t i = 0; i < rank_; ++i)
    if (out[1 + i] != kNone) out[1 + i] += padding_[i].first + padding_[i].second;
  return out;
}

at::Tensor ZeroPadding::call(const at::Tensor& inputs, bool training) {
  // constant_pad_nd lists (before, after) from the last axis backwards; channels are not padded.
  std::vector<int64_t> pads = {0, 0};
  for (int64_t i = rank_ - 1; i >= 0; --i) {
    pads.push_back(padding_[i].first);
    pads.push_back(padding_[i].second);
  }
  return at::constant_pad_nd(inputs, pads, 0);
}

nlohmann::json ZeroPadding::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["padding"] = pairs_to_json(padding_);
  if (rank_ > 1) config["data_format"] = "channels_last";
  return config;
}

ZeroPadding::Arguments ZeroPadding::parse_config(const nlohmann::json& config) {
  return {config.contains("padding") ? SidePairs::from_json(config.at("padding")) : SidePairs(1),
          {.data_format = data_format_from(config), .name = config.value("name", "")}};
}

// ---------------------------------------------------------------------------------------------------------------
// Cropping

Cropping::Cropping(int64_t rank, const SidePairs& cropping, SpatialOptions options)
    : Layer(spatial_class_name("Cropping", rank), std::move(options.name)),
      rank_(rank),
      cropping_(cropping.resolve(describe(), "cropping", rank)) {
  check_channels_last(describe(), options.data_format);
  set_input_spec({.ndim = rank_ + 2});
}

Shape Cropping::compute_output_shape(const Shape& input_shape) const {
  check_spatial_rank(describe(), input_shape, rank_);
  Shape out = input_shape;
  for (int64_t i = 0; i < rank_; ++i) {
    if (out[1 + i] == kNone) continue;
    out[1 + i] -= cropping_[i].first + cropping_[i].second;
    if (out[1 + i] <= 0)
      throw ShapeError(describe() + ": cropping " + format_pairs(cropping_) +
                       " must leave at least one element on every spatial axis, got input shape " +
                       format_shape(input_shape));
  }
  return out;
}

at::Tensor Cropping::call(const at::Tensor& inputs, bool training) {
  compute_output_shape(shape_of(inputs));  // throws when the cropping does not fit this input
  at::Tensor out = inputs;
  for (int64_t i = 0; i < rank_; ++i)
    out = out.slice(1 + i, cropping_[i].first, inputs.size(1 + i) - cropping_[i].second);
  return out;
}

nlohmann::json Cropping::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["cropping"] = pairs_to_json(cropping_);
  if (rank_ > 1) config["data_format"] = "channels_last";
  return config;
}

Cropping::Arguments Cropping::parse_config(const nlohmann::json& config, int64_t rank) {
  return {config.contains("cropping") ? SidePairs::from_json(config.at("cropping"))
                                      : SidePairs(default_cropping(rank)),
          {.data_format = data_format_from(config), .name = config.value("name", "")}};
}

// ---------------------------------------------------------------------------------------------------------------
// UpSampling

UpSampling::UpSampling(int64_t rank, const SpatialSizes& size, UpSamplingOptions options)
    : Layer(spatial_class_name("UpSampling", rank), std::move(options.name)),
      rank_(rank),
      size_(size.values()),
      interpolation_(std::move(options.interpolation)) {
  if (size_.size() == 1) size_.assign(rank_, size_[0]);
  if (static_cast<int64_t>(size_.size()) != rank_ ||
      std::any_of(size_.begin(), size_.end(), [](int64_t s) { return s < 1; }))
    throw ValueError(describe() + ": expected size as 1 or " + std::to_string(rank_) +
                     " positive ints, got " + format_ints(size.values()));
  check_channels_last(describe(), options.data_format);
  const bool known = interpolation_ == "nearest" || (rank_ == 2 && interpolation_ == "bilinear");
  if (!known)
    throw ValueError(describe() + ": expected interpolation " +
                     (rank_ == 2 ? "\"nearest\" or \"bilinear\"" : "\"nearest\"") + ", got \"" +
                     interpolation_ + "\"");
  set_input_spec({.ndim = rank_ + 2});
}

Shape UpSampling::compute_output_shape(const Shape& input_shape) const {
  check_spatial_rank(describe(), input_shape, rank_);
  Shape out = input_shape;
  for (int64_t i = 0; i < rank_; ++i)
    if (out[1 + i] != kNone) out[1 + i] *= size_[i];
  return out;
}

at::Tensor UpSampling::call(const at::Tensor& inputs, bool training) {
  if (interpolation_ == "bilinear") {
    // ATen's bilinear with align_corners=false uses half-pixel centers and clamps at the borders, which is
    // tf.image.resize's bilinear (no antialiasing matters when enlarging).
    const at::Tensor nchw = inputs.permute({0, 3, 1, 2});
    const std::vector<int64_t> out_size = {inputs.size(1) * size_[0], inputs.size(2) * size_[1]};
    return at::upsample_bilinear2d(nchw, out_size, /*align_corners=*/false)
        .permute({0, 2, 3, 1})
        .contiguous();
  }
  at::Tensor out = inputs;
  for (int64_t i = 0; i < rank_; ++i)
    if (size_[i] > 1) out = out.repeat_interleave(size_[i], 1 + i);
  return out;
}

nlohmann::json UpSampling::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["size"] = rank_ == 1 ? nlohmann::json(size_[0]) : nlohmann::json(size_);
  if (rank_ > 1) config["data_format"] = "channels_last";
  if (rank_ == 2) config["interpolation"] = interpolation_;
  return config;
}

UpSampling::Arguments UpSampling::parse_config(const nlohmann::json& config) {
  SpatialSizes size = 2;
  if (config.contains("size")) {
    const nlohmann::json& value = config.at("size");
    size = value.is_number_integer() ? SpatialSizes(value.get<int64_t>())
                                     : SpatialSizes(value.get<std::vector<int64_t>>());
  }
  return {size,
          {.data_format = data_format_from(config),
           .interpolation = config.value("interpolation", "nearest"),
           .name = config.value("name", "")}};
}

}  // namespace strata::layers
