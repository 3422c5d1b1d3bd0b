#pragma once
// Optimizers to and from Keras' serialized form, keyed by class_name: tf.keras 2's {"class_name", "config"}
// (also its "Custom>Adam" spelling) and Keras 3's {"module": "keras.optimizers", "class_name", "config",
// "registered_name"}, or a string name ("adam"). User-defined optimizers register once.

#include <nlohmann/json_fwd.hpp>
#include <strata/core/registry.h>
#include <strata/optimizers/optimizer.h>

#include <functional>
#include <memory>
#include <string>

namespace strata::optimizers {

using OptimizerFactory = std::function<std::shared_ptr<Optimizer>(const nlohmann::json& config)>;

// {"class_name": optimizer.class_name(), "config": optimizer.get_config()} in `dialect`'s form. For kKeras2 the
// Keras-3-only keys tf.keras 2.15's optimizers reject (loss_scale_factor, gradient_accumulation_steps) are left
// out when unset.
nlohmann::json serialize(const Optimizer& optimizer, KerasDialect dialect = KerasDialect::kKeras3);

// A new, unbuilt optimizer from serialize()'s form (either dialect) or a string name that get() knows;
// ValueError naming the known classes for an unknown one.
std::shared_ptr<Optimizer> deserialize(const nlohmann::json& spec);

// Makes deserialize() know `class_name` (a custom optimizer, or a built-in replaced by the caller).
void register_optimizer(const std::string& class_name, OptimizerFactory factory);
// For a class with `static O from_config(const nlohmann::json&)`: `register_optimizer<MyOpt>("MyOpt")`.
template <class O>
  requires std::derived_from<O, Optimizer>
void register_optimizer(const std::string& class_name) {
  register_optimizer(class_name, from_config_factory<Optimizer, O>());
}

}  // namespace strata::optimizers
