// Model configs in Keras' JSON: Sequential and functional models (merges, shared layers, several inputs and
// outputs, nested models called twice) survive to_json -> model_from_json in both Keras dialects with the same
// structure and, given the same weights, the same predictions; hand-written Keras 2 and Keras 3 configs (the
// forms of formats_tb_keras.md §6) build the intended model; bad configs fail naming the layer and key; a
// registered custom layer saves and loads like a built-in.

#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/dense.h>
#include <strata/layers/dropout.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/merging.h>
#include <strata/layers/registry.h>
#include <strata/models/functional_graph.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>
#include <strata/savedmodel/model_config.h>
#include <strata/savedmodel/saving.h>

#include <sstream>

using namespace strata;
using nlohmann::json;
using models::KerasDialect;

namespace {

std::string summary_of(const Model& model) {
  std::ostringstream out;
  model.summary(out);
  return out.str();
}

// Layer names and classes, and for every node the layers and node/tensor indices it reads: the structure the
// config must carry, taken from the models themselves rather than from the config code.
std::vector<std::string> structure_of(const Model& model) {
  std::vector<std::string> out;
  for (const auto& layer : model.layers()) {
    out.push_back(layer->class_name() + " " + layer->name());
    if (!model.graph()) continue;
    for (const auto& node : model.graph()->nodes()) {
      if (node->layer != layer) continue;
      std::string line = "  node:";
      for (const auto& input : node->inputs) line += " " + input.describe();
      out.push_back(line);
    }
  }
  return out;
}

// Rebuilds `model` from its config in `dialect`, copies its weights in and checks that structure, summary and
// predictions are the same.
std::shared_ptr<Model> check_round_trip(Model& model, KerasDialect dialect, const Tensors& x) {
  const json spec = models::serialize_model(model, dialect);
  auto rebuilt = models::model_from_json(spec.dump());
  CHECK(rebuilt->name() == model.name());
  CHECK(structure_of(*rebuilt) == structure_of(model));
  CHECK(summary_of(*rebuilt) == summary_of(model));
  CHECK(models::serialize_model(*rebuilt, dialect) == spec);
  rebuilt->set_weights(model.get_weights());
  const Tensors expected = model(x), got = (*rebuilt)(x);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(at::allclose(got[i], expected[i], 1e-6, 1e-6));
  return rebuilt;
}

void check_both_dialects(Model& model, const Tensors& x) {
  SECTION("Keras 3") { check_round_trip(model, KerasDialect::kKeras3, x); }
  SECTION("Keras 2") { check_round_trip(model, KerasDialect::kKeras2, x); }
}

// A layer defined by a user: y = x * factor, registered once under "my_package>Scale".
class Scale : public Layer {
 public:
  explicit Scale(double factor, std::string name = "") : Layer("Scale", std::move(name)), factor_(factor) {}
  at::Tensor call(const at::Tensor& inputs, bool) override { return inputs * factor_; }
  json get_config() const override {
    json config = Layer::get_config();
    config["factor"] = factor_;
    return config;
  }
  static Scale from_config(const json& config) {
    Scale layer(config.at("factor").get<double>(), config.value("name", ""));
    layer.apply_base_config(config);
    return layer;
  }

 private:
  double factor_;
};

STRATA_REGISTER_LAYER(Scale, my_package);

// A Model subclass with its own config: two Dense layers of `units`, the second fed the first's tanh.
class TwoStep : public Model {
 public:
  explicit TwoStep(int64_t units, std::string name = "")
      : Model("TwoStep", std::move(name)), units_(units),
        first_(track(layers::Dense(units, {.activation = "tanh"}))), second_(track(layers::Dense(units))) {}
  at::Tensor call(const at::Tensor& inputs, bool training) override { return (*second_)((*first_)(inputs)); }
  json get_config() const override {
    json config = Layer::get_config();
    config["units"] = units_;
    return config;
  }
  static TwoStep from_config(const json& config) { return TwoStep(config.at("units").get<int64_t>(), config.value("name", "")); }

 private:
  int64_t units_;
  std::shared_ptr<layers::Dense> first_, second_;
};

STRATA_REGISTER_LAYER(TwoStep, my_package);

}  // namespace

