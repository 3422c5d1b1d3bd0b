// ModelCheckpoint: Python-format file paths, save_best_only with and without initial_value_threshold, batch
// frequency saving (which files exist), argument checks; and python_float_repr / python_format on their own.

#include "callback_test_util.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

using namespace strata;
using namespace strata::testing;
using Catch::Matchers::Contains;

namespace {

std::set<std::string> files_in(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("python_float_repr matches Python's repr(float)", "[callbacks][model_checkpoint]") {
  using callbacks::python_float_repr;
  CHECK(python_float_repr(0.1) == "0.1");
  CHECK(python_float_repr(0.1 + 0.2) == "0.30000000000000004");
  CHECK(python_float_repr(1e-05) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(-0.00015) == "-0.00015");
  CHECK(python_float_repr(123.0) == "123.0");
  CHECK(python_float_repr(2.0) == "2.0");
  CHECK(python_float_repr(0.0) == "0.0");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1234567890123456.0) == "1234567890123456.0");
  CHECK(python_float_repr(1.5e-07) == "1.5e-07");
  CHECK(python_float_repr(2.5e+100) == "2.5e+100");
}

TEST_CASE("python_format: the str.format specs checkpoint paths use", "[callbacks][model_checkpoint]") {
  using callbacks::python_format;
  const std::map<std::string, callbacks::FormatValue> values = {
      {"epoch", int64_t{3}}, {"loss", 0.123456}, {"val_loss", 1.5}, {"acc", 0.875}};
  CHECK(python_format("ckpt-{epoch:02d}-{val_loss:.2f}.h5", values) == "ckpt-03-1.50.h5");
  CHECK(python_format("{epoch}_{loss:.4f}", values) == "3_0.1235");
  CHECK(python_format("{loss:e}", values) == "1.234560e-01");
  CHECK(python_format("{loss:.3e}", values) == "1.235e-01");
  CHECK(python_format("{loss}", values) == "0.123456");
  CHECK(python_format("{epoch:03}|{epoch:4d}", values) == "003|   3");
  CHECK(python_format("{acc:.1%}", values) == "87.5%");
  CHECK(python_format("{{epoch}}-{epoch}", values) == "{epoch}-3");
  CHECK_THROWS_WITH(python_format("{val_acc:.2f}", values), Contains("no value named 'val_acc'") && Contains("val_loss"));
  CHECK_THROWS_WITH(python_format("{loss:02d}", values), Contains("Unknown format code 'd' for object of type 'float'"));
  CHECK_THROWS_WITH(python_format("ckpt-{epoch:02d.h5", values), Contains("Single '{'"));
  CHECK_THROWS_WITH(python_format("ckpt-}.h5", values), Contains("Single '}'"));
  CHECK_THROWS_WITH(python_format("{epoch:2q}", values), Contains("Unknown format code 'q'"));
  CHECK_THROWS_WITH(python_format("{}", values), Contains("expected a named field"));
}

TEST_CASE("ModelCheckpoint file paths: 1-based epoch and batch, log values", "[callbacks][model_checkpoint]") {
  const Logs logs = make_logs({{"loss", 0.3333}, {"val_loss", 0.126}});
  CHECK(callbacks::ModelCheckpoint("ckpt-{epoch:02d}-{val_loss:.2f}.keras").file_path(2, -1, logs) ==
        "ckpt-03-0.13.keras");
  CHECK(callbacks::ModelCheckpoint("w-{epoch}-{batch}-{loss:.4f}.weights.h5", {.save_weights_only = true})
            .file_path(0, 9, logs) == "w-1-10-0.3333.weights.h5");
  CHECK(callbacks::ModelCheckpoint("m-{epoch:03d}.h5").file_path(11, -1, logs) == "m-012.h5");
  CHECK_THROWS_WITH(callbacks::ModelCheckpoint("ckpt-{val_acc:.2f}.keras").file_path(0, -1, logs),
                    Contains("Failed to format this callback filepath: \"ckpt-{val_acc:.2f}.keras\"") &&
                        Contains("val_acc"));
  // An epoch-end save has no batch to fill in.
  CHECK_THROWS_WITH(callbacks::ModelCheckpoint("ckpt-{batch}.keras").file_path(0, -1, logs), Contains("'batch'"));
}

