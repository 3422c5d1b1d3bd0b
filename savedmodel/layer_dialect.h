#pragma once
// One layer's own config in the dialect a Keras version reads, and back. Strata's get_config() writes Keras'
// argument names; the two Keras versions differ in how nested objects are wrapped (Keras 3: `module`,
// `registered_name`, DTypePolicy objects) and in a few per-class keys that one version rejects.

#include <nlohmann/json.hpp>
#include <strata/savedmodel/model_config.h>

#include <string>

namespace strata::models {

// Strata's config of a `class_name` layer, rewritten for `dialect`.
nlohmann::json config_to_dialect(const std::string& class_name, nlohmann::json config, KerasDialect dialect);

// A config written by either Keras version (or Strata), rewritten so Strata's from_config reads it.
nlohmann::json config_from_keras(const std::string& class_name, nlohmann::json config);

// Keras 3's envelope fields for a built-in object of `kind` ("layers", "initializers", ...).
nlohmann::json keras3_object(const std::string& kind, const std::string& class_name, nlohmann::json config);

}  // namespace strata::models
