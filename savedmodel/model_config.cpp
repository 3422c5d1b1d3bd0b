#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/dtype.h>
#include <strata/core/error.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/registry.h>
#include <strata/models/functional_graph.h>
#include <strata/models/sequential.h>
#include <strata/savedmodel/layer_dialect.h>
#include <strata/savedmodel/model_config.h>
#include <strata/savedmodel/saving.h>

#include <algorithm>
#include <map>
#include <unordered_map>

namespace strata::models {
namespace {

using nlohmann::json;
using NodePtr = std::shared_ptr<const Node>;

json shape_json(const Shape& shape) {
  json out = json::array();
  for (int64_t d : shape) out.push_back(d == kNone ? json(nullptr) : json(d));
  return out;
}

// The Keras 3 envelope of a layer: module (the package of a registered custom class), registered_name, and
// build_config when its build input is known and Keras' build() takes it as one shape or a list of shapes.
json envelope(const Layer& layer, json config, KerasDialect dialect) {
  json out = {{"class_name", layer.class_name()}, {"config", std::move(config)}};
  if (dialect == KerasDialect::kKeras2) return out;
  const std::string registered = layers::registered_name_of(layer);
  out["module"] = registered.empty() ? "keras.layers" : registered.substr(0, registered.find('>'));
  out["registered_name"] = registered.empty() ? json(nullptr) : json(registered);
  const auto& shapes = layer.build_input_shapes();
  const bool shapes_dict = layer.class_name() == "MultiHeadAttention" ||
                           (shapes.size() > 1 && (layer.class_name() == "LSTM" || layer.class_name() == "GRU" ||
                                                  layer.class_name() == "SimpleRNN" ||
                                                  layer.class_name() == "Bidirectional"));
  if (layer.built() && !shapes.empty() && !shapes_dict && layer.class_name() != "InputLayer") {
    json input_shape = json::array();
    for (const auto& shape : shapes) input_shape.push_back(shape_json(with_batch_none(shape)));
    out["build_config"] = {{"input_shape", shapes.size() == 1 ? input_shape[0] : input_shape}};
  }
  return out;
}

// tf.keras 2's MultiHeadAttention.from_config reads the input shapes it was built for (null when unbuilt).
void add_attention_shapes(const Layer& layer, json& config) {
  const auto& shapes = layer.build_input_shapes();
  auto shape_at = [&](size_t i) { return i < shapes.size() ? shape_json(with_batch_none(shapes[i])) : json(nullptr); };
  config["query_shape"] = shape_at(0);
  config["value_shape"] = shapes.size() > 1 ? shape_at(1) : shape_at(0);
  config["key_shape"] = shapes.size() > 2 ? shape_at(2) : config["value_shape"];
}

// ---------------------------------------------------------------------------------------------------------------
// Writing a functional graph

// Keras numbers a layer's nodes within the model being serialized: its calls outside the model don't count.
std::unordered_map<const Node*, int> node_numbers(const FunctionalGraph& graph) {
  std::map<const Layer*, std::vector<const Node*>> by_layer;
  for (const auto& node : graph.nodes()) by_layer[node->layer.get()].push_back(node.get());
  std::unordered_map<const Node*, int> numbers;
  for (auto& [layer, nodes] : by_layer) {
    std::sort(nodes.begin(), nodes.end(), [](const Node* a, const Node* b) { return a->node_index < b->node_index; });
    for (size_t i = 0; i < nodes.size(); ++i) numbers[nodes[i]] = static_cast<int>(i);
  }
  return numbers;
}

// tf.keras 2 skips a nested model's first node (the one linking its own Input to its outputs, which Strata's
// models do not record), so its configs number a nested functional model's calls from 1 (_should_skip_first_node).
bool skips_first_node(const Layer& layer) {
  if (const auto* sequential = dynamic_cast<const Sequential*>(&layer)) return sequential->input_layer() != nullptr;
  const auto* model = dynamic_cast<const Model*>(&layer);
  return model && model->graph();
}

int node_offset(const Layer& layer, KerasDialect dialect) {
  return dialect == KerasDialect::kKeras2 && skips_first_node(layer) ? 1 : 0;
}

json tensor_ref(const SymbolicTensor& t, const std::unordered_map<const Node*, int>& numbers, KerasDialect dialect) {
  return json::array({t.layer()->name(), numbers.at(t.node().get()) + node_offset(*t.layer(), dialect), t.index()});
}

json keras_tensor(const SymbolicTensor& t, const std::unordered_map<const Node*, int>& numbers) {
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", shape_json(t.shape())}, {"dtype", dtype_name(t.dtype())},
                      {"keras_history", tensor_ref(t, numbers, KerasDialect::kKeras3)}}}};
}

