#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/constraints.h>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/core/shape.h>

namespace strata::constraints {
namespace {

// Keras' backend epsilon, added to norms before dividing by them.
constexpr double kEpsilon = 1e-7;

at::Tensor norms_over(const at::Tensor& w, const Axes& axis) {
  for (int64_t a : axis)
    if (a >= w.dim() || a < -w.dim())
      throw ValueError("constraint: axis " + std::to_string(a) + " is out of range for a weight of shape " +
                       format_dims(w.sizes()));
  return w.square().sum(axis, /*keepdim=*/true).sqrt();
}

// Keras writes a single axis as an int.
nlohmann::json axis_json(const Axes& axis) { return axis.size() == 1 ? nlohmann::json(axis[0]) : nlohmann::json(axis); }

Axes axis_from(const nlohmann::json& config) {
  if (!config.contains("axis")) return {0};
  const auto& axis = config.at("axis");
  return axis.is_array() ? axis.get<Axes>() : Axes{axis.get<int64_t>()};
}

}  // namespace

nlohmann::json Constraint::get_config() const { return nlohmann::json::object(); }

MaxNorm::MaxNorm(double max_value, Axes axis) : max_value_(max_value), axis_(std::move(axis)) {
  if (!(max_value_ >= 0.0)) throw ValueError("MaxNorm: expected max_value >= 0, got " + std::to_string(max_value_));
}

at::Tensor MaxNorm::operator()(const at::Tensor& w) const {
  at::Tensor norms = norms_over(w, axis_);
  return w * (norms.clamp(0.0, max_value_) / (norms + kEpsilon));
}

nlohmann::json MaxNorm::get_config() const { return {{"max_value", max_value_}, {"axis", axis_json(axis_)}}; }

MinMaxNorm::MinMaxNorm(MinMaxNormOptions options) : options_(std::move(options)) {
  if (!(options_.min_value <= options_.max_value) || !(options_.rate >= 0.0 && options_.rate <= 1.0))
    throw ValueError("MinMaxNorm: expected min_value <= max_value and rate in [0, 1], got min_value=" +
                     std::to_string(options_.min_value) + " max_value=" + std::to_string(options_.max_value) +
                     " rate=" + std::to_string(options_.rate));
}

at::Tensor MinMaxNorm::operator()(const at::Tensor& w) const {
  at::Tensor norms = norms_over(w, options_.axis);
  at::Tensor desired =
      options_.rate * norms.clamp(options_.min_value, options_.max_value) + (1.0 - options_.rate) * norms;
  return w * (desired / (norms + kEpsilon));
}

nlohmann::json MinMaxNorm::get_config() const {
  return {{"min_value", options_.min_value},
          {"max_value", options_.max_value},
          {"rate", options_.rate},
          {"axis", axis_json(options_.axis)}};
}

at::Tensor NonNeg::operator()(const at::Tensor& w) const { return w * (w >= 0).to(w.scalar_type()); }

at::Tensor UnitNorm::operator()(const at::Tensor& w) const { return w / (norms_over(w, axis_) + kEpsilon); }

nlohmann::json UnitNorm::get_config() const { return {{"axis", axis_json(axis_)}}; }

std::shared_ptr<Constraint> get(const std::string& name) {
  static const Factories<Constraint> factories = {
      {"max_norm", [] { return std::make_shared<MaxNorm>(); }},
      {"min_max_norm", [] { return std::make_shared<MinMaxNorm>(); }},
      {"non_neg", [] { return std::make_shared<NonNeg>(); }},
      {"unit_norm", [] { return std::make_shared<UnitNorm>(); }},
  };
  return create(factories, "constraint", name);
}

nlohmann::json serialize(const Spec& constraint) {
  if (!constraint) return nullptr;
  return {{"class_name", constraint->class_name()}, {"config", constraint->get_config()}};
}

Spec deserialize(const nlohmann::json& spec) {
  if (spec.is_null()) return {};
  if (spec.is_string()) return get(spec.get<std::string>());
  if (!spec.is_object() || !spec.contains("class_name"))
    throw ValueError("constraint spec must be null, a name or {\"class_name\", \"config\"}, got " + spec.dump());
  const std::string name = spec.at("class_name").get<std::string>();
  const nlohmann::json config = spec.value("config", nlohmann::json::object());
  if (name == "MaxNorm") return std::make_shared<MaxNorm>(config.value("max_value", 2.0), axis_from(config));
  if (name == "MinMaxNorm")
    return std::make_shared<MinMaxNorm>(MinMaxNormOptions{config.value("min_value", 0.0), config.value("max_value", 1.0),
                                                          config.value("rate", 1.0), axis_from(config)});
  if (name == "NonNeg") return std::make_shared<NonNeg>();
  if (name == "UnitNorm") return std::make_shared<UnitNorm>(axis_from(config));
  throw ValueError("unknown constraint class '" + name + "'; expected one of: MaxNorm, MinMaxNorm, NonNeg, UnitNorm");
}

}  // namespace strata::constraints
