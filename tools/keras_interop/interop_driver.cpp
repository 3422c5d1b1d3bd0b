// The C++ half of the interoperability check with Python Keras 3 (run_interop.py is the other half).
//
//   keras_interop_driver export DIR   builds each case's model in Strata (fixed seeds, BatchNormalization
//       weights perturbed, one Adam step taken), and writes DIR/<case>/: model.keras, model.h5 (Model::save),
//       model.weights.h5, legacy_weights.h5 (Model::save_weights), model.json (Model::to_json), the inputs
//       x0.npy, x1.npy, ..., Strata's predictions y.npy, get_weights() as w0.npy, w1.npy, ..., Adam's slots in Keras' order as o0.npy, ..., and meta.json (layer classes and names, and the error
//       of every file Strata failed to write).
//   keras_interop_driver import DIR RESULTS.json   reads what Keras wrote in DIR/<case>/ (the same files) and
//       loads each in Strata: set_weights of Keras' get_weights (no file), load_model of both whole-model files
//       (whose optimizer must come back as Adam after one step, with Keras' slots), model_from_json + load_weights of both
//       weight files, and load_weights of both into the Strata-built model of the same case; every check's
//       predictions are compared with Keras' within 1e-5. Writes one record per check to RESULTS.json.
//
// The cases here and in run_interop.py build the same architectures with the same layer names.

#include <strata/strata.h>

#include "npy.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using namespace strata;
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-5;
constexpr int64_t kSamples = 4;

struct Case {
  std::string id;
  std::function<std::shared_ptr<Model>()> build;
  // The model's inputs for kSamples samples.
  std::function<Tensors(at::Generator&)> inputs;
};

Tensors normal_inputs(at::Generator& gen, std::vector<Shape> shapes) {
  Tensors out;
  for (auto& shape : shapes) {
    shape.insert(shape.begin(), kSamples);
    out.push_back(at::randn(shape, gen));
  }
  return out;
}

std::vector<Case> cases() {
  std::vector<Case> all;
  all.push_back({"dense",
                 [] {
                   return std::make_shared<Sequential>(
                       std::vector<LayerRef>{Input({6}, {.name = "x"}),
                                             layers::Dense(8, {.activation = "relu", .name = "hidden"}),
                                             layers::Dense(3, {.activation = "softmax", .name = "probs"})},
                       "mlp");
                 },
                 [](at::Generator& gen) { return normal_inputs(gen, {{6}}); }});
  all.push_back({"conv_bn",
                 [] {
                   return std::make_shared<Sequential>(
                       std::vector<LayerRef>{
                           Input({8, 8, 3}, {.name = "image"}),
                           layers::Conv2D(4, 3, {.padding = "same", .activation = "relu", .name = "conv1"}),
                           layers::BatchNormalization({.name = "bn"}),
                           layers::Conv2D(2, 3, {.strides = 2, .name = "conv2"}), layers::Flatten("flat"),
                           layers::Dense(3, {.name = "logits"})},
                       "convnet");
                 },
                 [](at::Generator& gen) { return normal_inputs(gen, {{8, 8, 3}}); }});
  all.push_back({"lstm",
                 [] {
                   return std::make_shared<Sequential>(
                       std::vector<LayerRef>{Input({5, 4}, {.name = "seq"}),
                                             layers::LSTM(6, {.return_sequences = true, .name = "lstm1"}),
                                             layers::LSTM(3, {.name = "lstm2"})},
                       "lstm_stack");
                 },
                 [](at::Generator& gen) { return normal_inputs(gen, {{5, 4}}); }});
  all.push_back({"gru",
                 [] {
                   return std::make_shared<Sequential>(
                       std::vector<LayerRef>{Input({5, 4}, {.name = "seq"}), layers::GRU(6, {.name = "gru1"}),
                                             layers::Dense(2, {.name = "head"})},
                       "gru_net");
                 },
                 [](at::Generator& gen) { return normal_inputs(gen, {{5, 4}}); }});
  all.push_back({"embedding",
                 [] {
                   return std::make_shared<Sequential>(
                       std::vector<LayerRef>{Input({7}, {.name = "tokens", .dtype = "int32"}),
                                             layers::Embedding(20, 4, {.name = "embed"}),
                                             layers::GlobalAveragePooling1D({.name = "pool"}),
                                             layers::Dense(2, {.name = "head"})},
                       "embed_net");
                 },
                 [](at::Generator& gen) { return Tensors{at::randint(0, 20, {kSamples, 7}, gen, at::kInt)}; }});
  all.push_back({"two_inputs_merge",
                 [] {
                   auto a = Input({6}, {.name = "a"});
                   auto b = Input({4}, {.name = "b"});
                   auto ha = layers::Dense(5, {.activation = "tanh", .name = "dense_a"})(a);
                   auto hb = layers::Dense(5, {.name = "dense_b"})(b);
                   auto sum = layers::Add("sum")({ha, hb});
                   auto joined = layers::Concatenate(-1, {.name = "joined"})({sum, a});
                   auto out = layers::Dense(3, {.name = "out"})(joined);
                   return std::make_shared<Model>(std::vector<SymbolicTensor>{a, b}, std::vector<SymbolicTensor>{out},
                                                  "two_inputs");
                 },
                 [](at::Generator& gen) { return normal_inputs(gen, {{6}, {4}}); }});
  all.push_back({"nested",
                 [] {
                   auto inner = share(Sequential({Input({6}, {.name = "inner_in"}),
                                                  layers::Dense(5, {.activation = "relu", .name = "inner_dense"}),
                                                  layers::BatchNormalization({.name = "inner_bn"})},
                                                 "inner"));
                   auto x = Input({6}, {.name = "x"});
                   auto out = layers::Dense(2, {.name = "head"})((*inner)(x));
                   return std::make_shared<Model>(x, out, "outer");
                 },
                 [](at::Generator& gen) { return normal_inputs(gen, {{6}}); }});
  return all;
}