TEST_CASE("ModelCheckpoint checks its arguments as Keras 3 does", "[callbacks][model_checkpoint]") {
  CHECK_THROWS_WITH(callbacks::ModelCheckpoint("model.ckpt"), Contains("must end in `.keras`"));
  CHECK_THROWS_WITH(callbacks::ModelCheckpoint("model.keras", {.save_weights_only = true}),
                    Contains("must end in `.weights.h5`"));
  CHECK_THROWS_WITH(callbacks::ModelCheckpoint("m.keras", {.save_freq = "batch"}), Contains("Unrecognized save_freq: batch"));
  CHECK_THROWS_WITH(callbacks::ModelCheckpoint("m.keras", {.save_freq = 0}), Contains("positive number of batches"));
  CHECK_FALSE(callbacks::ModelCheckpoint("m.keras").needs_batch_logs());
  CHECK(callbacks::ModelCheckpoint("m.keras", {.save_freq = 5}).needs_batch_logs());
}

TEST_CASE("ModelCheckpoint save_best_only saves only improvements", "[callbacks][model_checkpoint]") {
  TempDir dir("ckpt_best");
  auto model = small_model();
  callbacks::ModelCheckpoint checkpoint(dir / "best-{epoch:02d}.weights.h5",
                                        {.verbose = 1, .save_best_only = true, .save_weights_only = true});
  checkpoint.set_model(model.get());
  CaptureCout out;
  const std::vector<double> val_loss = {1.0, 1.2, 0.8, 0.8};
  for (int epoch = 0; epoch < 4; ++epoch) {
    checkpoint.on_epoch_begin(epoch, {});
    end_epoch(checkpoint, epoch, make_logs({{"loss", 0.5}, {"val_loss", val_loss[epoch]}}));
  }
  CHECK(files_in(dir.path()) == std::set<std::string>{"best-01.weights.h5", "best-03.weights.h5"});
  CHECK_THAT(out.text(), Contains("\nEpoch 1: val_loss improved from None to 1.00000, saving model to " +
                                  (dir / "best-01.weights.h5") + "\n"));
  CHECK_THAT(out.text(), Contains("\nEpoch 2: val_loss did not improve from 1.00000\n"));
  CHECK_THAT(out.text(), Contains("\nEpoch 4: val_loss did not improve from 0.80000\n"));  // equal is no improvement
  CHECK(checkpoint.best() == 0.8);

  // The saved weights load back into the model.
  model->load_weights(dir / "best-03.weights.h5");
}

TEST_CASE("ModelCheckpoint initial_value_threshold and mode max", "[callbacks][model_checkpoint]") {
  TempDir dir("ckpt_threshold");
  auto model = small_model();
  callbacks::ModelCheckpoint checkpoint(dir / "m-{epoch}.keras",
                                        {.save_best_only = true, .initial_value_threshold = 0.9});
  checkpoint.set_model(model.get());
  const std::vector<double> val_loss = {1.0, 0.95, 0.85};
  for (int epoch = 0; epoch < 3; ++epoch) end_epoch(checkpoint, epoch, make_logs({{"val_loss", val_loss[epoch]}}));
  CHECK(files_in(dir.path()) == std::set<std::string>{"m-3.keras"});
  // The archive is a loadable model.
  CHECK(models::load_model(dir / "m-3.keras")->count_params() == model->count_params());

  TempDir dir_max("ckpt_max");
  callbacks::ModelCheckpoint on_accuracy(dir_max / "a-{epoch}.weights.h5",
                                         {.monitor = "val_accuracy", .save_best_only = true, .save_weights_only = true});
  on_accuracy.set_model(model.get());
  const std::vector<double> accuracy = {0.5, 0.4, 0.6};
  for (int epoch = 0; epoch < 3; ++epoch) end_epoch(on_accuracy, epoch, make_logs({{"val_accuracy", accuracy[epoch]}}));
  CHECK(files_in(dir_max.path()) == std::set<std::string>{"a-1.weights.h5", "a-3.weights.h5"});
}

TEST_CASE("ModelCheckpoint save_freq in batches counts across epochs", "[callbacks][model_checkpoint]") {
  TempDir dir("ckpt_batches");
  auto model = small_model();
  callbacks::ModelCheckpoint checkpoint(dir / "sub/b-{epoch}-{batch}.weights.h5",
                                        {.save_weights_only = true, .save_freq = 2});
  checkpoint.set_model(model.get());
  // Two epochs of three batches: saves after the 2nd, 4th and 6th batch seen, named by epoch and batch (1-based).
  for (int epoch = 0; epoch < 2; ++epoch) {
    checkpoint.on_epoch_begin(epoch, {});
    for (int64_t batch = 0; batch < 3; ++batch) checkpoint.on_train_batch_end(batch, make_logs({{"loss", 0.5}}));
    end_epoch(checkpoint, epoch, make_logs({{"loss", 0.5}, {"val_loss", 0.5}}));  // no epoch-end save
  }
  CHECK(files_in(dir.path() / "sub") ==
        std::set<std::string>{"b-1-2.weights.h5", "b-2-1.weights.h5", "b-2-3.weights.h5"});
}