bool is_recurrent(const std::string& class_name) {
  return class_name == "SimpleRNN" || class_name == "LSTM" || class_name == "GRU" || class_name == "Bidirectional";
}

// How Keras calls the layer with these inputs. Keras 3 records the call's arguments: MultiHeadAttention(query,
// value, key), a recurrent layer (x, initial_state=[...]), any other layer with several inputs one list.
// tf.keras 2 writes one reference per input tensor, except MultiHeadAttention's value and key, which are kwargs.
json node_json(const Node& node, const std::unordered_map<const Node*, int>& numbers, KerasDialect dialect) {
  const std::string& cls = node.layer->class_name();
  const auto& inputs = node.inputs;
  const bool mha = cls == "MultiHeadAttention" && inputs.size() > 1;
  if (dialect == KerasDialect::kKeras2) {
    json refs = json::array();
    json first_kwargs = json::object();
    if (mha) {
      first_kwargs["value"] = tensor_ref(inputs[1], numbers, dialect);
      if (inputs.size() > 2) first_kwargs["key"] = tensor_ref(inputs[2], numbers, dialect);
    }
    for (size_t i = 0; i < (mha ? 1 : inputs.size()); ++i) {
      json ref = tensor_ref(inputs[i], numbers, dialect);
      ref.push_back(i == 0 ? first_kwargs : json::object());
      refs.push_back(ref);
    }
    return refs;
  }
  json args = json::array();
  json kwargs = json::object();
  if (mha) {
    for (const auto& input : inputs) args.push_back(keras_tensor(input, numbers));
  } else if (inputs.size() > 1 && is_recurrent(cls)) {
    args.push_back(keras_tensor(inputs[0], numbers));
    json states = json::array();
    for (size_t i = 1; i < inputs.size(); ++i) states.push_back(keras_tensor(inputs[i], numbers));
    kwargs["initial_state"] = states;
  } else if (inputs.size() == 1) {
    args.push_back(keras_tensor(inputs[0], numbers));
  } else {
    json list = json::array();
    for (const auto& input : inputs) list.push_back(keras_tensor(input, numbers));
    args.push_back(list);
  }
  return {{"args", args}, {"kwargs", kwargs}};
}

json functional_config(const Model& model, KerasDialect dialect) {
  const FunctionalGraph& graph = *model.graph();
  const auto numbers = node_numbers(graph);
  json layer_list = json::array();
  for (const auto& layer : graph.layers()) {
    json entry = serialize_layer(*layer, dialect);
    entry["name"] = layer->name();
    json inbound = json::array();
    std::vector<const Node*> nodes;
    for (const auto& node : graph.nodes())
      if (node->layer == layer && !node->inputs.empty()) nodes.push_back(node.get());
    std::sort(nodes.begin(), nodes.end(), [&](const Node* a, const Node* b) { return numbers.at(a) < numbers.at(b); });
    for (const Node* node : nodes) inbound.push_back(node_json(*node, numbers, dialect));
    entry["inbound_nodes"] = inbound;
    layer_list.push_back(entry);
  }
  auto refs = [&](const std::vector<SymbolicTensor>& tensors) {
    json out = json::array();
    for (const auto& t : tensors) out.push_back(tensor_ref(t, numbers, dialect));
    // Keras 3 mirrors the structure of the inputs: a model of one input and output has them unwrapped.
    return dialect == KerasDialect::kKeras3 && out.size() == 1 ? out[0] : out;
  };
  return {{"name", model.name()},         {"trainable", model.trainable()}, {"layers", layer_list},
          {"input_layers", refs(graph.inputs())}, {"output_layers", refs(graph.outputs())}};
}

