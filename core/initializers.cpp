#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/initializers.h>
#include <strata/core/random.h>
#include <strata/core/registry.h>

#include <cmath>

namespace strata::initializers {
namespace {

at::TensorOptions float_options(at::ScalarType dtype) { return at::TensorOptions().dtype(dtype); }

// Standard normal samples restricted to [-2, 2] by inverting the CDF on the matching uniform interval,
// which gives the truncated distribution exactly without a resampling loop.
at::Tensor truncated_standard_normal(const Shape& shape, at::ScalarType dtype, const Seed& seed) {
  const double lower_cdf = 0.5 * std::erfc(2.0 / std::sqrt(2.0));  // Phi(-2)
  auto u = at::empty(shape, float_options(at::kDouble));
  u.uniform_(lower_cdf, 1.0 - lower_cdf, generator_for(seed));
  return (at::erfinv(u * 2.0 - 1.0) * std::sqrt(2.0)).to(dtype);
}

}  // namespace

nlohmann::json Initializer::get_config() const { return nlohmann::json::object(); }

Fans compute_fans(const Shape& shape) {
  if (shape.empty()) return {1.0, 1.0};
  if (shape.size() == 1) return {double(shape[0]), double(shape[0])};
  if (shape.size() == 2) return {double(shape[0]), double(shape[1])};
  double receptive_field = 1.0;
  for (size_t i = 0; i + 2 < shape.size(); ++i) receptive_field *= double(shape[i]);
  return {double(shape[shape.size() - 2]) * receptive_field, double(shape.back()) * receptive_field};
}

at::Tensor Zeros::operator()(const Shape& shape, at::ScalarType dtype) const {
  return at::zeros(shape, float_options(dtype));
}

at::Tensor Ones::operator()(const Shape& shape, at::ScalarType dtype) const {
  return at::ones(shape, float_options(dtype));
}

at::Tensor Constant::operator()(const Shape& shape, at::ScalarType dtype) const {
  return at::full(shape, value_, float_options(dtype));
}
nlohmann::json Constant::get_config() const { return {{"value", value_}}; }

at::Tensor RandomNormal::operator()(const Shape& shape, at::ScalarType dtype) const {
  auto out = at::empty(shape, float_options(dtype));
  return out.normal_(options_.mean, options_.stddev, generator_for(options_.seed));
}
nlohmann::json RandomNormal::get_config() const {
  return {{"mean", options_.mean}, {"stddev", options_.stddev}, {"seed", seed_json(options_.seed)}};
}

at::Tensor TruncatedNormal::operator()(const Shape& shape, at::ScalarType dtype) const {
  return truncated_standard_normal(shape, dtype, options_.seed) * options_.stddev + options_.mean;
}
nlohmann::json TruncatedNormal::get_config() const {
  return {{"mean", options_.mean}, {"stddev", options_.stddev}, {"seed", seed_json(options_.seed)}};
}

RandomUniform::RandomUniform(RandomUniformOptions options) : options_(options) {
  if (!(options_.minval < options_.maxval))
    throw ValueError("RandomUniform: expected minval < maxval, got minval=" + std::to_string(options_.minval) +
                     " maxval=" + std::to_string(options_.maxval));
}
at::Tensor RandomUniform::operator()(const Shape& shape, at::ScalarType dtype) const {
  auto out = at::empty(shape, float_options(dtype));
  return out.uniform_(options_.minval, options_.maxval, generator_for(options_.seed));
}
nlohmann::json RandomUniform::get_config() const {
  return {{"minval", options_.minval}, {"maxval", options_.maxval}, {"seed", seed_json(options_.seed)}};
}

VarianceScaling::VarianceScaling(VarianceScalingOptions options) : VarianceScaling("", std::move(options)) {}

VarianceScaling::VarianceScaling(std::string preset_name, VarianceScalingOptions options)
    : preset_name_(std::move(preset_name)), options_(std::move(options)) {
  const std::string who = preset_name_.empty() ? "VarianceScaling" : preset_name_;
  if (!(options_.scale > 0.0))
    throw ValueError(who + ": expected scale > 0, got " + std::to_string(options_.scale));
  if (options_.mode != "fan_in" && options_.mode != "fan_out" && options_.mode != "fan_avg")
    throw ValueError(who + ": expected mode fan_in, fan_out or fan_avg, got '" + options_.mode + "'");
  if (options_.distribution == "normal") options_.distribution = "truncated_normal";  // Keras' alias
  if (options_.distribution != "truncated_normal" && options_.distribution != "untruncated_normal" &&
      options_.distribution != "uniform")
    throw ValueError(who + ": expected distribution truncated_normal, untruncated_normal or uniform, got '" +
                     options_.distribution + "'");
}

at::Tensor VarianceScaling::operator()(const Shape& shape, at::ScalarType dtype) const {
  const Fans fans = compute_fans(shape);
  double fan = fans.fan_in;
  if (options_.mode == "fan_out") fan = fans.fan_out;
  if (options_.mode == "fan_avg") fan = (fans.fan_in + fans.fan_out) / 2.0;
  const double variance = options_.scale / std::max(1.0, fan);
  if (options_.distribution == "truncated_normal") {
    // 0.8796... is the standard deviation of a unit normal truncated to [-2, 2].
    const double stddev = std::sqrt(variance) / 0.87962566103423978;
    return truncated_standard_normal(shape, dtype, options_.seed) * stddev;
  }
  auto out = at::empty(shape, float_options(dtype));
  if (options_.distribution == "untruncated_normal")
    return out.normal_(0.0, std::sqrt(variance), generator_for(options_.seed));
  const double limit = std::sqrt(3.0 * variance);
  return out.uniform_(-limit, limit, generator_for(options_.seed));
}

nlohmann::json VarianceScaling::get_config() const {
  if (!preset_name_.empty()) return {{"seed", seed_json(options_.seed)}};
  return {{"scale", options_.scale},
          {"mode", options_.mode},
          {"distribution", options_.distribution},
          {"seed", seed_json(options_.seed)}};
}

GlorotUniform::GlorotUniform(Seed seed) : VarianceScaling("GlorotUniform", {1.0, "fan_avg", "uniform", seed}) {}
GlorotNormal::GlorotNormal(Seed seed)
    : VarianceScaling("GlorotNormal", {1.0, "fan_avg", "truncated_normal", seed}) {}
HeUniform::HeUniform(Seed seed) : VarianceScaling("HeUniform", {2.0, "fan_in", "uniform", seed}) {}
HeNormal::HeNormal(Seed seed) : VarianceScaling("HeNormal", {2.0, "fan_in", "truncated_normal", seed}) {}
LecunUniform::LecunUniform(Seed seed) : VarianceScaling("LecunUniform", {1.0, "fan_in", "uniform", seed}) {}
LecunNormal::LecunNormal(Seed seed) : VarianceScaling("LecunNormal", {1.0, "fan_in", "truncated_normal", seed}) {}

at::Tensor Orthogonal::operator()(const Shape& shape, at::ScalarType dtype) const {
  if (shape.size() < 2)
    throw ShapeError("Orthogonal: expected a shape of rank >= 2, got " + format_shape(shape));
  const int64_t cols = shape.back();
  const int64_t rows = num_elements(shape) / cols;
  // QR of a Gaussian matrix with the signs of R's diagonal folded into Q gives a uniformly random
  // orthogonal matrix; a wide matrix is drawn transposed so Q has orthonormal rows instead.
  auto gaussian = at::empty({std::max(rows, cols), std::min(rows, cols)}, float_options(at::kDouble));
  gaussian.normal_(0.0, 1.0, generator_for(options_.seed));
  auto [q, r] = at::linalg_qr(gaussian);
  q = q * at::sign(r.diagonal()).unsqueeze(0);
  if (rows < cols) q = q.t();
  return (q * options_.gain).reshape(shape).to(dtype).contiguous();
}
nlohmann::json Orthogonal::get_config() const {
  return {{"gain", options_.gain}, {"seed", seed_json(options_.seed)}};
}

at::Tensor Identity::operator()(const Shape& shape, at::ScalarType dtype) const {
  if (shape.size() != 2)
    throw ShapeError("Identity: expected a 2-D shape, got " + format_shape(shape));
  return at::eye(shape[0], shape[1], float_options(dtype)) * gain_;
}
nlohmann::json Identity::get_config() const { return {{"gain", gain_}}; }

std::shared_ptr<Initializer> get(const std::string& name) {
  static const Factories<Initializer> factories = {
      {"zeros", [] { return std::make_shared<Zeros>(); }},
      {"ones", [] { return std::make_shared<Ones>(); }},
      {"constant", [] { return std::make_shared<Constant>(); }},
      {"random_normal", [] { return std::make_shared<RandomNormal>(); }},
      {"random_uniform", [] { return std::make_shared<RandomUniform>(); }},
      {"uniform", [] { return std::make_shared<RandomUniform>(); }},
      {"truncated_normal", [] { return std::make_shared<TruncatedNormal>(); }},
      {"variance_scaling", [] { return std::make_shared<VarianceScaling>(); }},
      {"glorot_uniform", [] { return std::make_shared<GlorotUniform>(); }},
      {"glorot_normal", [] { return std::make_shared<GlorotNormal>(); }},
      {"he_uniform", [] { return std::make_shared<HeUniform>(); }},
      {"he_normal", [] { return std::make_shared<HeNormal>(); }},
      {"lecun_uniform", [] { return std::make_shared<LecunUniform>(); }},
      {"lecun_normal", [] { return std::make_shared<LecunNormal>(); }},
      {"orthogonal", [] { return std::make_shared<Orthogonal>(); }},
      {"identity", [] { return std::make_shared<Identity>(); }},
  };
  return create(factories, "initializer", name);
}

nlohmann::json serialize(const Initializer& initializer) {
  return {{"class_name", initializer.class_name()}, {"config", initializer.get_config()}};
}

std::shared_ptr<Initializer> deserialize(const nlohmann::json& spec) {
  if (spec.is_string()) return get(spec.get<std::string>());
  if (!spec.is_object() || !spec.contains("class_name"))
    throw ValueError("initializer spec must be a name or {\"class_name\", \"config\"}, got " + spec.dump());
  const std::string name = spec.at("class_name").get<std::string>();
  const nlohmann::json config = spec.value("config", nlohmann::json::object());
  const Seed seed = seed_from(config);
  const Factories<Initializer> factories = {
      {"Zeros", [] { return std::make_shared<Zeros>(); }},
      {"Ones", [] { return std::make_shared<Ones>(); }},
      {"Constant", [&] { return std::make_shared<Constant>(config.value("value", 0.0)); }},
      {"RandomNormal",
       [&] { return std::make_shared<RandomNormal>(RandomNormalOptions{config.value("mean", 0.0), config.value("stddev", 0.05), seed}); }},
      {"TruncatedNormal",
       [&] { return std::make_shared<TruncatedNormal>(RandomNormalOptions{config.value("mean", 0.0), config.value("stddev", 0.05), seed}); }},
      {"RandomUniform",
       [&] { return std::make_shared<RandomUniform>(RandomUniformOptions{config.value("minval", -0.05), config.value("maxval", 0.05), seed}); }},
      {"VarianceScaling",
       [&] {
         return std::make_shared<VarianceScaling>(VarianceScalingOptions{
             config.value("scale", 1.0), config.value("mode", "fan_in"), config.value("distribution", "truncated_normal"), seed});
       }},
      {"GlorotUniform", [&] { return std::make_shared<GlorotUniform>(seed); }},
      {"GlorotNormal", [&] { return std::make_shared<GlorotNormal>(seed); }},
      {"HeUniform", [&] { return std::make_shared<HeUniform>(seed); }},
      {"HeNormal", [&] { return std::make_shared<HeNormal>(seed); }},
      {"LecunUniform", [&] { return std::make_shared<LecunUniform>(seed); }},
      {"LecunNormal", [&] { return std::make_shared<LecunNormal>(seed); }},
      {"Orthogonal", [&] { return std::make_shared<Orthogonal>(OrthogonalOptions{config.value("gain", 1.0), seed}); }},
      {"Identity", [&] { return std::make_shared<Identity>(config.value("gain", 1.0)); }},
  };
  return create(factories, "initializer class", name);
}

nlohmann::json seed_json(const Seed& seed) { return seed ? nlohmann::json(*seed) : nlohmann::json(nullptr); }

Seed seed_from(const nlohmann::json& config) {
  if (!config.contains("seed") || config.at("seed").is_null()) return std::nullopt;
  return config.at("seed").get<uint64_t>();
}

}  // namespace strata::initializers
