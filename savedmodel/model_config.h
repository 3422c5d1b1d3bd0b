#pragma once
// Keras' serialized layer and model configs, in either dialect Keras writes:
//   - Keras 3 (`model.to_json()`, the .keras archive's config.json): every object carries `module` and
//     `registered_name`, dtypes are DTypePolicy objects, layers carry `build_config`, and inbound nodes are
//     {"args", "kwargs"} with `__keras_tensor__` entries;
//   - Keras 2 (tf.keras 2.15, the legacy .h5 `model_config`): plain {"class_name", "config"}, string dtypes,
//     list-form inbound nodes [[["x", 0, 0, {}]]].
// Reading accepts both, whichever wrote them (Strata, Keras 3 or tf.keras 2).

#include <nlohmann/json_fwd.hpp>
#include <strata/core/registry.h>
#include <strata/layers/layer.h>

#include <memory>

namespace strata {
class Model;
}

namespace strata::models {

// The dialect losses, metrics and optimizers serialize in too (core/registry.h).
using strata::KerasDialect;

// {"class_name", "config", ...} of any layer: a built-in, a registered custom class, or a model (Sequential,
// functional, registered subclass) with its layers. Models give Keras' whole model config.
nlohmann::json serialize_layer(const Layer& layer, KerasDialect dialect);
nlohmann::json serialize_model(const Model& model, KerasDialect dialect);

// A new, unbuilt layer (or model) from either dialect. Errors are ValueErrors naming the layer and the key.
std::shared_ptr<Layer> deserialize_layer(const nlohmann::json& spec);

// The config part of serialize_model for a Sequential or functional model (Keras' model.get_config()).
nlohmann::json model_config(const Model& model, KerasDialect dialect);

}  // namespace strata::models
