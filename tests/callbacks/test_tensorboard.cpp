// TensorBoard event files, read back by a reader written here: TFRecord framing with both masked CRC-32Cs
// checked, each record parsed as an Event with the generated classes. The values after a short fit() must be
// History's (as float32, what TensorBoard stores), with Keras 3's tags, runs and steps.

#include <strata/callbacks/event_file_writer.h>
#include <strata/callbacks/tensorboard.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/sgd.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "strata_tb_event.pb.h"
#include "tensorboard_event_reader.h"

using namespace strata;
namespace fs = std::filesystem;
using tb_test::only_event_file;
using tb_test::read_le;
using tb_test::read_events;
using Catch::Matchers::Contains;

namespace {

fs::path scratch_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("strata_tensorboard_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  return dir;
}

float scalar_value(const strata_tb::Summary::Value& value) {
  REQUIRE(value.tensor().dtype() == strata_tb::DT_FLOAT);
  REQUIRE(value.tensor().tensor_shape().dim_size() == 0);
  REQUIRE(value.tensor().tensor_content().size() == 4);
  float f;
  std::memcpy(&f, value.tensor().tensor_content().data(), 4);
  return f;
}

// tag -> (step -> value) of every summary value whose plugin is `plugin`.
std::map<std::string, std::map<int64_t, strata_tb::Summary::Value>> by_tag(const std::vector<strata_tb::Event>& events,
                                                                            const std::string& plugin) {
  std::map<std::string, std::map<int64_t, strata_tb::Summary::Value>> out;
  for (const auto& event : events)
    for (const auto& value : event.summary().value())
      if (value.metadata().plugin_data().plugin_name() == plugin) out[value.tag()][event.step()] = value;
  return out;
}

}  // namespace

TEST_CASE("CRC-32C and its mask match the published test vectors", "[tensorboard]") {
  CHECK(tensorboard::crc32c("123456789", 9) == 0xE3069283u);
  const std::string zeros(32, '\0');
  CHECK(tensorboard::crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);
  const std::string tb_vector = std::string("\x1a\x11") + "CRC test, one two";
  CHECK(tensorboard::masked_crc32c(tb_vector.data(), tb_vector.size()) == 0x5794D08Au);
  // The worked record: Event{file_version: "brain.Event:2"} and its 8-byte length header.
  const std::string event = std::string("\x1a\x0d") + "brain.Event:2";
  const std::string header("\x0f\0\0\0\0\0\0\0", 8);
  CHECK(tensorboard::masked_crc32c(header.data(), 8) == 0x092B536Du);
  CHECK(tensorboard::masked_crc32c(event.data(), event.size()) == 0x295198FCu);
}

TEST_CASE("an event file starts with brain.Event:2, and a cut-off last record leaves the others readable",
          "[tensorboard]") {
  const fs::path dir = scratch_dir("writer");
  std::string path;
  {
    tensorboard::EventFileWriter writer(dir.string());
    path = writer.path();
    for (int step = 0; step < 3; ++step) writer.scalar("x", 0.25 * step, step);
  }
  CHECK_THAT(fs::path(path).filename().string(), Catch::Matchers::Matches(R"(events\.out\.tfevents\.\d{10}\..+\.\d+\.\d+)"));
  bool incomplete = true;
  auto events = read_events(path, &incomplete);
  REQUIRE(events.size() == 4);
  CHECK_FALSE(incomplete);
  CHECK(events[0].file_version() == "brain.Event:2");
  CHECK(events[0].wall_time() > 1.6e9);
  CHECK(scalar_value(events[3].summary().value(0)) == 0.5f);
  CHECK(events[3].step() == 2);

  // A crash in the middle of the last record: the earlier three stay intact.
  fs::resize_file(path, fs::file_size(path) - 5);
  events = read_events(path, &incomplete);
  CHECK(incomplete);
  REQUIRE(events.size() == 3);
  CHECK(scalar_value(events[2].summary().value(0)) == 0.25f);
}

