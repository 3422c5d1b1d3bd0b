#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/layers/activation.h>
#include <strata/layers/dense.h>
#include <strata/layers/dropout.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/registry.h>
#include <strata/layers/reshaping.h>

#include <map>
#include <mutex>

namespace strata::layers {
namespace {

std::mutex registry_mutex;

// Built-ins are listed here rather than registered by static initialisers, which a static link can drop.
std::map<std::string, LayerFactory>& registry() {
  static std::map<std::string, LayerFactory> table = {
      {"InputLayer", [](const nlohmann::json& c) { return std::make_shared<InputLayer>(InputLayer::from_config(c)); }},
      {"Dense", [](const nlohmann::json& c) { return std::make_shared<Dense>(Dense::from_config(c)); }},
      {"Activation", [](const nlohmann::json& c) { return std::make_shared<Activation>(Activation::from_config(c)); }},
      {"Dropout", [](const nlohmann::json& c) { return std::make_shared<Dropout>(Dropout::from_config(c)); }},
      {"Flatten", [](const nlohmann::json& c) { return std::make_shared<Flatten>(Flatten::from_config(c)); }},
      {"Reshape", [](const nlohmann::json& c) { return std::make_shared<Reshape>(Reshape::from_config(c)); }},
  };
  return table;
}

}  // namespace

nlohmann::json serialize(const Layer& layer) {
  return {{"class_name", layer.class_name()}, {"config", layer.get_config()}};
}

std::shared_ptr<Layer> deserialize(const nlohmann::json& spec) {
  if (!spec.is_object() || !spec.contains("class_name") || !spec.contains("config"))
    throw ValueError("layer spec must be an object with \"class_name\" and \"config\", got " + spec.dump());
  const std::string class_name = spec.at("class_name").get<std::string>();
  LayerFactory factory;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = registry().find(class_name);
    if (it == registry().end())
      throw ValueError("unknown layer class '" + class_name + "'; known: " + joined_keys(registry()) +
                       " (register custom layers with layers::register_layer)");
    factory = it->second;
  }
  try {
    return factory(spec.at("config"));
  } catch (const nlohmann::json::exception& e) {
    throw ValueError("layer '" + class_name + "': bad config " + spec.at("config").dump() + ": " + e.what());
  }
}

void register_layer(const std::string& class_name, LayerFactory factory) {
  if (!factory) throw ValueError("register_layer('" + class_name + "'): the factory is empty");
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry()[class_name] = std::move(factory);
}

}  // namespace strata::layers