json sequential_config(const Sequential& model, KerasDialect dialect) {
  json layer_list = json::array();
  if (const auto& input = model.input_layer()) layer_list.push_back(serialize_layer(*input, dialect));
  for (const auto& layer : model.layers()) layer_list.push_back(serialize_layer(*layer, dialect));
  json config = {{"name", model.name()}, {"layers", layer_list}};
  if (dialect == KerasDialect::kKeras3) {
    config["trainable"] = model.trainable();
    config["dtype"] = config_to_dialect("Sequential", {{"dtype", model.dtype_policy().to_config()}}, dialect)["dtype"];
  }
  if (const auto& input = model.input_layer()) config["build_input_shape"] = shape_json(input->batch_shape());
  return config;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a functional graph

// A reference to one output of one call of a layer, as the config names it.
struct TensorRef {
  std::string layer;
  size_t node;
  size_t tensor;
};

TensorRef parse_ref(const json& ref, const std::string& where) {
  if (!ref.is_array() || ref.size() < 3 || !ref[0].is_string() || !ref[1].is_number_integer() ||
      !ref[2].is_number_integer() || ref[1].get<int64_t>() < 0 || ref[2].get<int64_t>() < 0)
    throw ValueError(where + ": expected a tensor reference [layer_name, node_index, tensor_index], got " + ref.dump());
  return {ref[0].get<std::string>(), ref[1].get<size_t>(), ref[2].get<size_t>()};
}

bool is_keras_tensor(const json& value) {
  return value.is_object() && value.value("class_name", "") == "__keras_tensor__";
}

// Every tensor a Keras 3 argument holds, in order (an argument may be a tensor or a nested list of them).
void collect_keras_tensors(const json& value, const std::string& where, std::vector<TensorRef>& out) {
  if (is_keras_tensor(value)) {
    out.push_back(parse_ref(value.at("config").at("keras_history"), where));
  } else if (value.is_array()) {
    for (const auto& item : value) collect_keras_tensors(item, where, out);
  }
}

// Keras 2 writes tensors in kwargs as [name, node, tensor] lists (MultiHeadAttention's value, an RNN's states).
void collect_legacy_tensors(const json& value, const std::string& where, std::vector<TensorRef>& out) {
  if (!value.is_array()) return;
  if (value.size() >= 3 && value[0].is_string()) {
    out.push_back(parse_ref(value, where));
  } else {
    for (const auto& item : value) collect_legacy_tensors(item, where, out);
  }
}

// The tensors a node passes to its layer, in the order Strata's layers take them: the positional
// arguments, then value, key and initial_state.
std::vector<TensorRef> node_inputs(const json& node, const std::string& where) {
  std::vector<TensorRef> out;
  json kwargs = json::object();
  if (node.is_object()) {  // Keras 3
    if (!node.contains("args")) throw ValueError(where + ": expected {\"args\", \"kwargs\"}, got " + node.dump());
    collect_keras_tensors(node.at("args"), where, out);
    kwargs = node.value("kwargs", json::object());
    for (const char* key : {"value", "key", "initial_state"})
      if (kwargs.contains(key)) collect_keras_tensors(kwargs.at(key), where, out);
    return out;
  }
  if (!node.is_array()) throw ValueError(where + ": expected a list of tensor references, got " + node.dump());
  for (const auto& ref : node) {
    out.push_back(parse_ref(ref, where));
    if (ref.size() > 3 && ref[3].is_object())
      for (const char* key : {"value", "key", "initial_state"})
        if (ref[3].contains(key)) collect_legacy_tensors(ref[3].at(key), where, out);
  }
  return out;
}

struct PendingLayer {
  std::string name;
  std::shared_ptr<Layer> layer;
  json nodes;
  size_t done = 0;
  std::vector<std::vector<SymbolicTensor>> outputs;  // per node, in the order the config lists them
  bool skips_first_node = false;  // a nested model whose tf.keras 2 node indices start at 1
};

// Whether the config was written by tf.keras 2 (list-form inbound nodes), whose nested models' node
// indices start at 1 (see skips_first_node).
bool is_legacy_graph(const json& layer_list) {
  for (const auto& spec : layer_list)
    for (const auto& node : spec.value("inbound_nodes", json::array()))
      if (node.is_array()) return true;
  return false;
}

bool config_skips_first_node(const json& spec) {
  const std::string cls = spec.value("class_name", "");
  const json& config = spec.at("config");
  if (cls == "Functional" || cls == "Model") return config.is_object() && config.contains("layers");
  if (cls != "Sequential" || !config.is_object() || !config.contains("layers") || config.at("layers").empty()) return false;
  return config.at("layers")[0].value("class_name", "") == "InputLayer";
}

const SymbolicTensor* find_tensor(const std::map<std::string, PendingLayer*>& by_name, TensorRef ref,
                                  const std::string& where, bool legacy) {
  auto it = by_name.find(ref.layer);
  if (it == by_name.end()) throw ValueError(where + ": refers to layer '" + ref.layer + "', which the config does not list");
  const PendingLayer& from = *it->second;
  if (legacy && from.skips_first_node) {
    if (ref.node == 0)
      throw ValueError(where + ": node index 0 of nested model '" + ref.layer + "' is its own internal node in a "
                       "tf.keras 2 config; its calls are numbered from 1");
    --ref.node;
  }
  if (ref.node >= from.outputs.size()) {
    const size_t known = from.layer && dynamic_cast<layers::InputLayer*>(from.layer.get()) ? 1 : from.nodes.size();
    if (ref.node >= known)
      throw ValueError(where + ": node index " + std::to_string(ref.node) + " of layer '" + ref.layer + "' is out of range; it has " +
                       std::to_string(known) + " node(s)");
    return nullptr;  // not made yet
  }
  const auto& outs = from.outputs[ref.node];
  if (ref.tensor >= outs.size())
    throw ValueError(where + ": tensor index " + std::to_string(ref.tensor) + " of layer '" + ref.layer + "' node " +
                     std::to_string(ref.node) + " is out of range; it gives " + std::to_string(outs.size()) + " output(s)");
  return &outs[ref.tensor];
}

std::vector<SymbolicTensor> endpoints(const json& spec, const std::map<std::string, PendingLayer*>& by_name,
                                      const std::string& key, const std::string& who, bool legacy) {
  if (!spec.is_array() || spec.empty()) throw ValueError(who + ": \"" + key + "\" must be a non-empty list, got " + spec.dump());
  json refs = spec[0].is_string() ? json::array({spec}) : spec;  // Keras 3 unwraps a single one
  std::vector<SymbolicTensor> out;
  for (const auto& ref : refs) {
    const std::string where = who + ": " + key;
    const SymbolicTensor* t = find_tensor(by_name, parse_ref(ref, where), where, legacy);
    if (!t) throw ValueError(where + ": " + ref.dump() + " is never computed");
    out.push_back(*t);
  }
  return out;
}

std::shared_ptr<Model> functional_from_config(const json& config) {
  const std::string name = config.value("name", "");
  const std::string who = "Functional '" + name + "'";
  if (!config.contains("layers") || !config.at("layers").is_array())
    throw ValueError(who + ": config has no \"layers\" list");
  for (const char* key : {"input_layers", "output_layers"})
    if (!config.contains(key)) throw ValueError(who + ": config has no \"" + std::string(key) + "\"");
  const bool legacy = is_legacy_graph(config.at("layers"));
  std::vector<PendingLayer> pending;
  pending.reserve(config.at("layers").size());
  std::map<std::string, PendingLayer*> by_name;
  for (const auto& spec : config.at("layers")) {
    if (!spec.is_object() || !spec.contains("class_name"))
      throw ValueError(who + ": each entry of \"layers\" needs \"class_name\", got " + spec.dump().substr(0, 200));
    const std::string layer_name = spec.contains("name") ? spec.at("name").get<std::string>()
                                                         : spec.at("config").value("name", "");
    PendingLayer entry;
    entry.name = layer_name;
    entry.nodes = spec.value("inbound_nodes", json::array());
    entry.skips_first_node = config_skips_first_node(spec);
    try {
      entry.layer = deserialize_layer(spec);
    } catch (const Error& e) {
      throw ValueError(who + ": layer '" + layer_name + "': " + e.what());
    }
    if (!entry.nodes.is_array()) throw ValueError(who + ": layer '" + layer_name + "': \"inbound_nodes\" must be a list");
    if (by_name.count(layer_name)) throw ValueError(who + ": the layer name '" + layer_name + "' appears twice");
    pending.push_back(std::move(entry));
    by_name[layer_name] = &pending.back();
  }
  // Keras' from_config: process each layer's nodes in order, deferring a node until its inputs exist.
  for (auto& entry : pending)
    if (entry.nodes.empty() && dynamic_cast<layers::InputLayer*>(entry.layer.get()))
      entry.outputs.push_back(call_symbolic(entry.layer, {}));
  bool progress = true;
  while (progress) {
    progress = false;
    for (auto& entry : pending) {
      while (entry.done < entry.nodes.size()) {
        const std::string where = who + ": layer '" + entry.name + "' inbound node " + std::to_string(entry.done);
        std::vector<SymbolicTensor> inputs;
        bool ready = true;
        for (const auto& ref : node_inputs(entry.nodes[entry.done], where)) {
          const SymbolicTensor* t = find_tensor(by_name, ref, where, legacy);
          if (!t) { ready = false; break; }
          inputs.push_back(*t);
        }
        if (!ready) break;
        try {
          entry.outputs.push_back(call_symbolic(entry.layer, inputs));
        } catch (const Error& e) {
          throw ValueError(where + ": " + e.what());
        }
        ++entry.done;
        progress = true;
      }
    }
  }
  for (const auto& entry : pending)
    if (entry.done < entry.nodes.size())
      throw ValueError(who + ": layer '" + entry.name + "' inbound node " + std::to_string(entry.done) +
                       " can never be computed: its inputs depend on it or on a missing node");
  auto inputs = endpoints(config.at("input_layers"), by_name, "input_layers", who, legacy);
  auto outputs = endpoints(config.at("output_layers"), by_name, "output_layers", who, legacy);
  auto model = std::make_shared<Model>(std::move(inputs), std::move(outputs), name);
  if (config.contains("trainable")) model->set_trainable(config.at("trainable").get<bool>());
  return model;
}

std::shared_ptr<Model> sequential_from_config(const json& config) {
  const std::string name = config.value("name", "");
  const std::string who = "Sequential '" + name + "'";
  const json& list = config.is_array() ? config : config.value("layers", json());  // very old Keras: a bare list
  if (!list.is_array()) throw ValueError(who + ": config has no \"layers\" list");
  auto model = std::make_shared<Sequential>(std::vector<LayerRef>{}, name);
  for (size_t i = 0; i < list.size(); ++i) {
    std::shared_ptr<Layer> layer;
    try {
      layer = deserialize_layer(list[i]);
    } catch (const Error& e) {
      throw ValueError(who + ": layers[" + std::to_string(i) + "]: " + e.what());
    }
    // tf.keras 2 may give the first layer a batch_input_shape instead of listing an InputLayer.
    const json& layer_config = list[i].at("config");
    if (i == 0 && !dynamic_cast<layers::InputLayer*>(layer.get()) && layer_config.contains("batch_input_shape"))
      model->add(layers::InputLayer::from_config({{"batch_input_shape", layer_config.at("batch_input_shape")},
                                                  {"name", layer->name() + "_input"}}));
    if (i == 0 && !dynamic_cast<layers::InputLayer*>(layer.get()) && !layer_config.contains("batch_input_shape") &&
        config.contains("build_input_shape") && config.at("build_input_shape").is_array())
      model->add(layers::InputLayer::from_config({{"batch_input_shape", config.at("build_input_shape")}}));
    model->add(std::move(layer));
  }
  if (config.contains("trainable")) model->set_trainable(config.at("trainable").get<bool>());
  return model;
}

}  // namespace