TEST_CASE("histograms follow TensorBoard's equal-width buckets", "[tensorboard]") {
  const fs::path dir = scratch_dir("histogram");
  std::string path;
  {
    tensorboard::EventFileWriter writer(dir.string());
    path = writer.path();
    writer.histogram("h", at::tensor({0.0, 1.0, 1.5, 4.0}), 7, 4);  // width 1: [0,1) [1,2) [2,3) [3,4]
    writer.histogram("c", at::full({3}, 2.0), 7, 2);               // constant: all in the last bucket
  }
  auto histograms = by_tag(read_events(path), "histograms");
  const auto& h = histograms.at("h").at(7).tensor();
  REQUIRE(h.dtype() == strata_tb::DT_DOUBLE);
  REQUIRE(h.tensor_shape().dim_size() == 2);
  CHECK(h.tensor_shape().dim(0).size() == 4);
  CHECK(h.tensor_shape().dim(1).size() == 3);
  const std::vector<double> expected = {0, 1, 1, 1, 2, 2, 2, 3, 0, 3, 4, 1};
  REQUIRE(h.double_val_size() == 12);
  for (int i = 0; i < 12; ++i) CHECK(h.double_val(i) == expected[i]);
  const auto& c = histograms.at("c").at(7).tensor();
  const std::vector<double> constant = {2, 2, 0, 2, 2, 3};
  REQUIRE(c.double_val_size() == 6);
  for (int i = 0; i < 6; ++i) CHECK(c.double_val(i) == constant[i]);
}

TEST_CASE("encode_png writes a valid PNG whose IDAT inflates to the filtered rows", "[tensorboard]") {
  const std::vector<uint8_t> pixels = {0, 50, 100, 150, 200, 250};  // 3 wide, 2 high, gray
  const std::string png = tensorboard::encode_png(pixels.data(), 3, 2, 1);
  REQUIRE(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(png.substr(12, 4) == "IHDR");
  CHECK(read_le(png, 16, 4) == 0x03000000u);  // big-endian width 3 read as LE
  const size_t idat = png.find("IDAT");
  REQUIRE(idat != std::string::npos);
  const uint32_t idat_length = static_cast<uint32_t>(static_cast<uint8_t>(png[idat - 1])) |
                               static_cast<uint32_t>(static_cast<uint8_t>(png[idat - 2])) << 8;
  std::string raw(8, '\0');
  uLongf raw_size = raw.size();
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                     reinterpret_cast<const Bytef*>(png.data() + idat + 4), idat_length) == Z_OK);
  CHECK(raw_size == 8);
  CHECK(raw == std::string("\0\x00\x32\x64\0\x96\xc8\xfa", 8));
  CHECK(png.substr(png.size() - 8, 4) == "IEND");
  CHECK_THROWS_WITH(tensorboard::encode_png(pixels.data(), 3, 2, 5), Contains("1 to 4 channels"));
}

