// Model configs for check_configs.py, both ways:
//   keras_config_dump write CASES.json OUT.json  builds each case (one layer on Input()s, or a whole model) in
//       Strata and writes its config in both Keras dialects and its summary();
//   keras_config_dump read IN.json OUT.json     builds each {"id", "json"} (a config written by Keras) with
//       model_from_json and writes its summary() and config, or the error.

#include <strata/layers/input_layer.h>
#include <strata/layers/registry.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>
#include <strata/savedmodel/model_config.h>
#include <strata/savedmodel/saving.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace {

using nlohmann::json;
using namespace strata;

std::string summary_of(const Model& model) {
  std::ostringstream out;
  model.summary(out);
  return out.str();
}

Shape shape_from(const json& dims) {
  Shape shape;
  for (const auto& d : dims) shape.push_back(d.is_null() ? kNone : d.get<int64_t>());
  return shape;
}

std::vector<SymbolicTensor> case_inputs(const json& c) {
  std::vector<SymbolicTensor> inputs;
  for (size_t i = 0; i < c.at("inputs").size(); ++i)
    inputs.push_back(Input(shape_from(c["inputs"][i]), {.name = "in_" + std::to_string(i),
                                                        .dtype = c.value("int", false) ? "int64" : "float32"}));
  return inputs;
}

// One layer called on the case's inputs, or a Sequential of the case's layers, a functional model that calls a
// nested Sequential or functional model twice, or one shared layer called on two inputs.
std::shared_ptr<Model> build_case(const json& c) {
  if (c.contains("sequential")) {
    std::vector<LayerRef> stack{Input(shape_from(c["inputs"][0]), {.name = "in_0"})};
    for (const auto& spec : c["sequential"]) stack.push_back(layers::deserialize(spec));
    return std::make_shared<Sequential>(std::move(stack), "m");
  }
  auto inputs = case_inputs(c);
  if (c.contains("nested_twice")) {
    std::shared_ptr<Model> inner;
    if (c.value("functional", false)) {
      auto in = Input(shape_from(c["inputs"][0]), {.name = "inner_in"});
      SymbolicTensor h = in;
      for (const auto& spec : c["nested_twice"]) h = call_symbolic(layers::deserialize(spec), {h}).front();
      inner = std::make_shared<Model>(in, h, "inner");
    } else {
      std::vector<LayerRef> stack{Input(shape_from(c["inputs"][0]))};
      for (const auto& spec : c["nested_twice"]) stack.push_back(layers::deserialize(spec));
      inner = std::make_shared<Sequential>(std::move(stack), "inner");
    }
    auto a = (*inner)(inputs[0]);
    auto b = (*inner)(inputs[1]);
    return std::make_shared<Model>(inputs, std::vector<SymbolicTensor>{layers::deserialize(c["merge"])->operator()({a, b})}, "m");
  }
  if (c.contains("shared")) {
    auto shared = layers::deserialize(c["shared"]);
    return std::make_shared<Model>(inputs, std::vector<SymbolicTensor>{(*shared)(inputs[0]), (*shared)(inputs[1])}, "m");
  }
  auto layer = layers::deserialize(c.at("layer"));
  return std::make_shared<Model>(inputs, call_symbolic(layer, inputs), "m");
}

json write_case(const json& c) {
  json record = {{"id", c.at("id")}};
  try {
    auto model = build_case(c);
    record["keras3"] = models::serialize_model(*model, models::KerasDialect::kKeras3);
    record["keras2"] = models::serialize_model(*model, models::KerasDialect::kKeras2);
    record["summary"] = summary_of(*model);
    // Strata's own round trip in each dialect, so the checker can tell Strata's faults from Keras'.
    for (const char* dialect : {"keras3", "keras2"})
      record[std::string("self_") + dialect] = summary_of(*models::model_from_config(record[dialect])) == record["summary"];
  } catch (const std::exception& e) {
    record["strata_error"] = e.what();
  }
  return record;
}

json read_case(const json& c) {
  json record = {{"id", c.at("id")}};
  try {
    auto model = models::model_from_json(c.at("json").get<std::string>());
    record["summary"] = summary_of(*model);
    record["keras2"] = models::serialize_model(*model, models::KerasDialect::kKeras2);
  } catch (const std::exception& e) {
    record["strata_error"] = e.what();
  }
  return record;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 4 ? argv[1] : "";
  if (mode != "write" && mode != "read") {
    std::cerr << "usage: " << argv[0] << " write|read IN.json OUT.json\n";
    return 2;
  }
  std::ifstream in(argv[2]);
  const json cases = json::parse(in);
  json out = json::array();
  for (const auto& c : cases) out.push_back(mode == "write" ? write_case(c) : read_case(c));
  std::ofstream(argv[3]) << out.dump() << "\n";
  return 0;
}
