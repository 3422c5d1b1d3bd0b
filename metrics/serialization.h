#pragma once
// Metrics to and from Keras' serialized form, keyed by class_name: tf.keras 2's {"class_name", "config"} and
// Keras 3's {"module": "keras.metrics", "class_name", "config", "registered_name"}. User-defined metrics
// register once and then round-trip like the built-ins.

#include <nlohmann/json_fwd.hpp>
#include <strata/core/registry.h>
#include <strata/metrics/metric.h>

#include <functional>
#include <memory>
#include <string>

namespace strata::metrics {

using MetricFactory = std::function<std::shared_ptr<Metric>(const nlohmann::json& config)>;

// {"class_name": metric.class_name(), "config": metric.get_config()} in `dialect`'s form.
nlohmann::json serialize(const Metric& metric, KerasDialect dialect = KerasDialect::kKeras3);

// A metric from serialize()'s form (either dialect) or a string name that get() knows; ValueError naming
// the known classes for an unknown one. ("accuracy" depends on the loss: compile() resolves it, not this.)
std::shared_ptr<Metric> deserialize(const nlohmann::json& spec);

// Makes deserialize() know `class_name` (a custom metric, or a built-in replaced by the caller).
void register_metric(const std::string& class_name, MetricFactory factory);
// For a class with `static M from_config(const nlohmann::json&)`: `register_metric<MyMetric>("MyMetric")`.
template <class M>
  requires std::derived_from<M, Metric>
void register_metric(const std::string& class_name) {
  register_metric(class_name, from_config_factory<Metric, M>());
}

}  // namespace strata::metrics
