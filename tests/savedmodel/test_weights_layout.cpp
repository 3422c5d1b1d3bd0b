// The exact structure of the files save_weights writes, read back through the HDF5 wrapper and compared with what
// Keras 3.15 (x.weights.h5) and tf.keras 2.15 (x.h5) wrote for the same architectures (h5py listings of those
// files, transcribed below).

#include <ATen/ATen.h>
#include <strata/core/naming.h>
#include <strata/savedmodel/hdf5.h>
#include <strata/savedmodel/keras3_weights.h>

#include <catch2/catch.hpp>
#include <map>

#include "temp_dir.h"
#include "weights_models.h"

using namespace strata;
using strata::test_support::TempDir;

namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

// Every dataset under `group` with its shape, and every `vars` group's name attribute.
void walk(const h5::Group& group, const std::string& prefix, Shapes& datasets,
          std::map<std::string, std::string>& vars_names) {
  for (const auto& child : group.children()) {
    const std::string path = prefix.empty() ? child : prefix + "/" + child;
    if (group.is_dataset(child)) {
      datasets[path] = group.dataset_shape(child);
    } else {
      const auto sub = group.group(child);
      if (child == "vars") vars_names[path] = sub.string_attribute("name");
      walk(sub, path, datasets, vars_names);
    }
  }
}

}  // namespace

TEST_CASE("Keras 3 layout: recurrent layers, wrappers, attention and a nested Sequential", "[savedmodel][keras3]") {
  clear_session();
  auto model = test_support::recurrent_zoo();
  TempDir dir;
  model->save_weights(dir.file("zoo.weights.h5"));
  Shapes datasets;
  std::map<std::string, std::string> vars;
  walk(h5::File::open_read_only(dir.file("zoo.weights.h5")), "", datasets, vars);
  const Shapes expected = {
      {"layers/lstm/cell/vars/0", {4, 12}}, {"layers/lstm/cell/vars/1", {3, 12}}, {"layers/lstm/cell/vars/2", {12}},
      {"layers/gru/cell/vars/0", {3, 9}}, {"layers/gru/cell/vars/1", {3, 9}}, {"layers/gru/cell/vars/2", {2, 9}},
      {"layers/simple_rnn/cell/vars/0", {3, 3}}, {"layers/simple_rnn/cell/vars/1", {3, 3}},
      {"layers/simple_rnn/cell/vars/2", {3}},
      {"layers/bidirectional/forward_layer/cell/vars/0", {3, 8}},
      {"layers/bidirectional/forward_layer/cell/vars/1", {2, 8}},
      {"layers/bidirectional/forward_layer/cell/vars/2", {8}},
      {"layers/bidirectional/backward_layer/cell/vars/0", {3, 8}},
      {"layers/bidirectional/backward_layer/cell/vars/1", {2, 8}},
      {"layers/bidirectional/backward_layer/cell/vars/2", {8}},
      {"layers/time_distributed/layer/vars/0", {4, 4}}, {"layers/time_distributed/layer/vars/1", {4}},
      {"layers/multi_head_attention/query_dense/vars/0", {4, 2, 3}},
      {"layers/multi_head_attention/query_dense/vars/1", {2, 3}},
      {"layers/multi_head_attention/key_dense/vars/0", {4, 2, 3}},
      {"layers/multi_head_attention/key_dense/vars/1", {2, 3}},
      {"layers/multi_head_attention/value_dense/vars/0", {4, 2, 3}},
      {"layers/multi_head_attention/value_dense/vars/1", {2, 3}},
      {"layers/multi_head_attention/output_dense/vars/0", {2, 3, 4}},
      {"layers/multi_head_attention/output_dense/vars/1", {4}},
      {"layers/layer_normalization/vars/0", {4}}, {"layers/layer_normalization/vars/1", {4}},
      {"layers/sequential/layers/dense/vars/0", {4, 5}}, {"layers/sequential/layers/dense/vars/1", {5}},
      {"layers/sequential/layers/batch_normalization/vars/0", {5}},
      {"layers/sequential/layers/batch_normalization/vars/1", {5}},
      {"layers/sequential/layers/batch_normalization/vars/2", {5}},
      {"layers/sequential/layers/batch_normalization/vars/3", {5}},
      {"layers/dense/vars/0", {5, 2}}, {"layers/dense/vars/1", {2}},
  };
  CHECK(datasets == expected);
  // Keras writes a named vars group for every object, weightless ones included.
  std::vector<std::string> vars_paths;
  for (const auto& [path, name] : vars) vars_paths.push_back(path);
  CHECK(vars_paths == std::vector<std::string>{
                          "layers/bidirectional/backward_layer/cell/vars", "layers/bidirectional/backward_layer/vars",
                          "layers/bidirectional/forward_layer/cell/vars", "layers/bidirectional/forward_layer/vars",
                          "layers/bidirectional/vars", "layers/dense/vars", "layers/gru/cell/vars", "layers/gru/vars",
                          "layers/input_layer/vars", "layers/layer_normalization/vars", "layers/lstm/cell/vars",
                          "layers/lstm/vars", "layers/multi_head_attention/_dropout_layer/vars",
                          "layers/multi_head_attention/_softmax/vars", "layers/multi_head_attention/key_dense/vars",
                          "layers/multi_head_attention/output_dense/vars",
                          "layers/multi_head_attention/query_dense/vars",
                          "layers/multi_head_attention/value_dense/vars", "layers/multi_head_attention/vars",
                          "layers/sequential/layers/batch_normalization/vars", "layers/sequential/layers/dense/vars",
                          "layers/sequential/vars", "layers/simple_rnn/cell/vars", "layers/simple_rnn/vars",
                          "layers/time_distributed/layer/vars", "layers/time_distributed/vars", "vars"});
  CHECK(vars["layers/lstm/cell/vars"] == "lstm_cell");
  CHECK(vars["layers/gru/cell/vars"] == "gru_cell");
  CHECK(vars["layers/simple_rnn/cell/vars"] == "simple_rnn_cell");
  CHECK(vars["layers/lstm/vars"] == "lstm");
  CHECK(vars["layers/multi_head_attention/query_dense/vars"] == "query");
  CHECK(vars["layers/multi_head_attention/output_dense/vars"] == "attention_output");
  CHECK(vars["layers/multi_head_attention/_dropout_layer/vars"] == "dropout");
  CHECK(vars["layers/bidirectional/forward_layer/vars"] == "forward_lstm_1");
  CHECK(vars["layers/time_distributed/layer/vars"] == "dense");
  CHECK(vars["layers/sequential/layers/dense/vars"] == "dense_1");
  CHECK(vars["layers/dense/vars"] == "dense_2");
  CHECK(vars["vars"] == model->name());
  // The values are the weights in Keras' order: the LSTM cell's are kernel, recurrent_kernel, bias.
  auto file = h5::File::open_read_only(dir.file("zoo.weights.h5"));
  const auto lstm = model->layers().at(1)->get_weights();
  for (int i = 0; i < 3; ++i) CHECK(at::equal(file.read_dataset("layers/lstm/cell/vars/" + std::to_string(i)), lstm[i]));
}