// The largest |a - b| (shapes must agree).
double max_difference(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) {
    std::ostringstream message;
    message << "shape " << a.sizes() << " differs from Keras' " << b.sizes();
    throw std::runtime_error(message.str());
  }
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}


// DIR/x0.npy, DIR/w3.npy, ...: the files of a numbered list of arrays.
std::string numbered(const fs::path& dir, const char* prefix, size_t index) {
  std::string name = prefix;
  name += std::to_string(index);
  name += ".npy";
  return (dir / name).string();
}

// Every weight moved off its initial value (biases off zero), BatchNormalization's gamma, beta and moving
// statistics set at random, so a loader that skips or misplaces a weight cannot pass by accident.
void perturb_weights(Layer& layer, at::Generator& gen) {
  if (dynamic_cast<Model*>(&layer)) {
    for (const auto& inner : layer.sublayers()) perturb_weights(*inner, gen);
    return;
  }
  std::vector<at::Tensor> weights = layer.get_weights();
  if (weights.empty()) return;
  if (layer.class_name() == "BatchNormalization") {
    const int64_t channels = weights.at(0).size(0);
    layer.set_weights({at::rand({channels}, gen) + 0.5, at::randn({channels}, gen) * 0.3,
                       at::randn({channels}, gen) * 0.5, at::rand({channels}, gen) + 0.5});
    return;
  }
  for (auto& w : weights) w = w + 0.1 * at::randn(w.sizes(), gen).to(w.scalar_type());
  layer.set_weights(weights);
}

// Adam's slots in Keras 3's optimizer.variables order (per trainable weight: momentum, velocity); Strata keeps
// them slot by slot (every momentum, then every velocity).
std::vector<at::Tensor> adam_slots_keras_order(const Model& model) {
  const std::vector<at::Tensor> slots = model.optimizer().variables();
  const size_t count = slots.size() / 2;
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(slots[i]);
    out.push_back(slots[count + i]);
  }
  return out;
}

