#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/core/regularizers.h>

namespace strata::regularizers {

L1L2::L1L2(double l1, double l2) : l1_(l1), l2_(l2) {
  if (!(l1 >= 0.0) || !(l2 >= 0.0))
    throw ValueError("regularizer: expected non-negative l1 and l2 factors, got l1=" + std::to_string(l1) +
                     " l2=" + std::to_string(l2));
}

at::Tensor L1L2::operator()(const at::Tensor& x) const {
  at::Tensor penalty = at::zeros({}, x.options());
  if (l1_ != 0.0) penalty = penalty + l1_ * x.abs().sum();
  if (l2_ != 0.0) penalty = penalty + l2_ * x.square().sum();
  return penalty;
}

nlohmann::json L1L2::get_config() const { return {{"l1", l1_}, {"l2", l2_}}; }
nlohmann::json L1::get_config() const { return {{"l1", l1()}}; }
nlohmann::json L2::get_config() const { return {{"l2", l2()}}; }

std::shared_ptr<Regularizer> get(const std::string& name) {
  static const Factories<Regularizer> factories = {
      {"l1", [] { return std::make_shared<L1>(); }},
      {"l2", [] { return std::make_shared<L2>(); }},
      {"l1_l2", [] { return std::make_shared<L1L2>(0.01, 0.01); }},  // keras.regularizers.l1_l2() defaults
  };
  return create(factories, "regularizer", name);
}

nlohmann::json serialize(const Spec& regularizer) {
  if (!regularizer) return nullptr;
  return {{"class_name", regularizer->class_name()}, {"config", regularizer->get_config()}};
}

Spec deserialize(const nlohmann::json& spec) {
  if (spec.is_null()) return {};
  if (spec.is_string()) return get(spec.get<std::string>());
  if (!spec.is_object() || !spec.contains("class_name"))
    throw ValueError("regularizer spec must be null, a name or {\"class_name\", \"config\"}, got " + spec.dump());
  const std::string name = spec.at("class_name").get<std::string>();
  const nlohmann::json config = spec.value("config", nlohmann::json::object());
  if (name == "L1") return std::make_shared<L1>(config.value("l1", 0.01));
  if (name == "L2") return std::make_shared<L2>(config.value("l2", 0.01));
  if (name == "L1L2") return std::make_shared<L1L2>(config.value("l1", 0.0), config.value("l2", 0.0));
  throw ValueError("unknown regularizer class '" + name + "'; expected one of: L1, L1L2, L2");
}

}  // namespace strata::regularizers