json model_config(const Model& model, KerasDialect dialect) {
  if (const auto* sequential = dynamic_cast<const Sequential*>(&model)) return sequential_config(*sequential, dialect);
  if (model.graph()) return functional_config(model, dialect);
  return config_to_dialect(model.class_name(), model.get_config(), dialect);
}

json serialize_model(const Model& model, KerasDialect dialect) { return serialize_layer(model, dialect); }

json serialize_layer(const Layer& layer, KerasDialect dialect) {
  const auto* model = dynamic_cast<const Model*>(&layer);
  const bool keras3 = dialect == KerasDialect::kKeras3;
  if (model && dynamic_cast<const Sequential*>(model)) {
    json out = {{"class_name", "Sequential"}, {"config", model_config(*model, dialect)}};
    if (!keras3) return out;
    out["module"] = "keras";
    out["registered_name"] = nullptr;
    if (out["config"].contains("build_input_shape")) out["build_config"] = {{"input_shape", out["config"]["build_input_shape"]}};
    return out;
  }
  if (model && model->graph()) {
    json out = {{"class_name", "Functional"}, {"config", model_config(*model, dialect)}};
    if (!keras3) return out;
    out["module"] = "keras.src.models.functional";
    out["registered_name"] = "Functional";
    return out;
  }
  json config = config_to_dialect(layer.class_name(), layer.get_config(), dialect);
  if (dialect == KerasDialect::kKeras2 && layer.class_name() == "MultiHeadAttention") add_attention_shapes(layer, config);
  return envelope(layer, std::move(config), dialect);
}