// Why the optimizer state of a model loaded with its compile configuration differs from Keras' (one Adam step,
// slots saved as o<i>.npy), or "" when it does not.
std::string optimizer_problem(const Model& model, const fs::path& dir, int slot_count) {
  if (!model.compiled()) return "loaded model is not compiled";
  const auto& optimizer = model.optimizer();
  if (optimizer.class_name() != "Adam") return "optimizer is " + optimizer.class_name() + ", expected Adam";
  if (optimizer.iterations() != 1)
    return "optimizer iterations " + std::to_string(optimizer.iterations()) + ", expected 1";
  const std::vector<at::Tensor> slots = adam_slots_keras_order(model);
  if (static_cast<int>(slots.size()) != slot_count)
    return "optimizer has " + std::to_string(slots.size()) + " slot variables, Keras " + std::to_string(slot_count);
  for (int i = 0; i < slot_count; ++i) {
    const at::Tensor expected = interop::load_npy(numbered(dir, "o", i));
    if (slots[i].sizes() != expected.sizes() || !(max_difference(slots[i], expected) <= 1e-7))
      return "optimizer slot " + std::to_string(i) + " (Keras order) differs from Keras'";
  }
  return "";
}

// The classes and names of a model's layers, InputLayers left out (Keras' Sequential does not list its own).
json layer_list(const Model& model) {
  json out = json::array();
  for (const auto& layer : model.layers())
    if (layer->class_name() != "InputLayer") out.push_back({layer->class_name(), layer->name()});
  return out;
}

void write_json(const fs::path& path, const json& value) { std::ofstream(path) << value.dump(1) << "\n"; }