TEST_CASE("Sequential started from Input round-trips through both dialects", "[config]") {
  Sequential model({Input({4}, {.name = "features"}), layers::Dense(8, {.activation = "relu"}), layers::Dropout(0.5),
                    layers::Dense(3, {.activation = "softmax"})},
                   "classifier");
  const json k3 = models::serialize_model(model, KerasDialect::kKeras3);
  CHECK(k3["module"] == "keras");
  CHECK(k3["config"]["layers"][0]["class_name"] == "InputLayer");
  CHECK(k3["config"]["layers"][0]["config"]["batch_shape"] == json::array({nullptr, 4}));
  CHECK(k3["config"]["build_input_shape"] == json::array({nullptr, 4}));
  CHECK(k3["config"]["layers"][1]["module"] == "keras.layers");
  CHECK(k3["config"]["layers"][1]["build_config"]["input_shape"] == json::array({nullptr, 4}));
  CHECK(k3["config"]["layers"][1]["config"]["dtype"]["class_name"] == "DTypePolicy");
  CHECK(k3["config"]["layers"][1]["config"]["kernel_initializer"]["module"] == "keras.initializers");
  const json k2 = models::serialize_model(model, KerasDialect::kKeras2);
  CHECK_FALSE(k2.contains("module"));
  CHECK(k2["config"]["layers"][0]["config"]["batch_input_shape"] == json::array({nullptr, 4}));
  CHECK(k2["config"]["layers"][1]["config"]["dtype"] == "float32");
  CHECK(json::parse(model.to_json()) == k3);
  check_both_dialects(model, {at::randn({5, 4})});
}

TEST_CASE("clone_model makes the same architecture with fresh weights of its own, as Keras' clone_model",
          "[config]") {
  Sequential model({Input({4}), layers::Dense(8, {.activation = "relu"}), layers::Dense(3)}, "original");
  const std::shared_ptr<Model> copy = models::clone_model(model);
  CHECK(copy->to_json() == model.to_json());  // same names, shapes and options
  const auto original_weights = model.get_weights();
  const auto copied_weights = copy->get_weights();
  REQUIRE(copied_weights.size() == original_weights.size());
  // Freshly initialised: glorot_uniform draws another kernel; the zero biases agree.
  CHECK_FALSE(at::equal(copied_weights[0], original_weights[0]));
  CHECK(at::equal(copied_weights[1], original_weights[1]));
  // Its own tensors: training the copy leaves the model alone.
  copy->weights()[0].detach().add_(1.0);
  CHECK(at::equal(model.get_weights()[0], original_weights[0]));
}

TEST_CASE("functional models with a merge, a shared layer and two inputs and outputs round-trip", "[config]") {
  auto a = Input({4}, {.name = "a"});
  auto b = Input({4}, {.name = "b"});
  auto shared = share(layers::Dense(4, {.activation = "tanh", .name = "shared"}));
  auto ha = (*shared)(a);
  auto hb = (*shared)(b);
  auto sum = layers::Add("sum")(std::vector<SymbolicTensor>{ha, hb}).front();
  auto both = layers::Concatenate(-1, {.name = "both"})(std::vector<SymbolicTensor>{ha, sum}).front();
  Model model(std::vector<SymbolicTensor>{a, b},
              std::vector<SymbolicTensor>{layers::Dense(2, {.name = "out_1"})(sum), layers::Dense(1, {.name = "out_2"})(both)}, "two_way");
  const json k2 = models::serialize_model(model, KerasDialect::kKeras2);
  // The shared layer's second call is its node 1, and the layers reading it say so.
  json shared_entry, sum_entry;
  for (const auto& entry : k2["config"]["layers"]) {
    if (entry["name"] == "shared") shared_entry = entry;
    if (entry["name"] == "sum") sum_entry = entry;
  }
  CHECK(shared_entry["inbound_nodes"] == json::parse(R"([[["a",0,0,{}]],[["b",0,0,{}]]])"));
  CHECK(sum_entry["inbound_nodes"] == json::parse(R"([[["shared",0,0,{}],["shared",1,0,{}]]])"));
  CHECK(k2["config"]["input_layers"] == json::parse(R"([["a",0,0],["b",0,0]])"));
  check_both_dialects(model, {at::randn({3, 4}), at::randn({3, 4})});
}