std::shared_ptr<Layer> deserialize_layer(const json& spec) {
  if (!spec.is_object() || !spec.contains("class_name") || !spec.at("class_name").is_string() || !spec.contains("config"))
    throw ValueError("a serialized layer must be an object with \"class_name\" and \"config\", got " + spec.dump().substr(0, 200));
  const std::string class_name = spec.at("class_name").get<std::string>();
  const json& config = spec.at("config");
  const bool registered = spec.contains("registered_name") && spec.at("registered_name").is_string() &&
                          layers::is_registered(spec.at("registered_name").get<std::string>());
  if (!registered && class_name == "Sequential") return sequential_from_config(config);
  if (!registered && (class_name == "Functional" || class_name == "Model")) {
    if (!config.is_object() || !config.contains("layers"))
      throw ValueError("'" + class_name + "': a subclassed model is not in the config registry and its config has no "
                       "\"layers\"; register the class with STRATA_REGISTER_LAYER");
    return functional_from_config(config);
  }
  // A custom Keras 3 class names its registration; say which name to register it under.
  if (!registered && spec.contains("registered_name") && spec.at("registered_name").is_string() &&
      !layers::is_registered(class_name)) {
    const std::string name = spec.at("registered_name").get<std::string>();
    throw ValueError("unknown layer class '" + class_name + "' (registered_name '" + name +
                     "'); register it with layers::register_class<" + class_name + ">(\"" + name + "\")");
  }
  json normalized = {{"class_name", registered ? spec.at("registered_name") : spec.at("class_name")},
                     {"config", config_from_keras(class_name, config)}};
  return layers::deserialize(normalized);
}

}  // namespace strata::models

namespace strata {

nlohmann::json Model::get_config() const {
  if (graph_) return models::model_config(*this, models::KerasDialect::kKeras2);
  return Layer::get_config();
}

std::string Model::to_json() const { return models::serialize_model(*this, models::KerasDialect::kKeras3).dump(); }

namespace models {

std::shared_ptr<Model> model_from_config(const nlohmann::json& spec) {
  std::shared_ptr<Layer> layer;
  try {
    layer = deserialize_layer(spec);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(std::string("model_from_config: malformed config: ") + e.what());
  }
  auto model = std::dynamic_pointer_cast<Model>(layer);
  if (!model)
    throw ValueError("model_from_config: '" + spec.at("class_name").get<std::string>() + "' is a layer, not a model");
  return model;
}

std::shared_ptr<Model> model_from_json(const std::string& text) {
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(std::string("model_from_json: the text is not valid JSON: ") + e.what());
  }
  return model_from_config(spec);
}

std::shared_ptr<Model> clone_model(const Model& model) {
  return model_from_config(serialize_model(model, KerasDialect::kKeras3));
}

}  // namespace models
}  // namespace strata