int export_cases(const fs::path& root) {
  uint64_t seed = 1000;
  for (const auto& c : cases()) {
    const fs::path dir = root / c.id;
    fs::create_directories(dir);
    json meta = {{"id", c.id}, {"errors", json::object()}};
    try {
      set_random_seed(seed);
      auto gen = at::make_generator<at::CPUGeneratorImpl>(seed++);
      std::shared_ptr<Model> model = c.build();
      const Tensors x = c.inputs(gen);
      perturb_weights(*model, gen);
      // A loss object, not "mse": Keras 3.15 cannot load a legacy .h5 whose training_config names the loss by
      // that string (it looks up the function keras.metrics.mse as a class), even one Keras wrote itself.
      model->compile({.optimizer = "adam", .loss = losses::MeanSquaredError()});
      const at::Tensor target = at::randn(model->predict(x, {.verbose = 0}).sizes(), gen);
      model->train_on_batch(x, target);
      for (size_t i = 0; i < x.size(); ++i) interop::save_npy(numbered(dir, "x", i), x[i]);
      interop::save_npy((dir / "y.npy").string(), model->predict(x, {.verbose = 0}));
      // The weights themselves, for a baseline check that needs no file format: Keras' set_weights.
      const std::vector<at::Tensor> weights = model->get_weights();
      for (size_t i = 0; i < weights.size(); ++i)
        interop::save_npy(numbered(dir, "w", i), weights[i]);
      meta["weights"] = weights.size();
      const std::vector<at::Tensor> slots = adam_slots_keras_order(*model);
      for (size_t i = 0; i < slots.size(); ++i)
        interop::save_npy(numbered(dir, "o", i), slots[i]);
      meta["optimizer_slots"] = slots.size();
      meta["inputs"] = x.size();
      meta["layers"] = layer_list(*model);
      const std::vector<std::pair<std::string, std::function<void()>>> writers = {
          {"model.keras", [&] { model->save((dir / "model.keras").string()); }},
          {"model.h5", [&] { model->save((dir / "model.h5").string()); }},
          {"model.weights.h5", [&] { model->save_weights((dir / "model.weights.h5").string()); }},
          {"legacy_weights.h5", [&] { model->save_weights((dir / "legacy_weights.h5").string()); }},
          {"model.json",
           [&] {
             const std::string text = model->to_json();
             std::ofstream(dir / "model.json") << text;
           }},
      };
      for (const auto& [file, write] : writers) {
        try {
          write();
        } catch (const std::exception& e) {
          meta["errors"][file] = e.what();
        }
      }
    } catch (const std::exception& e) {
      meta["errors"]["build"] = e.what();
    }
    write_json(dir / "meta.json", meta);
  }
  return 0;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int import_cases(const fs::path& root, const fs::path& results_path) {
  json results = json::array();
  for (const auto& c : cases()) {
    const fs::path dir = root / c.id;
    if (!fs::exists(dir / "meta.json")) continue;
    const json meta = json::parse(read_text(dir / "meta.json"));
    auto record = [&](const std::string& check, const std::function<std::shared_ptr<Model>()>& load,
                      bool compiled = false) {
      json row = {{"case", c.id}, {"check", check}, {"ok", false}};
      try {
        if (meta.at("errors").contains("build"))
          throw std::runtime_error("Keras could not build the case: " + meta["errors"]["build"].get<std::string>());
        Tensors x;
        for (int i = 0; i < meta.at("inputs").get<int>(); ++i)
          x.push_back(interop::load_npy(numbered(dir, "x", i)));
        const at::Tensor expected = interop::load_npy((dir / "y.npy").string());
        std::shared_ptr<Model> model = load();
        const double difference = max_difference(model->predict(x, {.verbose = 0}), expected);
        row["max_abs_diff"] = difference;
        std::string problem;
        if (!(difference <= kTolerance)) problem = "predictions differ by " + std::to_string(difference);
        const json layers = layer_list(*model);
        if (layers != meta.at("layers"))
          problem += (problem.empty() ? "" : "; ") + std::string("layers ") + layers.dump() + " differ from Keras' " +
                     meta.at("layers").dump();
        if (compiled) {
          const std::string optimizer = optimizer_problem(*model, dir, meta.at("optimizer_slots").get<int>());
          if (!optimizer.empty()) problem += (problem.empty() ? "" : "; ") + optimizer;
        }
        row["ok"] = problem.empty();
        if (!problem.empty()) row["error"] = problem;
      } catch (const std::exception& e) {
        row["error"] = e.what();
      }
      results.push_back(row);
    };
    auto from_json = [&] { return models::model_from_json(read_text(dir / "model.json")); };
    auto with_weights = [](std::shared_ptr<Model> model, const fs::path& file) {
      model->load_weights(file.string());
      return model;
    };
    // The baseline, no file involved (see run_interop.py): Keras' get_weights() into the Strata-built model.
    record("Strata-built + set_weights(get_weights)", [&] {
      std::shared_ptr<Model> model = c.build();
      std::vector<at::Tensor> weights;
      for (int i = 0; i < meta.at("weights").get<int>(); ++i)
        weights.push_back(interop::load_npy(numbered(dir, "w", i)));
      model->set_weights(weights);
      return model;
    });
    record("load_model(.keras)", [&] { return models::load_model((dir / "model.keras").string()); }, true);
    record("load_model(.h5)", [&] { return models::load_model((dir / "model.h5").string()); }, true);
    record("model_from_json + load_weights(.weights.h5)",
           [&] { return with_weights(from_json(), dir / "model.weights.h5"); });
    record("model_from_json + load_weights(legacy .h5)",
           [&] { return with_weights(from_json(), dir / "legacy_weights.h5"); });
    record("Strata-built + load_weights(.weights.h5)",
           [&] { return with_weights(c.build(), dir / "model.weights.h5"); });
    record("Strata-built + load_weights(legacy .h5)",
           [&] { return with_weights(c.build(), dir / "legacy_weights.h5"); });
  }
  write_json(results_path, results);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "export" && argc == 3) return export_cases(argv[2]);
  if (mode == "import" && argc == 4) return import_cases(argv[2], argv[3]);
  std::cerr << "usage: " << argv[0] << " export DIR | import DIR RESULTS.json\n";
  return 2;
}
