#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/pooling.h>

#include <algorithm>
#include <cctype>
#include <limits>

namespace strata::layers {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string pooling_class_name(int64_t rank, PoolMode mode, bool global) {
  return std::string(global ? "Global" : "") + (mode == PoolMode::kMax ? "MaxPooling" : "AveragePooling") +
         std::to_string(rank) + "D";
}

std::string format_list(const std::vector<int64_t>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + (values.size() == 1 ? ",)" : ")");
}

// A pool_size / strides argument of 1 or `rank` positive values, expanded to `rank` values.
std::vector<int64_t> expand(const std::string& who, const char* what, std::vector<int64_t> values, int64_t rank) {
  if (values.size() == 1) values.assign(rank, values[0]);
  if (static_cast<int64_t>(values.size()) != rank)
    throw ValueError(who + ": expected " + what + " of 1 or " + std::to_string(rank) + " values, got " +
                     format_list(values));
  for (int64_t v : values)
    if (v <= 0) throw ValueError(who + ": expected " + what + " > 0, got " + format_list(values));
  return values;
}

std::string check_data_format(const std::string& who, const std::string& data_format) {
  const std::string format = lower(data_format);
  if (format != "channels_last" && format != "channels_first")
    throw ValueError(who + ": expected data_format \"channels_last\" or \"channels_first\", got \"" + data_format +
                     "\"");
  return format;
}

// Channels-last (N, spatial..., C) <-> channels-first (N, C, spatial...) permutations.
std::vector<int64_t> to_channels_first(int64_t rank) {
  std::vector<int64_t> perm = {0, rank + 1};
  for (int64_t i = 1; i <= rank; ++i) perm.push_back(i);
  return perm;
}
std::vector<int64_t> to_channels_last(int64_t rank) {
  std::vector<int64_t> perm = {0};
  for (int64_t i = 2; i <= rank + 1; ++i) perm.push_back(i);
  perm.push_back(1);
  return perm;
}

std::vector<int64_t> json_ints(const nlohmann::json& value) {
  if (value.is_number_integer()) return {value.get<int64_t>()};
  return value.get<std::vector<int64_t>>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Pooling

Pooling::Pooling(int64_t rank, PoolMode mode, std::vector<int64_t> pool_size, PoolingOptions options)
    : Layer(pooling_class_name(rank, mode, false), options.name), rank_(rank), mode_(mode) {
  if (pool_size.empty()) pool_size.assign(rank_, 2);
  pool_size_ = expand(describe(), "pool_size", std::move(pool_size), rank_);
  strides_ = options.strides.empty() ? pool_size_ : expand(describe(), "strides", options.strides, rank_);
  padding_ = lower(options.padding);
  if (padding_ != "valid" && padding_ != "same")
    throw ValueError(describe() + ": expected padding \"valid\" or \"same\", got \"" + options.padding + "\"");
  data_format_ = check_data_format(describe(), options.data_format);
  set_input_spec({.ndim = rank_ + 2});
}

Shape Pooling::compute_output_shape(const Shape& input_shape) const {
  if (static_cast<int64_t>(input_shape.size()) != rank_ + 2)
    throw ShapeError(describe() + ": expected input of rank " + std::to_string(rank_ + 2) + ", got shape " +
                     format_shape(input_shape));
  const int64_t first = data_format_ == "channels_last" ? 1 : 2;
  Shape out = input_shape;
  for (int64_t i = 0; i < rank_; ++i) {
    const int64_t in = input_shape[first + i];
    if (in == kNone) continue;
    if (padding_ == "same") {
      out[first + i] = (in + strides_[i] - 1) / strides_[i];
    } else {
      if (in < pool_size_[i])
        throw ShapeError(describe() + ": with padding \"valid\" the pool_size " + format_list(pool_size_) +
                         " must fit the input, got input shape " + format_shape(input_shape));
      out[first + i] = (in - pool_size_[i]) / strides_[i] + 1;
    }
  }
  return out;
}

at::Tensor Pooling::call(const at::Tensor& inputs, bool training) {
  if (!inputs.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
  const bool channels_last = data_format_ == "channels_last";
  compute_output_shape(shape_of(inputs));  // throws for a pool that does not fit a "valid" input
  at::Tensor x = channels_last ? inputs.permute(to_channels_first(rank_)) : inputs;

  // TF's "same": total = max((ceil(in / s) - 1) * s + k - in, 0), left = total / 2, the rest on the right.
  // constant_pad_nd lists (left, right) pairs from the last axis backwards.
  std::vector<int64_t> pads(2 * rank_, 0);
  bool padded = false;
  if (padding_ == "same") {
    for (int64_t i = 0; i < rank_; ++i) {
      const int64_t in = x.size(2 + i), s = strides_[i], k = pool_size_[i];
      const int64_t total = std::max(((in + s - 1) / s - 1) * s + k - in, int64_t{0});
      const int64_t slot = 2 * (rank_ - 1 - i);
      pads[slot] = total / 2;
      pads[slot + 1] = total - total / 2;
      padded = padded || total > 0;
    }
  }
  const std::vector<int64_t>& k = pool_size_;
  const std::vector<int64_t>& s = strides_;
  const std::vector<int64_t> zero(rank_, 0);

  auto average = [&](const at::Tensor& t) {
    switch (rank_) {
      case 1: return at::avg_pool1d(t, k, s, zero, false, true);
      case 2: return at::avg_pool2d(t, k, s, zero, false, true);
      default: return at::avg_pool3d(t, k, s, zero, false, true);
    }
  };

  at::Tensor out;
  if (mode_ == PoolMode::kMax) {
    if (padded) x = at::constant_pad_nd(x, pads, -std::numeric_limits<double>::infinity());
    const std::vector<int64_t> one(rank_, 1);
    switch (rank_) {
      case 1: out = at::max_pool1d(x, k, s, zero, one, false); break;
      case 2: out = at::max_pool2d(x, k, s, zero, one, false); break;
      default: out = at::max_pool3d(x, k, s, zero, one, false); break;
    }
  } else if (!padded) {
    out = average(x);
  } else {
    // mean over the padded window * k = the sum of the valid elements; the same pooling of a ones mask gives
    // the number of valid elements * 1/k, so their ratio is the mean over the valid elements only.
    std::vector<int64_t> mask_shape = {1, 1};
    for (int64_t i = 0; i < rank_; ++i) mask_shape.push_back(x.size(2 + i));
    const at::Tensor count = average(at::constant_pad_nd(at::ones(mask_shape, x.options()), pads, 0));
    out = average(at::constant_pad_nd(x, pads, 0)) / count;
  }
  return channels_last ? out.permute(to_channels_last(rank_)).contiguous() : out;
}

nlohmann::json Pooling::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["pool_size"] = pool_size_;
  config["padding"] = padding_;
  config["strides"] = strides_;
  config["data_format"] = data_format_;
  return config;
}

Pooling::Arguments Pooling::parse_config(const nlohmann::json& config) {
  Arguments args;
  if (config.contains("pool_size") && !config.at("pool_size").is_null())
    args.pool_size = json_ints(config.at("pool_size"));
  if (config.contains("strides") && !config.at("strides").is_null()) args.options.strides = json_ints(config.at("strides"));
  args.options.padding = config.value("padding", "valid");
  if (config.contains("data_format") && !config.at("data_format").is_null())
    args.options.data_format = config.at("data_format").get<std::string>();
  args.options.name = config.value("name", "");
  return args;
}

// ---------------------------------------------------------------------------------------------------------------
// GlobalPooling

GlobalPooling::GlobalPooling(int64_t rank, PoolMode mode, GlobalPoolingOptions options)
    : Layer(pooling_class_name(rank, mode, true), options.name),
      rank_(rank),
      mode_(mode),
      data_format_(check_data_format(describe(), options.data_format)),
      keepdims_(options.keepdims) {
  set_input_spec({.ndim = rank_ + 2});
}

Shape GlobalPooling::compute_output_shape(const Shape& input_shape) const {
  if (static_cast<int64_t>(input_shape.size()) != rank_ + 2)
    throw ShapeError(describe() + ": expected input of rank " + std::to_string(rank_ + 2) + ", got shape " +
                     format_shape(input_shape));
  const int64_t channels = data_format_ == "channels_last" ? input_shape.back() : input_shape[1];
  if (!keepdims_) return {input_shape[0], channels};
  Shape out = input_shape;
  const int64_t first = data_format_ == "channels_last" ? 1 : 2;
  for (int64_t i = 0; i < rank_; ++i) out[first + i] = 1;
  return out;
}

at::Tensor GlobalPooling::call(const at::Tensor& inputs, bool training) {
  if (!inputs.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
  const int64_t first = data_format_ == "channels_last" ? 1 : 2;
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < rank_; ++i) dims.push_back(first + i);
  return mode_ == PoolMode::kMax ? at::amax(inputs, dims, keepdims_) : at::mean(inputs, dims, keepdims_);
}

Tensors GlobalPooling::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  if (rank_ != 1 || mode_ != PoolMode::kAverage || masks.empty() || !masks.front().defined())
    return Layer::call_many(inputs, masks, training);
  const at::Tensor& x = inputs.front();
  const int64_t steps_axis = data_format_ == "channels_last" ? 1 : 2;
  if (masks.front().sizes() != at::IntArrayRef({x.size(0), x.size(steps_axis)}))
    throw ShapeError(describe() + ": expected a mask of shape " + format_dims({x.size(0), x.size(steps_axis)}) +
                     ", got " + format_dims(masks.front().sizes()));
  if (!x.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(x.scalar_type())));
  // A fully masked sample divides 0 by 0 (NaN), as in Keras.
  const at::Tensor weight = masks.front().to(x.scalar_type()).unsqueeze(steps_axis == 1 ? 2 : 1);
  return {(x * weight).sum(steps_axis, keepdims_) / weight.sum(steps_axis, keepdims_)};
}

nlohmann::json GlobalPooling::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["data_format"] = data_format_;
  config["keepdims"] = keepdims_;
  return config;
}

GlobalPoolingOptions GlobalPooling::parse_config(const nlohmann::json& config) {
  GlobalPoolingOptions options;
  if (config.contains("data_format") && !config.at("data_format").is_null())
    options.data_format = config.at("data_format").get<std::string>();
  options.keepdims = config.value("keepdims", false);
  options.name = config.value("name", "");
  return options;
}

}  // namespace strata::layers
