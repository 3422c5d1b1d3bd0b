// Writes, for a few whole models (functional graphs with several inputs and outputs, a shared layer, nested
// models, a subclassed model), everything tf.keras needs to rebuild and train the same model: its structure
// (each node's layer config and inbound tensors), its weights, seeded data, and what Strata reports:
// summary(), evaluate() logs, fit() History and the weights after fit. check_models.py compares.
//
// Usage: keras_crosscheck_models_dump OUT.json

#include <strata/strata.h>

#include "dump_support.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <sstream>
#include <string>

namespace {

using nlohmann::json;
using namespace strata;

using crosscheck::to_json;

json structure(const Layer& layer);

// A functional model as its nodes in run order: each node's layer (config, or a nested model's structure) and
// the (layer, node index, tensor index) of every tensor it reads.
json graph_structure(const Model& model) {
  const FunctionalGraph& graph = *model.graph();
  json nodes = json::array();
  for (const auto& node : graph.nodes()) {
    json inbound = json::array();
    for (const auto& input : node->inputs) inbound.push_back({input.layer()->name(), input.node()->node_index, input.index()});
    nodes.push_back({{"layer", structure(*node->layer)}, {"node_index", node->node_index}, {"inbound", inbound}});
  }
  json inputs = json::array(), outputs = json::array();
  for (const auto& input : graph.inputs()) inputs.push_back(input.layer()->name());
  for (const auto& output : graph.outputs())
    outputs.push_back({output.layer()->name(), output.node()->node_index, output.index()});
  return {{"class_name", "Functional"}, {"name", model.name()}, {"nodes", nodes}, {"inputs", inputs}, {"outputs", outputs}};
}

json structure(const Layer& layer) {
  if (const auto* sequential = dynamic_cast<const Sequential*>(&layer)) {
    json layer_list = json::array();
    for (const auto& inner : sequential->layers()) layer_list.push_back(structure(*inner));
    Shape shape = sequential->build_input_shape();
    shape.erase(shape.begin());
    return {{"class_name", "Sequential"}, {"name", layer.name()}, {"input_shape", shape}, {"layers", layer_list}};
  }
  if (const auto* model = dynamic_cast<const Model*>(&layer); model && model->graph()) return graph_structure(*model);
  return layers::serialize(layer);
}

// Every layer that owns weights (models looked into), by name.
void leaf_weights(const Layer& layer, json& out) {
  if (dynamic_cast<const Model*>(&layer)) {
    for (const auto& inner : layer.sublayers()) leaf_weights(*inner, out);
    return;
  }
  json weights = json::array();
  for (const auto& w : layer.get_weights()) weights.push_back(to_json(w));
  out[layer.name()] = weights;
}

json logs_json(const Logs& logs) {
  json out = json::array();
  for (const auto& [key, value] : logs) out.push_back({key, value});
  return out;
}

struct Case {
  std::string id;
  std::function<std::shared_ptr<Model>()> build;
  std::function<void(Model&)> compile;
  json keras_compile;  // the same compile() for tf.keras
  int64_t samples = 12;
  bool summary = true;         // tf.keras prints a subclassed model differently: compare functional ones only
  json class_weight = nullptr;
  bool sample_weight = false;  // one seeded weight per sample, for every output
};

// The targets a case's outputs get: integer classes for a 3-unit output, 0/1 for a sigmoid unit, else values.
Tensors targets_for(Model& model, const Tensors& x, at::Generator& gen) {
  Tensors y;
  for (const auto& output : model.predict_outputs(x, {.verbose = 0})) {
    const int64_t n = output.size(0);
    if (output.size(-1) == 3) y.push_back(at::randint(0, 3, {n}, gen, at::kLong));
    else if (output.size(-1) == 1) y.push_back((at::rand({n, 1}, gen) > 0.5).to(at::kFloat));
    else y.push_back(at::randn(output.sizes(), gen));
  }
  return y;
}

json run_case(const Case& c, uint64_t seed) {
  set_random_seed(seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::shared_ptr<Model> model = c.build();
  Tensors x;
  if (model->graph()) {
    for (const auto& input : model->graph()->inputs()) {
      Shape shape = input.shape();
      shape[0] = c.samples;
      x.push_back(at::randn(shape, gen));
    }
  } else {
    x.push_back(at::randn({c.samples, 6}, gen));
  }
  const Tensors y = targets_for(*model, x, gen);
  const at::Tensor sample_weight = c.sample_weight ? at::rand({c.samples}, gen) + 0.5 : at::Tensor();
  c.compile(*model);

  // A subclassed model is rebuilt in tf.keras as a subclass around its functional body (its one sub-layer).
  const Layer& rebuilt = model->graph() ? *model : *model->sublayers().front();
  json out = {{"id", c.id}, {"structure", structure(rebuilt)}, {"keras_compile", c.keras_compile},
              {"class_weight", c.class_weight}, {"compare_summary", c.summary}};
  json weights = json::object();
  leaf_weights(*model, weights);
  out["weights"] = weights;
  out["x"] = json::array();
  for (const auto& t : x) out["x"].push_back(to_json(t));
  out["y"] = json::array();
  out["y_dtypes"] = json::array();
  for (const auto& t : y) {
    out["y"].push_back(to_json(t));
    out["y_dtypes"].push_back(dtype_name(t.scalar_type()));
  }
  out["sample_weight"] = sample_weight.defined() ? to_json(sample_weight) : json();
  std::ostringstream summary;
  model->summary(summary);
  out["summary"] = summary.str();

  const ModelData sw = sample_weight.defined() ? ModelData(sample_weight) : ModelData();
  out["evaluate"] = logs_json(model->evaluate(x, y, {.batch_size = 5, .verbose = 0, .sample_weight = sw}));
  std::map<int64_t, double> class_weight;
  if (!c.class_weight.is_null())
    for (const auto& [key, value] : c.class_weight.items()) class_weight[std::stoll(key)] = value.get<double>();
  const auto history = model->fit(x, y,
                                  {.batch_size = 4,
                                   .epochs = 2,
                                   .verbose = 0,
                                   .validation_data = {x, y, sw},
                                   .shuffle = false,
                                   .class_weight = class_weight,
                                   .sample_weight = sw});
  json hist = json::array();
  for (const auto& [key, values] : history.history) hist.push_back({key, values});
  out["history"] = hist;
  json after = json::object();
  leaf_weights(*model, after);
  out["weights_after"] = after;
  return out;
}

// Two inputs through one shared Dense, a skip Add, a Concatenate, and two heads with their own losses, loss
// weights and metrics, trained with per-sample weights.
Case two_inputs_two_outputs() {
  Case c;
  c.id = "two_io_shared";
  c.build = [] {
    auto a = Input({6}, {.name = "a"});
    auto b = Input({6}, {.name = "b"});
    auto shared = share(layers::Dense(5, {.activation = "relu", .name = "shared"}));
    auto ha = (*shared)(a);
    auto hb = (*shared)(b);
    auto skip = layers::Add("skip")({ha, hb});
    auto merged = layers::Concatenate(-1, {.name = "merged"})({ha, skip});
    auto class_out = layers::Dense(3, {.name = "class_out"})(merged);
    auto flag_out = layers::Dense(1, {.activation = "sigmoid", .name = "flag_out"})(merged);
    return std::make_shared<Model>(std::vector<SymbolicTensor>{a, b}, std::vector<SymbolicTensor>{class_out, flag_out},
                                   "two_io");
  };
  c.compile = [](Model& m) {
    m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
               .loss = {{"class_out", losses::SparseCategoricalCrossentropy({.from_logits = true})},
                        {"flag_out", "binary_crossentropy"}},
               .metrics = {{"class_out", {"accuracy"}}, {"flag_out", {"accuracy"}}},
               .loss_weights = {{"class_out", 1.0}, {"flag_out", 0.5}}});
  };
  c.keras_compile = {
      {"loss",
       {{"class_out", {{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}}},
        {"flag_out", "binary_crossentropy"}}},
      {"metrics", {{"class_out", {"accuracy"}}, {"flag_out", {"accuracy"}}}},
      {"loss_weights", {{"class_out", 1.0}, {"flag_out", 0.5}}},
      {"learning_rate", 0.1}};
  c.sample_weight = true;
  return c;
}

