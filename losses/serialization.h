#pragma once
// Losses to and from Keras' serialized form, keyed by class_name: tf.keras 2's {"class_name", "config"} and
// Keras 3's {"module": "keras.losses", "class_name", "config", "registered_name"}, or a string name ("mse").
// User-defined losses register once and then round-trip like the built-ins.

#include <nlohmann/json_fwd.hpp>
#include <strata/core/registry.h>
#include <strata/losses/loss.h>

#include <functional>
#include <memory>
#include <string>

namespace strata::losses {

using LossFactory = std::function<std::shared_ptr<Loss>(const nlohmann::json& config)>;

// {"class_name": loss.class_name(), "config": loss.get_config()} in `dialect`'s form.
nlohmann::json serialize(const Loss& loss, KerasDialect dialect = KerasDialect::kKeras3);

// A loss from serialize()'s form (either dialect) or a string name that get() knows; ValueError naming the
// known classes for an unknown one.
std::shared_ptr<Loss> deserialize(const nlohmann::json& spec);

// Makes deserialize() know `class_name` (a custom loss, or a built-in replaced by the caller).
void register_loss(const std::string& class_name, LossFactory factory);
// For a class with `static L from_config(const nlohmann::json&)`: `register_loss<MyLoss>("MyLoss")`.
template <class L>
  requires std::derived_from<L, Loss>
void register_loss(const std::string& class_name) {
  register_loss(class_name, from_config_factory<Loss, L>());
}

}  // namespace strata::losses
