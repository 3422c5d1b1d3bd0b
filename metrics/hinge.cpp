#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/losses/hinge.h>
#include <strata/metrics/hinge.h>

namespace strata::metrics {
Hinge::Hinge(std::string name)
    : MeanMetricWrapper("Hinge", std::move(name), per_sample_loss(losses::Hinge())) {}

Hinge Hinge::from_config(const nlohmann::json& config) { return Hinge(config.value("name", std::string("hinge"))); }

SquaredHinge::SquaredHinge(std::string name)
    : MeanMetricWrapper("SquaredHinge", std::move(name), per_sample_loss(losses::SquaredHinge())) {}

SquaredHinge SquaredHinge::from_config(const nlohmann::json& config) {
  return SquaredHinge(config.value("name", std::string("squared_hinge")));
}

CategoricalHinge::CategoricalHinge(std::string name)
    : MeanMetricWrapper("CategoricalHinge", std::move(name), per_sample_loss(losses::CategoricalHinge())) {}

CategoricalHinge CategoricalHinge::from_config(const nlohmann::json& config) {
  return CategoricalHinge(config.value("name", std::string("categorical_hinge")));
}

}  // namespace strata::metrics