// One output with class weights and the same metric plain and weighted.
Case class_weighted() {
  Case c;
  c.id = "class_weight_weighted_metrics";
  c.samples = 15;
  c.build = [] {
    auto features = Input({4}, {.name = "features"});
    auto hidden = layers::Dense(8, {.activation = "tanh", .name = "hidden"})(features);
    auto logits = layers::Dense(3, {.name = "logits"})(hidden);
    return std::make_shared<Model>(features, logits, "classifier");
  };
  c.compile = [](Model& m) {
    m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
               .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
               .metrics = {"accuracy"},
               .weighted_metrics = {"accuracy"}});
  };
  c.keras_compile = {
      {"loss", {{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}}},
      {"metrics", {"accuracy"}},
      {"weighted_metrics", {"accuracy"}},
      {"learning_rate", 0.1}};
  // Without sample weights: tf.keras 2.15 fails when fit() gets both (its own bug), so the class weights alone
  // are what weighted_metrics see.
  c.class_weight = {{"0", 1.0}, {"1", 2.0}, {"2", 0.5}};
  return c;
}

// A functional model and a Sequential nested as layers, beside a skip branch.
Case nested_models() {
  Case c;
  c.id = "nested";
  c.build = [] {
    auto inner_in = Input({5}, {.name = "inner_in"});
    auto inner = share(Model(inner_in, layers::Dense(4, {.activation = "tanh", .name = "inner_dense"})(inner_in), "inner"));
    auto stack = share(Sequential({Input({4}), layers::Dense(2, {.name = "stack_dense"})}, "stack"));
    auto x = Input({5}, {.name = "x"});
    auto through = (*stack)((*inner)(x));
    auto side = layers::Dense(2, {.name = "side"})(x);
    auto out = layers::Add("join")({through, side});
    return std::make_shared<Model>(x, out, "outer");
  };
  c.compile = [](Model& m) {
    m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  };
  c.keras_compile = {{"loss", "mse"}, {"learning_rate", 0.05}};
  return c;
}