TEST_CASE("TensorBoard writes Keras' tags, runs and steps during fit", "[tensorboard]") {
  set_random_seed(3);
  const fs::path dir = scratch_dir("fit");
  at::Tensor x = at::randn({40, 4});
  at::Tensor y = x.sum(1, true) * 0.5;
  Sequential model({layers::Input({4}), layers::Dense(3, {.activation = "relu", .name = "hidden"}),
                    layers::Dense(1, {.name = "out"})});
  model.compile({.optimizer = "sgd", .loss = "mse", .metrics = {"mae"}});
  auto history = model.fit(x, y,
                           {.batch_size = 8,
                            .epochs = 3,
                            .verbose = 0,
                            .callbacks = {callbacks::TensorBoard({.log_dir = dir.string(),
                                                                  .histogram_freq = 2,
                                                                  .write_images = true,
                                                                  .update_freq = int64_t{2}})},
                            .validation_split = 0.25});

  const auto train = read_events(only_event_file(dir / "train"));
  const auto validation = read_events(only_event_file(dir / "validation"));
  CHECK(train.front().file_version() == "brain.Event:2");
  const auto train_scalars = by_tag(train, "scalars");
  const auto val_scalars = by_tag(validation, "scalars");
  for (const auto& [key, values] : history.history) {
    const bool is_val = key.rfind("val_", 0) == 0;
    const std::string tag = "epoch_" + (is_val ? key.substr(4) : key);
    const auto& series = (is_val ? val_scalars : train_scalars).at(tag);
    REQUIRE(series.size() == 3);
    for (int epoch = 0; epoch < 3; ++epoch) CHECK(scalar_value(series.at(epoch)) == static_cast<float>(values[epoch]));
  }
  CHECK(train_scalars.count("epoch_val_loss") == 0);
  for (int epoch = 0; epoch < 3; ++epoch)
    CHECK(scalar_value(train_scalars.at("epoch_learning_rate").at(epoch)) == 0.01f);  // SGD's default

  // 30 training samples in batches of 8: 4 batches per epoch, 12 in all; update_freq 2 writes steps 2, 4, ..., 12.
  const auto& batch_loss = train_scalars.at("batch_loss");
  CHECK(batch_loss.size() == 6);
  CHECK(batch_loss.begin()->first == 2);
  CHECK(batch_loss.rbegin()->first == 12);
  CHECK(train_scalars.count("batch_mae") == 1);
  // After each validation pass, at step = optimizer iterations (4, 8, 12).
  const auto& evaluation = val_scalars.at("evaluation_loss_vs_iterations");
  CHECK(evaluation.size() == 3);
  CHECK(scalar_value(evaluation.at(12)) == static_cast<float>(history.history.at("val_loss")[2]));

  // histogram_freq 2: epochs 0 and 2, every weight; the last one equals the final weights.
  const auto histograms = by_tag(train, "histograms");
  CHECK(histograms.size() == 4);
  const auto& kernel = histograms.at("hidden/kernel/histogram");
  CHECK(kernel.size() == 2);
  CHECK(kernel.count(0) == 1);
  const auto& final_kernel = kernel.at(2).tensor();
  double count = 0, lo = 1e300, hi = -1e300;
  for (int i = 0; i < final_kernel.double_val_size(); i += 3) {
    lo = std::min(lo, final_kernel.double_val(i));
    hi = std::max(hi, final_kernel.double_val(i + 1));
    count += final_kernel.double_val(i + 2);
  }
  at::Tensor weights = model.get_layer(0)->get_weights()[0].to(at::kDouble);
  CHECK(count == 12);
  CHECK(lo == weights.min().item<double>());
  CHECK(hi == weights.max().item<double>());

  // write_images: the [4, 3] kernel shown as one 3x4 image, the bias as a 3x1 column.
  const auto images = by_tag(train, "images");
  const auto& kernel_image = images.at("hidden/kernel/image").at(2).tensor();
  REQUIRE(kernel_image.dtype() == strata_tb::DT_STRING);
  REQUIRE(kernel_image.string_val_size() == 3);
  CHECK(kernel_image.string_val(0) == "4");  // width
  CHECK(kernel_image.string_val(1) == "3");  // height
  CHECK(kernel_image.string_val(2).substr(1, 3) == "PNG");
  CHECK(images.at("hidden/bias/image").at(0).tensor().string_val(1) == "3");

  // write_graph: the Keras 3 model config, tag "keras", plugin content "1", step 0.
  const auto graphs = by_tag(train, "graph_keras_model");
  const auto& graph = graphs.at("keras").at(0);
  CHECK(graph.metadata().plugin_data().content() == "1");
  REQUIRE(graph.tensor().dtype() == strata_tb::DT_STRING);
  const auto config = nlohmann::json::parse(graph.tensor().string_val(0));
  CHECK(config["class_name"] == "Sequential");
  CHECK(config["config"]["layers"].size() >= 2);
}

TEST_CASE("write_grads logs the last batch's gradients beside the weights", "[tensorboard]") {
  set_random_seed(4);
  const fs::path dir = scratch_dir("grads");
  const at::Tensor x = at::randn({6, 3}), y = at::randn({6, 2});
  Sequential model({layers::Input({3}), layers::Dense(2, {.name = "d"})});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}), .loss = "mse"});  // weights stay put
  const at::Tensor w = model.get_weights()[0].to(at::kDouble), b = model.get_weights()[1].to(at::kDouble);
  model.fit(x, y, {.batch_size = 6, .epochs = 1, .verbose = 0,
                   .callbacks = {callbacks::TensorBoard({.log_dir = dir.string(), .histogram_freq = 1,
                                                         .write_grads = true, .write_graph = false})}});
  // mse = mean over the 6 samples and 2 outputs of (xW + b - y)^2, so dW = 2/12 x^T (xW + b - y).
  const at::Tensor xd = x.to(at::kDouble);
  const at::Tensor expected = xd.t().matmul(xd.matmul(w) + b - y.to(at::kDouble)) * (2.0 / 12.0);
  const auto histograms = by_tag(read_events(only_event_file(dir / "train")), "histograms");
  const auto& histogram = histograms.at("d/kernel_grad/histogram").at(0).tensor();
  double count = 0, lo = 1e300, hi = -1e300;
  for (int i = 0; i < histogram.double_val_size(); i += 3) {
    lo = std::min(lo, histogram.double_val(i));
    hi = std::max(hi, histogram.double_val(i + 1));
    count += histogram.double_val(i + 2);
  }
  CHECK(count == 6);
  CHECK(lo == Approx(expected.min().item<double>()).epsilon(1e-5));
  CHECK(hi == Approx(expected.max().item<double>()).epsilon(1e-5));
  CHECK_THROWS_WITH(callbacks::TensorBoard({.write_grads = true}), Contains("write_grads needs histogram_freq"));
}

