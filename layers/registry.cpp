#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/layers/activation.h>
#include <strata/layers/activation_layers.h>
#include <strata/layers/attention.h>
#include <strata/layers/convolutional.h>
#include <strata/layers/dense.h>
#include <strata/layers/dropout.h>
#include <strata/layers/embedding.h>
#include <strata/layers/image_augmentation.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/merging.h>
#include <strata/layers/normalization.h>
#include <strata/layers/pooling.h>
#include <strata/layers/preprocessing.h>
#include <strata/layers/masking.h>
#include <strata/layers/recurrent.h>
#include <strata/layers/registry.h>
#include <strata/layers/reshaping.h>
#include <strata/layers/wrappers.h>

#include <map>
#include <mutex>
#include <optional>
#include <typeindex>
#include <nlohmann/json.hpp>

namespace strata::layers {
namespace {

std::mutex registry_mutex;

// A registered class: how to build it from a config and, for a class registered with its type, how to move
// a temporary of it into a shared_ptr.
struct Registration {
  LayerFactory factory;
  std::optional<std::type_index> type;
  LayerMover move;
};

// Every built-in layer class has a static from_config(config) returning it by value.
template <class L>
Registration factory_of() {
  return {[](const nlohmann::json& config) { return std::make_shared<L>(L::from_config(config)); }, typeid(L),
          mover_of<L>()};
}

// Classes registered for their type alone (models), by type.
std::map<std::type_index, LayerMover>& movers() {
  static std::map<std::type_index, LayerMover> table;
  return table;
}

// Built-ins are listed here rather than registered by static initialisers, which a static link can drop.
std::map<std::string, Registration>& registry() {
  static std::map<std::string, Registration> table = {
      {"InputLayer", factory_of<InputLayer>()},
      {"Dense", factory_of<Dense>()},
      {"Activation", factory_of<Activation>()},
      {"Dropout", factory_of<Dropout>()},
      {"Flatten", factory_of<Flatten>()},
      {"Reshape", factory_of<Reshape>()},
      {"Conv1D", factory_of<Conv1D>()},
      {"Conv2D", factory_of<Conv2D>()},
      {"Conv3D", factory_of<Conv3D>()},
      {"Conv1DTranspose", factory_of<Conv1DTranspose>()},
      {"Conv2DTranspose", factory_of<Conv2DTranspose>()},
      {"Conv3DTranspose", factory_of<Conv3DTranspose>()},
      {"DepthwiseConv2D", factory_of<DepthwiseConv2D>()},
      {"SeparableConv2D", factory_of<SeparableConv2D>()},
      {"ReLU", factory_of<ReLU>()},
      {"LeakyReLU", factory_of<LeakyReLU>()},
      {"PReLU", factory_of<PReLU>()},
      {"ELU", factory_of<ELU>()},
      {"Softmax", factory_of<Softmax>()},
      {"MaxPooling1D", factory_of<MaxPooling1D>()},
      {"MaxPooling2D", factory_of<MaxPooling2D>()},
      {"MaxPooling3D", factory_of<MaxPooling3D>()},
      {"AveragePooling1D", factory_of<AveragePooling1D>()},
      {"AveragePooling2D", factory_of<AveragePooling2D>()},
      {"AveragePooling3D", factory_of<AveragePooling3D>()},
      {"GlobalMaxPooling1D", factory_of<GlobalMaxPooling1D>()},
      {"GlobalMaxPooling2D", factory_of<GlobalMaxPooling2D>()},
      {"GlobalMaxPooling3D", factory_of<GlobalMaxPooling3D>()},
      {"GlobalAveragePooling1D", factory_of<GlobalAveragePooling1D>()},
      {"GlobalAveragePooling2D", factory_of<GlobalAveragePooling2D>()},
      {"GlobalAveragePooling3D", factory_of<GlobalAveragePooling3D>()},
      {"BatchNormalization", factory_of<BatchNormalization>()},
      {"LayerNormalization", factory_of<LayerNormalization>()},
      {"GroupNormalization", factory_of<GroupNormalization>()},
      {"UnitNormalization", factory_of<UnitNormalization>()},
      {"SpatialDropout1D", factory_of<SpatialDropout1D>()},
      {"SpatialDropout2D", factory_of<SpatialDropout2D>()},
      {"SpatialDropout3D", factory_of<SpatialDropout3D>()},
      {"GaussianDropout", factory_of<GaussianDropout>()},
      {"GaussianNoise", factory_of<GaussianNoise>()},
      {"AlphaDropout", factory_of<AlphaDropout>()},
      {"ActivityRegularization", factory_of<ActivityRegularization>()},
      {"Add", factory_of<Add>()},
      {"Subtract", factory_of<Subtract>()},
      {"Multiply", factory_of<Multiply>()},
      {"Average", factory_of<Average>()},
      {"Maximum", factory_of<Maximum>()},
      {"Minimum", factory_of<Minimum>()},
      {"Concatenate", factory_of<Concatenate>()},
      {"Dot", factory_of<Dot>()},
      {"Permute", factory_of<Permute>()},
      {"RepeatVector", factory_of<RepeatVector>()},
      {"ZeroPadding1D", factory_of<ZeroPadding1D>()},
      {"ZeroPadding2D", factory_of<ZeroPadding2D>()},
      {"ZeroPadding3D", factory_of<ZeroPadding3D>()},
      {"Cropping1D", factory_of<Cropping1D>()},
      {"Cropping2D", factory_of<Cropping2D>()},
      {"Cropping3D", factory_of<Cropping3D>()},
      {"UpSampling1D", factory_of<UpSampling1D>()},
      {"UpSampling2D", factory_of<UpSampling2D>()},
      {"UpSampling3D", factory_of<UpSampling3D>()},
      {"Embedding", factory_of<Embedding>()},
      {"Attention", factory_of<Attention>()},
      {"AdditiveAttention", factory_of<AdditiveAttention>()},
      {"MultiHeadAttention", factory_of<MultiHeadAttention>()},
      {"Rescaling", factory_of<Rescaling>()},
      {"Normalization", factory_of<Normalization>()},
      {"CenterCrop", factory_of<CenterCrop>()},
      {"Resizing", factory_of<Resizing>()},
      {"RandomFlip", factory_of<RandomFlip>()},
      {"RandomRotation", factory_of<RandomRotation>()},
      {"RandomTranslation", factory_of<RandomTranslation>()},
      {"RandomZoom", factory_of<RandomZoom>()},
      {"Masking", factory_of<Masking>()},
      {"SimpleRNN", factory_of<SimpleRNN>()},
      {"LSTM", factory_of<LSTM>()},
      {"GRU", factory_of<GRU>()},
      {"Bidirectional", factory_of<Bidirectional>()},
      {"TimeDistributed", factory_of<TimeDistributed>()},
  };
  return table;
}

}  // namespace

initializers::Spec initializer_from(const nlohmann::json& config, const std::string& key,
                                    initializers::Spec fallback) {
  return config.contains(key) ? initializers::Spec(initializers::deserialize(config.at(key))) : fallback;
}

regularizers::Spec regularizer_from(const nlohmann::json& config, const std::string& key) {
  return config.contains(key) ? regularizers::deserialize(config.at(key)) : regularizers::Spec();
}

constraints::Spec constraint_from(const nlohmann::json& config, const std::string& key) {
  return config.contains(key) ? constraints::deserialize(config.at(key)) : constraints::Spec();
}

std::string data_format_from(const nlohmann::json& config) {
  if (!config.contains("data_format") || config.at("data_format").is_null()) return "channels_last";
  return config.at("data_format").get<std::string>();
}

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
    factory = it->second.factory;
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
  registry()[class_name] = {std::move(factory), std::nullopt, {}};
}