TEST_CASE("nested Sequential and functional models, one called twice, round-trip", "[config]") {
  auto inner_in = Input({3}, {.name = "inner_in"});
  auto inner = std::make_shared<Model>(inner_in, layers::Dense(4, {.activation = "tanh"})(inner_in), "inner");
  auto stack = std::make_shared<Sequential>(std::vector<LayerRef>{Input({4}), layers::Dense(2)}, "stack");
  auto x = Input({3}, {.name = "x"});
  auto y = Input({3}, {.name = "y"});
  auto hx = (*inner)(x);
  auto hy = (*inner)(y);
  auto out = (*stack)(layers::Subtract("diff")(std::vector<SymbolicTensor>{hx, hy}).front());
  Model model(std::vector<SymbolicTensor>{x, y}, std::vector<SymbolicTensor>{out}, "outer");
  const json k3 = models::serialize_model(model, KerasDialect::kKeras3);
  json inner_entry;
  for (const auto& entry : k3["config"]["layers"])
    if (entry["name"] == "inner") inner_entry = entry;
  REQUIRE(inner_entry["inbound_nodes"].size() == 2);
  CHECK(inner_entry["class_name"] == "Functional");
  CHECK(inner_entry["inbound_nodes"][1]["args"][0]["config"]["keras_history"] == json::parse(R"(["y",0,0])"));
  check_both_dialects(model, {at::randn({3, 3}), at::randn({3, 3})});
}

TEST_CASE("a hand-written Keras 3 Sequential config builds the model it describes", "[config]") {
  // formats_tb_keras.md §6, Example A, with Keras 3's extra keys that Strata has no use for.
  const std::string policy = R"({"module":"keras","class_name":"DTypePolicy","config":{"name":"float32"},"registered_name":null})";
  const std::string gu = R"({"module":"keras.initializers","class_name":"GlorotUniform","config":{"seed":null},"registered_name":null})";
  const std::string zeros = R"({"module":"keras.initializers","class_name":"Zeros","config":{},"registered_name":null})";
  auto dense = [&](const std::string& name, int units, const std::string& act, int in) {
    return R"({"module":"keras.layers","class_name":"Dense","registered_name":null,"build_config":{"input_shape":[null,)" +
           std::to_string(in) + R"(]},"config":{"name":")" + name + R"(","trainable":true,"dtype":)" + policy +
           R"(,"units":)" + std::to_string(units) + R"(,"activation":")" + act + R"(","use_bias":true,"kernel_initializer":)" +
           gu + R"(,"bias_initializer":)" + zeros + R"(,"kernel_regularizer":null,"bias_regularizer":null,)" +
           R"("kernel_constraint":null,"bias_constraint":null,"quantization_config":null,"lora_rank":null}})";
  };
  const std::string text = R"({"module":"keras","class_name":"Sequential","registered_name":null,"config":{"name":"sequential","trainable":true,"dtype":)" +
                           policy + R"(,"layers":[{"module":"keras.layers","class_name":"InputLayer","registered_name":null,)" +
                           R"("config":{"batch_shape":[null,4],"dtype":"float32","sparse":false,"ragged":false,"name":"input_layer","optional":false}},)" +
                           dense("dense", 8, "relu", 4) + "," + dense("dense_1", 3, "softmax", 8) +
                           R"(],"build_input_shape":[null,4]},"build_config":{"input_shape":[null,4]}})";
  auto model = models::model_from_json(text);
  REQUIRE(dynamic_cast<Sequential*>(model.get()));
  REQUIRE(model->layers().size() == 2);
  CHECK(model->layers()[0]->name() == "dense");
  CHECK(model->layers()[1]->output_shape() == Shape{kNone, 3});
  CHECK(model->count_params() == 4 * 8 + 8 + 8 * 3 + 3);
  const at::Tensor p = model->predict(at::randn({5, 4}), {.verbose = 0, .callbacks = {}});
  CHECK(at::allclose(p.sum(1), at::ones({5})));  // softmax rows
}

