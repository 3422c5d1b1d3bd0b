#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/core/shape.h>
#include <strata/layers/dropout.h>
#include <strata/layers/registry.h>

#include <cmath>

namespace strata::layers {
namespace {

using initializers::seed_from;
using initializers::seed_json;

void check_rate(const std::string& who, double rate) {
  if (!(rate >= 0.0 && rate < 1.0)) throw ValueError(who + ": expected rate in [0, 1), got " + std::to_string(rate));
}

void check_floating(const std::string& who, const at::Tensor& inputs) {
  if (!inputs.is_floating_point())
    throw ValueError(who + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
}

// Keras writes noise_shape as a tuple with None entries, or None.
nlohmann::json noise_shape_json(const std::vector<int64_t>& noise_shape) {
  if (noise_shape.empty()) return nullptr;
  nlohmann::json out = nlohmann::json::array();
  for (int64_t d : noise_shape) out.push_back(d == kNone ? nlohmann::json() : nlohmann::json(d));
  return out;
}

std::vector<int64_t> noise_shape_from(const nlohmann::json& config) {
  std::vector<int64_t> out;
  if (!config.contains("noise_shape") || config.at("noise_shape").is_null()) return out;
  for (const auto& d : config.at("noise_shape")) out.push_back(d.is_null() ? kNone : d.get<int64_t>());
  return out;
}

void check_noise_shape(const std::string& who, const std::vector<int64_t>& noise_shape) {
  for (int64_t d : noise_shape)
    if (d <= 0 && d != kNone)
      throw ValueError(who + ": noise_shape entries must be positive or None, got " + format_shape(noise_shape));
}

// `noise_shape` with its None entries filled from `inputs`; it must broadcast against them.
std::vector<int64_t> resolve_noise_shape(const std::string& who, const std::vector<int64_t>& noise_shape,
                                         const at::Tensor& inputs) {
  if (noise_shape.empty()) return {};
  if (static_cast<int64_t>(noise_shape.size()) != inputs.dim())
    throw ShapeError(who + ": noise_shape " + format_shape(noise_shape) + " must have the input's rank, got input shape " +
                     format_dims(inputs.sizes()));
  std::vector<int64_t> out = noise_shape;
  for (int64_t i = 0; i < inputs.dim(); ++i) {
    if (out[i] == kNone) out[i] = inputs.size(i);
    if (out[i] != 1 && out[i] != inputs.size(i))
      throw ShapeError(who + ": noise_shape " + format_shape(noise_shape) +
                       " must have 1 or the input's size on each axis, got input shape " + format_dims(inputs.sizes()));
  }
  return out;
}

// The layers' generators are CPU generators (core/random.h), so noise for a tensor on a GPU is drawn on the CPU
// and moved: the same seed gives the same noise on every device.
at::Tensor on_inputs_device(const at::Tensor& noise, const at::Tensor& inputs) {
  return inputs.is_cpu() ? noise : noise.to(inputs.device(), /*non_blocking=*/true);
}

at::TensorOptions cpu_options(const at::Tensor& inputs) { return inputs.options().device(at::kCPU); }

// A tensor of `inputs`' dtype holding 1 with probability `p`, of `shape` (empty: the inputs' shape).
at::Tensor keep_mask(const at::Tensor& inputs, const std::vector<int64_t>& shape, double p, at::Generator& generator) {
  at::Tensor mask = at::empty(shape.empty() ? inputs.sizes().vec() : shape, cpu_options(inputs));
  return on_inputs_device(mask.bernoulli_(p, generator), inputs);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Dropout

Dropout::Dropout(double rate, DropoutOptions options) : Dropout("Dropout", rate, std::move(options)) {}

Dropout::Dropout(std::string class_name, double rate, DropoutOptions options)
    : Layer(std::move(class_name), std::move(options.name)),
      seed_(options.seed),
      rate_(rate),
      noise_shape_(std::move(options.noise_shape)),
      generator_(generator_for(options.seed)) {
  check_rate(describe(), rate_);
  check_noise_shape(describe(), noise_shape_);
  set_supports_masking(true);
}

std::vector<int64_t> Dropout::noise_shape_for(const at::Tensor& inputs) const {
  return resolve_noise_shape(describe(), noise_shape_, inputs);
}

at::Tensor Dropout::call(const at::Tensor& inputs, bool training) {
  if (!training || rate_ == 0.0) return inputs;
  check_floating(describe(), inputs);
  return inputs * keep_mask(inputs, noise_shape_for(inputs), 1.0 - rate_, generator_).mul_(1.0 / (1.0 - rate_));
}

nlohmann::json Dropout::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["rate"] = rate_;
  config["noise_shape"] = noise_shape_json(noise_shape_);
  config["seed"] = seed_json(seed_);
  return config;
}

Dropout Dropout::from_config(const nlohmann::json& config) {
  Dropout layer(config.at("rate").get<double>(),
                {.noise_shape = noise_shape_from(config), .seed = seed_from(config), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// SpatialDropout1D/2D/3D

SpatialDropout::SpatialDropout(std::string class_name, int64_t rank, double rate, std::string data_format,
                               initializers::Seed seed, std::string name)
    : Dropout(std::move(class_name), rate, {.seed = seed, .name = std::move(name)}),
      rank_(rank),
      data_format_(std::move(data_format)) {
  if (data_format_ != "channels_last" && data_format_ != "channels_first")
    throw ValueError(describe() + ": expected data_format \"channels_last\" or \"channels_first\", got \"" +
                     data_format_ + "\"");
  set_input_spec({.ndim = rank_ + 2});
}

std::vector<int64_t> SpatialDropout::noise_shape_for(const at::Tensor& inputs) const {
  std::vector<int64_t> shape(rank_ + 2, 1);
  const int64_t channel_axis = data_format_ == "channels_last" ? rank_ + 1 : 1;
  shape[0] = inputs.size(0);
  shape[channel_axis] = inputs.size(channel_axis);
  return shape;
}

nlohmann::json SpatialDropout::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["rate"] = rate();
  config["seed"] = seed_json(seed_);
  if (rank_ > 1) config["data_format"] = data_format_;
  return config;
}

SpatialDropoutOptions SpatialDropout::options_from_config(const nlohmann::json& config) {
  return {.data_format = data_format_from(config),
          .seed = seed_from(config),
          .name = config.value("name", "")};
}

SpatialDropout1D::SpatialDropout1D(double rate, SpatialDropout1DOptions options)
    : SpatialDropout("SpatialDropout1D", 1, rate, "channels_last", options.seed, std::move(options.name)) {}

SpatialDropout2D::SpatialDropout2D(double rate, SpatialDropoutOptions options)
    : SpatialDropout("SpatialDropout2D", 2, rate, std::move(options.data_format), options.seed,
                     std::move(options.name)) {}

SpatialDropout3D::SpatialDropout3D(double rate, SpatialDropoutOptions options)
    : SpatialDropout("SpatialDropout3D", 3, rate, std::move(options.data_format), options.seed,
                     std::move(options.name)) {}

SpatialDropout1D SpatialDropout1D::from_config(const nlohmann::json& config) {
  SpatialDropout1D layer(config.at("rate").get<double>(), {.seed = seed_from(config), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

SpatialDropout2D SpatialDropout2D::from_config(const nlohmann::json& config) {
  SpatialDropout2D layer(config.at("rate").get<double>(), options_from_config(config));
  layer.apply_base_config(config);
  return layer;
}

SpatialDropout3D SpatialDropout3D::from_config(const nlohmann::json& config) {
  SpatialDropout3D layer(config.at("rate").get<double>(), options_from_config(config));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// GaussianDropout

GaussianDropout::GaussianDropout(double rate, GaussianOptions options)
    : Layer("GaussianDropout", std::move(options.name)),
      rate_(rate),
      seed_(options.seed),
      generator_(generator_for(options.seed)) {
  check_rate(describe(), rate_);
  set_supports_masking(true);
}

at::Tensor GaussianDropout::call(const at::Tensor& inputs, bool training) {
  if (!training || rate_ == 0.0) return inputs;
  check_floating(describe(), inputs);
  const double stddev = std::sqrt(rate_ / (1.0 - rate_));
  return inputs * on_inputs_device(at::empty(inputs.sizes(), cpu_options(inputs)).normal_(1.0, stddev, generator_), inputs);
}

nlohmann::json GaussianDropout::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["rate"] = rate_;
  config["seed"] = seed_json(seed_);
  return config;
}

GaussianDropout GaussianDropout::from_config(const nlohmann::json& config) {
  GaussianDropout layer(config.at("rate").get<double>(), {.seed = seed_from(config), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// GaussianNoise

GaussianNoise::GaussianNoise(double stddev, GaussianOptions options)
    : Layer("GaussianNoise", std::move(options.name)),
      stddev_(stddev),
      seed_(options.seed),
      generator_(generator_for(options.seed)) {
  if (!(stddev_ >= 0.0 && std::isfinite(stddev_)))
    throw ValueError(describe() + ": expected a finite stddev >= 0, got " + std::to_string(stddev_));
  set_supports_masking(true);
}

at::Tensor GaussianNoise::call(const at::Tensor& inputs, bool training) {
  if (!training || stddev_ == 0.0) return inputs;
  check_floating(describe(), inputs);
  return inputs + on_inputs_device(at::empty(inputs.sizes(), cpu_options(inputs)).normal_(0.0, stddev_, generator_), inputs);
}

nlohmann::json GaussianNoise::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["stddev"] = stddev_;
  config["seed"] = seed_json(seed_);
  return config;
}

GaussianNoise GaussianNoise::from_config(const nlohmann::json& config) {
  GaussianNoise layer(config.at("stddev").get<double>(), {.seed = seed_from(config), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// AlphaDropout

AlphaDropout::AlphaDropout(double rate, DropoutOptions options)
    : Layer("AlphaDropout", std::move(options.name)),
      rate_(rate),
      noise_shape_(std::move(options.noise_shape)),
      seed_(options.seed),
      generator_(generator_for(options.seed)) {
  check_rate(describe(), rate_);
  check_noise_shape(describe(), noise_shape_);
  set_supports_masking(true);
}

at::Tensor AlphaDropout::call(const at::Tensor& inputs, bool training) {
  if (!training || rate_ == 0.0) return inputs;
  check_floating(describe(), inputs);
  // SELU's constants: a dropped unit takes the value SELU saturates to for very negative inputs.
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  const double alpha_p = -kAlpha * kScale;
  const double a = 1.0 / std::sqrt((1.0 - rate_) * (1.0 + rate_ * alpha_p * alpha_p));
  const double b = -a * alpha_p * rate_;
  const at::Tensor kept = keep_mask(inputs, resolve_noise_shape(describe(), noise_shape_, inputs), 1.0 - rate_, generator_);
  return (inputs * kept + (1.0 - kept) * alpha_p) * a + b;
}

nlohmann::json AlphaDropout::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["rate"] = rate_;
  config["noise_shape"] = noise_shape_json(noise_shape_);
  config["seed"] = seed_json(seed_);
  return config;
}

AlphaDropout AlphaDropout::from_config(const nlohmann::json& config) {
  AlphaDropout layer(config.at("rate").get<double>(),
                     {.noise_shape = noise_shape_from(config), .seed = seed_from(config), .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// ActivityRegularization

ActivityRegularization::ActivityRegularization(double l1, double l2, std::string name)
    : Layer("ActivityRegularization", std::move(name)), l1_(l1), l2_(l2) {
  if (!(l1_ >= 0.0) || !(l2_ >= 0.0))
    throw ValueError(describe() + ": expected non-negative l1 and l2, got l1=" + std::to_string(l1_) +
                     " l2=" + std::to_string(l2_));
  set_activity_regularizer(std::make_shared<regularizers::L1L2>(l1_, l2_));
  set_supports_masking(true);
}

nlohmann::json ActivityRegularization::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["l1"] = l1_;
  config["l2"] = l2_;
  return config;
}

ActivityRegularization ActivityRegularization::from_config(const nlohmann::json& config) {
  ActivityRegularization layer(config.value("l1", 0.0), config.value("l2", 0.0), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
