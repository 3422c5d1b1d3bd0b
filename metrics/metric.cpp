#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/metric.h>


namespace strata::metrics {

Metric::Metric(std::string class_name, std::string name) : class_name_(std::move(class_name)), name_(std::move(name)) {}

nlohmann::json Metric::get_config() const { return {{"name", name_}, {"dtype", "float32"}}; }

std::shared_ptr<PredictionMetric> get(const std::string& name) {
  // "accuracy" and "acc" are not here: which accuracy they mean depends on the loss (Model::compile).
  static const Factories<PredictionMetric> factories = {
      {"binary_accuracy", [] { return std::make_shared<BinaryAccuracy>(); }},
      {"categorical_accuracy", [] { return std::make_shared<CategoricalAccuracy>(); }},
      {"sparse_categorical_accuracy", [] { return std::make_shared<SparseCategoricalAccuracy>(); }},
  };
  if (!factories.contains(name))
    throw ValueError("unknown metric '" + name + "'; expected one of: accuracy, acc, " + joined_keys(factories));
  return create(factories, "metric", name);
}

}  // namespace strata::metrics