TEST_CASE("hand-written Keras 2 and Keras 3 functional configs of y = Add(Dense(x), x) build the same model", "[config]") {
  // formats_tb_keras.md §6, Example B, in both dialects.
  const json k2 = json::parse(R"({"class_name":"Functional","config":{"name":"model","trainable":true,"layers":[
    {"class_name":"InputLayer","name":"x","inbound_nodes":[],"config":{"batch_input_shape":[null,4],"dtype":"float32","sparse":false,"ragged":false,"name":"x"}},
    {"class_name":"Dense","name":"h","inbound_nodes":[[["x",0,0,{}]]],"config":{"name":"h","trainable":true,"dtype":"float32","units":4,"activation":"linear","use_bias":true}},
    {"class_name":"Add","name":"add","inbound_nodes":[[["h",0,0,{}],["x",0,0,{}]]],"config":{"name":"add","trainable":true,"dtype":"float32"}}],
    "input_layers":[["x",0,0]],"output_layers":[["add",0,0]]},"keras_version":"2.15.0","backend":"tensorflow"})");
  const json k3 = json::parse(R"({"module":"keras.src.models.functional","class_name":"Functional","registered_name":"Functional","config":{"name":"model","trainable":true,"layers":[
    {"module":"keras.layers","class_name":"InputLayer","registered_name":null,"name":"x","inbound_nodes":[],"config":{"batch_shape":[null,4],"dtype":"float32","sparse":false,"ragged":false,"name":"x","optional":false}},
    {"module":"keras.layers","class_name":"Dense","registered_name":null,"build_config":{"input_shape":[null,4]},"name":"h",
     "config":{"name":"h","trainable":true,"dtype":{"module":"keras","class_name":"DTypePolicy","config":{"name":"float32"},"registered_name":null},"units":4,"activation":"linear","use_bias":true},
     "inbound_nodes":[{"args":[{"class_name":"__keras_tensor__","config":{"shape":[null,4],"dtype":"float32","keras_history":["x",0,0]}}],"kwargs":{}}]},
    {"module":"keras.layers","class_name":"Add","registered_name":null,"build_config":{"input_shape":[[null,4],[null,4]]},"name":"add",
     "config":{"name":"add","trainable":true,"dtype":{"module":"keras","class_name":"DTypePolicy","config":{"name":"float32"},"registered_name":null}},
     "inbound_nodes":[{"args":[[{"class_name":"__keras_tensor__","config":{"shape":[null,4],"dtype":"float32","keras_history":["h",0,0]}},
                               {"class_name":"__keras_tensor__","config":{"shape":[null,4],"dtype":"float32","keras_history":["x",0,0]}}]],"kwargs":{}}]}],
    "input_layers":["x",0,0],"output_layers":[["add",0,0]]}})");
  auto from_k2 = models::model_from_config(k2);
  auto from_k3 = models::model_from_config(k3);
  CHECK(structure_of(*from_k2) == std::vector<std::string>{"InputLayer x", "  node:", "Dense h", "  node: x[0][0]", "Add add",
                                                           "  node: h[0][0] x[0][0]"});
  CHECK(structure_of(*from_k3) == structure_of(*from_k2));
  CHECK(summary_of(*from_k3) == summary_of(*from_k2));
  from_k3->set_weights(from_k2->get_weights());
  const at::Tensor x = at::randn({2, 4});
  const auto& h = *from_k2->get_layer("h");
  const at::Tensor expected = at::addmm(h.get_weights()[1], x, h.get_weights()[0]) + x;
  CHECK(at::allclose((*from_k2)(x), expected, 1e-5, 1e-6));
  CHECK(at::allclose((*from_k3)(x), expected, 1e-5, 1e-6));
}

TEST_CASE("a Keras 2 Sequential whose first layer carries batch_input_shape gets that input", "[config]") {
  auto model = models::model_from_json(R"({"class_name":"Sequential","config":{"name":"s","layers":[
    {"class_name":"Dense","config":{"name":"d","units":2,"batch_input_shape":[null,3],"dtype":"float32"}}]}})");
  CHECK(model->built());
  CHECK(model->count_params() == 3 * 2 + 2);
}

