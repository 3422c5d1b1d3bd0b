#pragma once
// Layers to and from Keras' serialized form {"class_name": "Dense", "config": {...}}: every built-in
// layer is known by its Keras class name, and custom layers can be registered alongside them.

#include <nlohmann/json_fwd.hpp>
#include <strata/core/constraints.h>
#include <strata/core/initializers.h>
#include <strata/core/regularizers.h>
#include <strata/layers/layer.h>

#include <functional>
#include <memory>
#include <string>
#include <typeindex>

namespace strata::layers {

using LayerFactory = std::function<std::shared_ptr<Layer>(const nlohmann::json& config)>;
// Moves a layer object (of the registered type exactly) into a new shared_ptr.
using LayerMover = std::function<std::shared_ptr<Layer>(Layer&& layer)>;

template <class L>
LayerMover mover_of() {
  return [](Layer&& layer) -> std::shared_ptr<Layer> { return std::make_shared<L>(std::move(static_cast<L&>(layer))); };
}

// {"class_name": ..., "config": layer.get_config()}
nlohmann::json serialize(const Layer& layer);

// A new, unbuilt layer from serialize()'s form; throws ValueError for an unknown class or a bad config.
std::shared_ptr<Layer> deserialize(const nlohmann::json& spec);

// Makes deserialize() know `class_name` (a custom layer, or a built-in replaced by the caller).
void register_layer(const std::string& class_name, LayerFactory factory);

// A temporary layer called on symbolic tensors (`layers::Dense(10)(x)`) moves into the graph; that needs its
// class. Built-in layers and models are known; a custom class becomes known with register_layer_type<L>().
void register_layer_type(std::type_index type, LayerMover move);
template <class L>
  requires std::derived_from<L, Layer>
void register_layer_type() {
  register_layer_type(typeid(L), mover_of<L>());
}
// A user-defined layer (or Model subclass with get_config/from_config) saves and loads like a built-in:
// `layers::register_class<MyLayer>("my_package>MyLayer")` (or STRATA_REGISTER_LAYER below) makes
// deserialize() know it by that name and by its class name alone, lets temporaries of it join a functional
// graph, and makes Keras 3 configs name it with registered_name "my_package>MyLayer", as Keras does.
void register_class(const std::string& registered_name, std::type_index type, LayerFactory factory, LayerMover move);
template <class L>
  requires std::derived_from<L, Layer>
void register_class(const std::string& registered_name) {
  register_class(registered_name, typeid(L),
                 [](const nlohmann::json& config) -> std::shared_ptr<Layer> { return std::make_shared<L>(L::from_config(config)); },
                 mover_of<L>());
}
// The "package>Name" a class was registered under with register_class; empty for built-ins.
std::string registered_name_of(const Layer& layer);
// Whether deserialize() knows `name` (a class name or a registered "package>Name").
bool is_registered(const std::string& name);

// Throws StateError naming the layer when its class is not known.
std::shared_ptr<Layer> move_to_shared(Layer&& layer);

// For from_config: the initializer a layer config holds under `key`, or `fallback` (the option's default)
// when the key is absent; the regularizer / constraint under `key`, none when the key is absent or null.
initializers::Spec initializer_from(const nlohmann::json& config, const std::string& key,
                                    initializers::Spec fallback);
regularizers::Spec regularizer_from(const nlohmann::json& config, const std::string& key);
constraints::Spec constraint_from(const nlohmann::json& config, const std::string& key);
// The config's data_format; absent or null means Keras' global default, channels_last.
std::string data_format_from(const nlohmann::json& config);

}  // namespace strata::layers

// Registers a custom class once, at static initialisation, under "package>Class". Place it in a .cpp file that
// the program links (a static library may drop an object file nothing else references).
#define STRATA_REGISTER_LAYER(Class, package)                                               \
  static const bool strata_registered_##Class = (::strata::layers::register_class<Class>(#package ">" #Class), true)