TEST_CASE("Keras 3 layout: Sequential Conv2D/BatchNormalization/Flatten/Dense, Embedding, nested functional",
          "[savedmodel][keras3]") {
  TempDir dir;
  auto check_layout = [&](Model& model, const Shapes& expected, const std::vector<std::string>& weightless) {
    model.save_weights(dir.file("m.weights.h5"));
    Shapes datasets;
    std::map<std::string, std::string> vars;
    walk(h5::File::open_read_only(dir.file("m.weights.h5")), "", datasets, vars);
    CHECK(datasets == expected);
    for (const auto& path : weightless) CHECK(vars.count(path.empty() ? "vars" : path + "/vars") == 1);
  };
  check_layout(*test_support::conv_stack(),
               {{"layers/conv2d/vars/0", {3, 3, 3, 2}}, {"layers/conv2d/vars/1", {2}},
                {"layers/batch_normalization/vars/0", {2}}, {"layers/batch_normalization/vars/1", {2}},
                {"layers/batch_normalization/vars/2", {2}}, {"layers/batch_normalization/vars/3", {2}},
                {"layers/dense/vars/0", {72, 3}}, {"layers/dense/vars/1", {3}}},
               {"layers/flatten", ""});  // a Sequential has no input_layer group
  check_layout(*test_support::embedding_stack(),
               {{"layers/embedding/vars/0", {10, 4}}, {"layers/dense/vars/0", {4, 3}}, {"layers/dense/vars/1", {3}},
                {"layers/dense_1/vars/0", {3, 2}}, {"layers/dense_1/vars/1", {2}}},
               {});
  auto inner_in = Input({3});
  auto inner = std::make_shared<Model>(inner_in, layers::Dense(2)(inner_in));
  auto outer_in = Input({3});
  Model outer(outer_in, layers::Dense(1)((*inner)(outer_in)));
  check_layout(outer,
               {{"layers/functional/layers/dense/vars/0", {3, 2}}, {"layers/functional/layers/dense/vars/1", {2}},
                {"layers/dense/vars/0", {2, 1}}, {"layers/dense/vars/1", {1}}},
               {"layers/input_layer", "layers/functional/layers/input_layer", "layers/functional"});
}

