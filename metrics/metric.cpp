#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/metric.h>

#include <functional>
#include <map>

namespace strata::metrics {

Metric::Metric(std::string class_name, std::string name) : class_name_(std::move(class_name)), name_(std::move(name)) {}

nlohmann::json Metric::get_config() const { return {{"name", name_}, {"dtype", "float32"}}; }

std::shared_ptr<PredictionMetric> get(const std::string& name) {
  using Factory = std::function<std::shared_ptr<PredictionMetric>()>;
  static const std::map<std::string, Factory> factories = {
      {"binary_accuracy", [] { return std::make_shared<BinaryAccuracy>(); }},
      {"categorical_accuracy", [] { return std::make_shared<CategoricalAccuracy>(); }},
      {"sparse_categorical_accuracy", [] { return std::make_shared<SparseCategoricalAccuracy>(); }},
  };
  auto it = factories.find(name);
  if (it == factories.end()) {
    std::string known = "accuracy, acc";
    for (const auto& [key, factory] : factories) known += ", " + key;
    throw ValueError("unknown metric '" + name + "'; expected one of: " + known);
  }
  return it->second();
}

}  // namespace strata::metrics