TEST_CASE("TensorBoard rejects bad arguments, and writes no validation run without validation data",
          "[tensorboard]") {
  CHECK_THROWS_WITH(callbacks::TensorBoard({.update_freq = std::string("often")}), Contains("update_freq"));
  CHECK_THROWS_WITH(callbacks::TensorBoard({.update_freq = int64_t{0}}), Contains("update_freq"));
  CHECK_THROWS_WITH(callbacks::TensorBoard({.histogram_freq = -1}), Contains("histogram_freq"));

  const fs::path dir = scratch_dir("no_validation");
  Sequential model({layers::Input({2}), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  model.fit(at::ones({4, 2}), at::ones({4, 1}),
            {.epochs = 1, .verbose = 0, .callbacks = {callbacks::TensorBoard({.log_dir = dir.string(), .write_graph = false})}});
  CHECK(fs::exists(dir / "train"));
  CHECK_FALSE(fs::exists(dir / "validation"));
  const auto train = read_events(only_event_file(dir / "train"));
  CHECK(by_tag(train, "graph_keras_model").empty());
  CHECK(by_tag(train, "scalars").count("epoch_loss") == 1);
}

TEST_CASE("write_run_text logs the model summary and the command line as text summaries", "[tensorboard]") {
  const fs::path dir = scratch_dir("run_text");
  Sequential model({layers::Input({3}), layers::Dense(2, {.name = "only_dense"})}, "noted");
  callbacks::write_run_text(dir.string(), model, {"./train", "--lr", "0.1", "two words"});
  const auto texts = by_tag(read_events(only_event_file(dir / "train")), "text");
  const auto& summary = texts.at("model_summary").at(0).tensor();
  REQUIRE(summary.dtype() == strata_tb::DT_STRING);
  CHECK(summary.tensor_shape().dim_size() == 0);
  CHECK_THAT(summary.string_val(0), Contains("only_dense") && Contains("Dense") && Contains("```"));
  CHECK(texts.at("command_line").at(0).tensor().string_val(0) == "`./train --lr 0.1 'two words'`");
}

// Not part of the suite (hidden tag): tools/tensorboard_check/check_tensorboard.py runs it to get logs from a
// real fit, then reads them with TensorBoard's own event loader. It writes under $STRATA_TB_EXPORT_DIR the runs
// (train, validation) and expected.json with History's values and the final first kernel.
TEST_CASE("export TensorBoard logs for TensorBoard's own reader", "[.tensorboard_export]") {
  const char* out = std::getenv("STRATA_TB_EXPORT_DIR");
  REQUIRE(out != nullptr);
  const fs::path dir = fs::path(out);
  set_random_seed(5);
  at::Tensor x = at::randn({48, 6});
  at::Tensor y = (x.slice(1, 0, 1) > 0).to(at::kFloat);
  Sequential model({layers::Input({6}), layers::Dense(5, {.activation = "relu", .name = "hidden"}),
                    layers::Dense(1, {.activation = "sigmoid", .name = "out"})}, "classifier");
  model.compile({.optimizer = "adam", .loss = "binary_crossentropy", .metrics = {"accuracy"}});
  auto history = model.fit(x, y,
                           {.batch_size = 8,
                            .epochs = 4,
                            .verbose = 0,
                            .callbacks = {callbacks::TensorBoard({.log_dir = dir.string(),
                                                                  .histogram_freq = 1,
                                                                  .write_images = true,
                                                                  .update_freq = int64_t{3}})},
                            .validation_split = 0.25});
  nlohmann::json expected;
  expected["history"] = history.history;
  at::Tensor kernel = model.get_layer(0)->get_weights()[0].to(at::kDouble).contiguous();
  expected["kernel"] = std::vector<double>(kernel.data_ptr<double>(), kernel.data_ptr<double>() + kernel.numel());
  expected["iterations"] = model.optimizer().iterations();
  std::ofstream(dir / "expected.json") << expected.dump();
}