TEST_CASE("Keras 3 layout: optimizer variables passed in are written to optimizer/vars and read back",
          "[savedmodel][keras3]") {
  TempDir dir;
  auto model = test_support::embedding_stack();
  const std::vector<at::Tensor> slots = {at::scalar_tensor(7, at::kLong), at::scalar_tensor(0.01), at::randn({10, 4})};
  {
    auto file = h5::File::create(dir.file("o.weights.h5"));
    savedmodel::write_keras3_weights(file, *model, slots, "adam");
  }
  auto file = h5::File::open_read_only(dir.file("o.weights.h5"));
  CHECK(file.group("optimizer/vars").string_attribute("name") == "adam");
  const auto back = savedmodel::read_keras3_optimizer_variables(file);
  REQUIRE(back.size() == slots.size());
  for (size_t i = 0; i < slots.size(); ++i) CHECK(at::equal(back[i], slots[i]));
  auto plain = h5::File::create(dir.file("p.weights.h5"));
  savedmodel::write_keras3_weights(plain, *model);
  CHECK(savedmodel::read_keras3_optimizer_variables(plain).empty());
}

TEST_CASE("legacy layout: tf.keras 2.15's root attributes, layer groups and weight names", "[savedmodel][legacy]") {
  clear_session();
  auto model = test_support::recurrent_zoo();
  TempDir dir;
  model->save_weights(dir.file("zoo.h5"));
  auto file = h5::File::open_read_only(dir.file("zoo.h5"));
  std::vector<std::string> layer_names;
  for (const auto& layer : model->layers()) layer_names.push_back(layer->name());
  CHECK(layer_names.front() == model->layers().front()->name());  // the functional model's InputLayer comes first
  CHECK(file.string_list_attribute("layer_names") == layer_names);
  CHECK(file.string_attribute("backend") == "tensorflow");
  CHECK(file.string_attribute("keras_version") == "2.15.0");
  using Names = std::vector<std::string>;
  const std::map<std::string, Names> expected = {
      {layer_names[0], {}},
      {"lstm", {"lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"}},
      {"gru", {"gru/gru_cell/kernel:0", "gru/gru_cell/recurrent_kernel:0", "gru/gru_cell/bias:0"}},
      {"simple_rnn",
       {"simple_rnn/simple_rnn_cell/kernel:0", "simple_rnn/simple_rnn_cell/recurrent_kernel:0",
        "simple_rnn/simple_rnn_cell/bias:0"}},
      {"bidirectional",
       {"bidirectional/forward_lstm_1/lstm_cell/kernel:0", "bidirectional/forward_lstm_1/lstm_cell/recurrent_kernel:0",
        "bidirectional/forward_lstm_1/lstm_cell/bias:0", "bidirectional/backward_lstm_1/lstm_cell/kernel:0",
        "bidirectional/backward_lstm_1/lstm_cell/recurrent_kernel:0", "bidirectional/backward_lstm_1/lstm_cell/bias:0"}},
      {"multi_head_attention",
       {"multi_head_attention/query/kernel:0", "multi_head_attention/query/bias:0", "multi_head_attention/key/kernel:0",
        "multi_head_attention/key/bias:0", "multi_head_attention/value/kernel:0", "multi_head_attention/value/bias:0",
        "multi_head_attention/attention_output/kernel:0", "multi_head_attention/attention_output/bias:0"}},
      {"layer_normalization", {"layer_normalization/gamma:0", "layer_normalization/beta:0"}},
      // A nested model's weights: all trainable, then all non-trainable, named by its own layers.
      {"sequential",
       {"dense_1/kernel:0", "dense_1/bias:0", "batch_normalization/gamma:0", "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"}},
      {"dense_2", {"dense_2/kernel:0", "dense_2/bias:0"}},
  };
  for (const auto& [layer, names] : expected) {
    INFO("layer " << layer);
    const auto group = file.group(layer);
    CHECK(group.string_list_attribute("weight_names") == names);
    for (const auto& name : names) CHECK(group.is_dataset(name));
  }
  CHECK(file.group("gru").dataset_shape("gru/gru_cell/bias:0") == std::vector<int64_t>{2, 9});
  CHECK(file.group("sequential").dataset_shape("batch_normalization/moving_variance:0") == std::vector<int64_t>{5});
  CHECK(file.group("top_level_model_weights").string_list_attribute("weight_names").empty());
  const auto bn = model->get_layer("sequential")->get_weights();
  CHECK(at::equal(file.group("sequential").read_dataset("batch_normalization/moving_mean:0"), bn[4]));

  // A Sequential model lists its layers without an InputLayer.
  clear_session();
  auto conv = test_support::conv_stack();
  conv->save_weights(dir.file("conv.h5"));
  auto conv_file = h5::File::open_read_only(dir.file("conv.h5"));
  CHECK(conv_file.string_list_attribute("layer_names") ==
        std::vector<std::string>{"conv2d", "batch_normalization", "flatten", "dense"});
  CHECK(conv_file.group("flatten").string_list_attribute("weight_names").empty());
  CHECK(conv_file.group("conv2d").dataset_shape("conv2d/kernel:0") == std::vector<int64_t>{3, 3, 3, 2});
}