TEST_CASE("bad configs fail naming the layer and what is wrong", "[config]") {
  using Catch::Matchers::Contains;
  const std::string input = R"({"class_name":"InputLayer","name":"x","inbound_nodes":[],"config":{"batch_input_shape":[null,4],"name":"x"}})";
  auto functional = [&](const std::string& layer) {
    return R"({"class_name":"Functional","config":{"name":"m","layers":[)" + input + "," + layer +
           R"(],"input_layers":[["x",0,0]],"output_layers":[["h",0,0]]}})";
  };
  CHECK_THROWS_WITH(models::model_from_json("{not json"), Contains("not valid JSON"));
  CHECK_THROWS_WITH(models::model_from_json(functional(R"({"class_name":"Danse","name":"h","config":{"name":"h"},"inbound_nodes":[[["x",0,0,{}]]]})")),
                    Contains("layer 'h'") && Contains("unknown layer class 'Danse'"));
  CHECK_THROWS_WITH(models::model_from_json(functional(R"({"class_name":"Dense","name":"h","config":{"name":"h","units":2},"inbound_nodes":[[["z",0,0,{}]]]})")),
                    Contains("layer 'h' inbound node 0") && Contains("layer 'z', which the config does not list"));
  CHECK_THROWS_WITH(models::model_from_json(functional(R"({"class_name":"Dense","name":"h","config":{"name":"h","units":2},"inbound_nodes":[[["x",3,0,{}]]]})")),
                    Contains("node index 3 of layer 'x' is out of range"));
  CHECK_THROWS_WITH(models::model_from_json(functional(R"({"class_name":"Dense","name":"h","config":{"name":"h","units":2},"inbound_nodes":[["x"]]})")),
                    Contains("[layer_name, node_index, tensor_index]"));
  CHECK_THROWS_WITH(models::model_from_json(R"({"class_name":"Functional","config":{"name":"m","layers":[]}})"),
                    Contains("Functional 'm'") && Contains("input_layers"));
  CHECK_THROWS_WITH(models::model_from_json(R"({"class_name":"Dense","config":{"units":2}})"), Contains("is a layer, not a model"));
  CHECK_THROWS_WITH(models::model_from_json(functional(R"({"class_name":"Foo","registered_name":"pkg>Foo","name":"h","config":{"name":"h"},"inbound_nodes":[[["x",0,0,{}]]]})")),
                    Contains("layer 'h'") && Contains("register_class<Foo>(\"pkg>Foo\")"));
}

TEST_CASE("a registered custom layer saves and loads like a built-in", "[config]") {
  auto x = Input({3}, {.name = "x"});
  auto scaled = share(Scale(2.5, "scale"));
  Model model(x, layers::Dense(2, {.name = "d"})((*scaled)(x)), "custom");
  const json k3 = models::serialize_model(model, KerasDialect::kKeras3);
  json entry = k3["config"]["layers"][1];
  CHECK(entry["class_name"] == "Scale");
  CHECK(entry["registered_name"] == "my_package>Scale");
  CHECK(entry["module"] == "my_package");
  auto rebuilt = check_round_trip(model, KerasDialect::kKeras3, {at::randn({2, 3})});
  CHECK(dynamic_cast<Scale*>(rebuilt->get_layer("scale").get()));
  check_round_trip(model, KerasDialect::kKeras2, {at::randn({2, 3})});
  // A temporary of the class joins a graph once registered.
  auto y = Scale(0.5)(x);
  CHECK(y.layer()->class_name() == "Scale");
}