// A subclassed model with two outputs: tf.keras names them output_1 and output_2 in the logs.
class TwoHeads : public Model {
 public:
  TwoHeads() : Model("TwoHeads", "two_heads") {
    auto in = Input({6}, {.name = "body_in"});
    auto h = layers::Dense(5, {.activation = "relu", .name = "body_dense"})(in);
    body_ = track(Model(std::vector<SymbolicTensor>{in},
                        {layers::Dense(3, {.name = "head_a"})(h), layers::Dense(1, {.activation = "sigmoid", .name = "head_b"})(h)},
                        "body"));
  }
  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override {
    return body_->apply(inputs, masks, training);
  }

 private:
  std::shared_ptr<Model> body_;
};

Case subclassed_two_outputs() {
  Case c;
  c.id = "subclassed_two_outputs";
  c.summary = false;
  c.build = [] { return std::make_shared<TwoHeads>(); };
  c.compile = [](Model& m) {
    m.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
               .loss = std::vector<losses::Spec>{losses::SparseCategoricalCrossentropy({.from_logits = true}),
                                                 "binary_crossentropy"},
               .metrics = std::vector<std::vector<metrics::Spec>>{{"accuracy"}, {"accuracy"}},
               .loss_weights = std::vector<double>{1.0, 0.3}});
  };
  c.keras_compile = {
      {"loss",
       {{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}}, "binary_crossentropy"}},
      {"metrics", {{"accuracy"}, {"accuracy"}}},
      {"loss_weights", {1.0, 0.3}},
      {"learning_rate", 0.1},
      {"subclassed", true}};
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<crosscheck::NamedCase> cases;
  for (const Case& c : {two_inputs_two_outputs(), class_weighted(), nested_models(), subclassed_two_outputs()})
    cases.push_back({{{"id", c.id}}, [c](uint64_t seed) { return run_case(c, seed); }});
  return crosscheck::run_cases(argc, argv, cases, 2000);
}
