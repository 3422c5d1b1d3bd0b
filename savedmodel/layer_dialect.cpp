#include <strata/savedmodel/layer_dialect.h>

namespace strata::models {
namespace {

using nlohmann::json;

// Which Keras 3 module a nested serialized object under `key` belongs to (Dense's "kernel_initializer",
// Bidirectional's "layer", ...).
std::string kind_of_key(const std::string& key) {
  auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return key.size() >= s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("initializer")) return "initializers";
  if (ends_with("regularizer")) return "regularizers";
  if (ends_with("constraint")) return "constraints";
  if (key == "layer" || key == "backward_layer" || key == "cell") return "layers";
  if (key == "activation" || key == "recurrent_activation") return "activations";
  return "";
}

bool is_serialized_object(const json& value) {
  return value.is_object() && value.contains("class_name") && value.contains("config");
}

json dtype_policy_keras3(const json& dtype) {
  std::string name = "float32";
  if (dtype.is_string()) name = dtype.get<std::string>();
  else if (dtype.is_object() && dtype.contains("config")) name = dtype.at("config").value("name", name);
  return {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", name}}}, {"registered_name", nullptr}};
}

json dtype_keras2(const json& dtype) {
  if (!dtype.is_object()) return dtype;
  const std::string name = dtype.at("config").value("name", "float32");
  // tf.keras 2 writes only mixed policies as objects.
  if (name.rfind("mixed_", 0) == 0) return {{"class_name", "Policy"}, {"config", {{"name", name}}}};
  return name;
}

// Keras 2 keys the other dialect rejects, per class. tf.keras 2.15 refuses unknown constructor arguments,
// so arguments that only Keras 3 has are dropped, and renamed ones get their Keras 2 names.
void adjust_keras2(const std::string& class_name, json& config) {
  if (class_name == "LeakyReLU" && config.contains("negative_slope")) {
    config["alpha"] = config["negative_slope"];
    config.erase("negative_slope");
  }
  if (class_name == "SimpleRNN" || class_name == "LSTM" || class_name == "GRU" || class_name == "MultiHeadAttention")
    config.erase("seed");
  if (class_name == "Resizing" || class_name == "CenterCrop") {
    config.erase("antialias");
    config.erase("data_format");
    config.erase("pad_to_aspect_ratio");
    config.erase("fill_mode");
    config.erase("fill_value");
  }
  if (class_name.rfind("Random", 0) == 0) {
    config.erase("data_format");
    config.erase("value_range");
  }
}

// Keras 3 reads InputLayer's `batch_shape` and adds `optional`; its SpatialDropout layers take no `trainable`
// argument and write their dtype as a plain string.
void adjust_keras3(const std::string& class_name, json& config) {
  if (class_name.rfind("SpatialDropout", 0) == 0) {
    config.erase("trainable");
    config["dtype"] = dtype_keras2(config["dtype"]);
  }
  if (class_name == "InputLayer") {
    if (config.contains("batch_input_shape")) {
      config["batch_shape"] = config["batch_input_shape"];
      config.erase("batch_input_shape");
    }
    config["optional"] = false;
  }
}

json nested_to_dialect(const std::string& kind, const json& value, KerasDialect dialect) {
  if (!is_serialized_object(value)) return value;
  const std::string class_name = value.at("class_name").get<std::string>();
  json config = value.at("config");
  if (kind == "layers") return {{"class_name", class_name}, {"config", config_to_dialect(class_name, config, dialect)}};
  if (dialect == KerasDialect::kKeras2) return {{"class_name", class_name}, {"config", config}};
  return keras3_object(kind, class_name, config);
}

}  // namespace

json keras3_object(const std::string& kind, const std::string& class_name, json config) {
  return {{"module", "keras." + kind}, {"class_name", class_name}, {"config", std::move(config)},
          {"registered_name", nullptr}};
}

json config_to_dialect(const std::string& class_name, json config, KerasDialect dialect) {
  if (!config.is_object()) return config;
  for (auto& [key, value] : config.items()) {
    const std::string kind = kind_of_key(key);
    if (!kind.empty()) value = nested_to_dialect(kind, value, dialect);
  }
  // A nested layer of a wrapper gets the full envelope too.
  for (const char* key : {"layer", "backward_layer"})
    if (dialect == KerasDialect::kKeras3 && config.contains(key) && is_serialized_object(config[key]))
      config[key] = keras3_object("layers", config[key]["class_name"], config[key]["config"]);
  if (config.contains("dtype") && class_name != "InputLayer")
    config["dtype"] = dialect == KerasDialect::kKeras3 ? dtype_policy_keras3(config["dtype"]) : dtype_keras2(config["dtype"]);
  if (dialect == KerasDialect::kKeras2) adjust_keras2(class_name, config);
  else adjust_keras3(class_name, config);
  return config;
}

json config_from_keras(const std::string& class_name, json config) {
  if (!config.is_object()) return config;
  if (class_name == "LeakyReLU" && config.contains("alpha") && !config.contains("negative_slope")) {
    config["negative_slope"] = config["alpha"];
    config.erase("alpha");
  }
  return config;
}

}  // namespace strata::models