TEST_CASE("tf.keras 2 configs: nested models' calls count from 1, MultiHeadAttention's value and RNN states", "[config]") {
  // As tf.keras 2.15 writes them (checked with its model.to_json()): a nested model built from an Input has a
  // first node of its own, which the config skips, so its two calls are nodes 1 and 2; MultiHeadAttention's
  // value is a kwarg; an LSTM's initial states follow its input in the node.
  const json k2 = json::parse(R"({"class_name":"Functional","config":{"name":"m","layers":[
    {"class_name":"InputLayer","name":"q","inbound_nodes":[],"config":{"batch_input_shape":[null,3,4],"dtype":"float32","name":"q"}},
    {"class_name":"InputLayer","name":"v","inbound_nodes":[],"config":{"batch_input_shape":[null,5,4],"dtype":"float32","name":"v"}},
    {"class_name":"InputLayer","name":"s","inbound_nodes":[],"config":{"batch_input_shape":[null,3],"dtype":"float32","name":"s"}},
    {"class_name":"InputLayer","name":"x","inbound_nodes":[],"config":{"batch_input_shape":[null,4],"dtype":"float32","name":"x"}},
    {"class_name":"MultiHeadAttention","name":"mha","inbound_nodes":[[["q",0,0,{"value":["v",0,0]}]]],
     "config":{"name":"mha","num_heads":2,"key_dim":3,"query_shape":[null,3,4],"key_shape":[null,5,4],"value_shape":[null,5,4]}},
    {"class_name":"LSTM","name":"lstm","inbound_nodes":[[["q",0,0,{}],["s",0,0,{}],["s",0,0,{}]]],"config":{"name":"lstm","units":3}},
    {"class_name":"Sequential","name":"inner","inbound_nodes":[[["x",0,0,{}]],[["x",0,0,{}]]],
     "config":{"name":"inner","layers":[{"class_name":"InputLayer","config":{"batch_input_shape":[null,4],"name":"input_1"}},
                                        {"class_name":"Dense","config":{"name":"dense","units":2}}]}}],
    "input_layers":[["q",0,0],["v",0,0],["s",0,0],["x",0,0]],
    "output_layers":[["mha",0,0],["lstm",0,0],["inner",1,0],["inner",2,0]]}})");
  auto model = models::model_from_config(k2);
  CHECK(structure_of(*model) == std::vector<std::string>{"InputLayer q", "  node:", "InputLayer v", "  node:", "InputLayer s",
                                                         "  node:", "InputLayer x", "  node:", "MultiHeadAttention mha",
                                                         "  node: q[0][0] v[0][0]", "LSTM lstm", "  node: q[0][0] s[0][0] s[0][0]",
                                                         "Sequential inner", "  node: x[0][0]", "  node: x[0][0]"});
  CHECK(model->output_names() == std::vector<std::string>{"mha", "lstm", "inner", "inner_1"});
  // Written back in the same dialect, the numbering is tf.keras 2's again.
  const json again = models::serialize_model(*model, KerasDialect::kKeras2);
  CHECK(again["config"]["output_layers"] == k2["config"]["output_layers"]);
  CHECK(again["config"]["layers"][4]["inbound_nodes"] == k2["config"]["layers"][4]["inbound_nodes"]);
  CHECK(again["config"]["layers"][5]["inbound_nodes"] == k2["config"]["layers"][5]["inbound_nodes"]);
  // Node 0 of such a nested model is its own internal node, which no config may reference.
  json bad = k2;
  bad["config"]["output_layers"][2] = json::parse(R"(["inner",0,0])");
  CHECK_THROWS_WITH(models::model_from_config(bad), Catch::Matchers::Contains("node index 0 of nested model 'inner'"));
}

TEST_CASE("a registered Model subclass comes back from to_json as its own class", "[config]") {
  TwoStep model(3, "two_step");
  const at::Tensor x = at::randn({4, 2});
  const at::Tensor expected = model(x);
  const json k3 = json::parse(model.to_json());
  CHECK(k3["class_name"] == "TwoStep");
  CHECK(k3["registered_name"] == "my_package>TwoStep");
  CHECK(k3["config"]["units"] == 3);
  auto rebuilt = models::model_from_json(model.to_json());
  auto* typed = dynamic_cast<TwoStep*>(rebuilt.get());
  REQUIRE(typed);
  CHECK(typed->name() == "two_step");
  (*typed)(x);  // builds its layers
  typed->set_weights(model.get_weights());
  CHECK(at::allclose((*typed)(x), expected, 1e-6, 1e-6));
  // Keras 3 may name only the registered name; a bare class name is known too.
  json by_class = k3;
  by_class.erase("registered_name");
  CHECK(dynamic_cast<TwoStep*>(models::model_from_config(by_class).get()));
}