// Registered names of the classes registered with register_class, by type.
std::map<std::type_index, std::string>& registered_names() {
  static std::map<std::type_index, std::string> table;
  return table;
}

void register_class(const std::string& registered_name, std::type_index type, LayerFactory factory, LayerMover move) {
  if (!factory) throw ValueError("register_class('" + registered_name + "'): the factory is empty");
  const size_t separator = registered_name.find('>');
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry()[registered_name] = {factory, type, move};
  if (separator != std::string::npos) registry()[registered_name.substr(separator + 1)] = {factory, type, move};
  registered_names()[type] = registered_name;
}

std::string registered_name_of(const Layer& layer) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registered_names().find(typeid(layer));
  return it == registered_names().end() ? std::string() : it->second;
}

bool is_registered(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  return registry().count(name) > 0;
}

void register_layer_type(std::type_index type, LayerMover move) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  movers()[type] = std::move(move);
}

std::shared_ptr<Layer> move_to_shared(Layer&& layer) {
  const std::type_index type = typeid(layer);
  LayerMover move;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    for (const auto& [name, registration] : registry())
      if (registration.type == type) move = registration.move;
    if (auto it = movers().find(type); !move && it != movers().end()) move = it->second;
  }
  if (!move)
    throw StateError(layer.describe() + ": a temporary of an unregistered layer class cannot join a functional graph; "
                     "hold it in a shared_ptr (auto layer = share(MyLayer(...))) or call "
                     "layers::register_layer_type<MyLayer>() once");
  return move(std::move(layer));
}

}  // namespace strata::layers
