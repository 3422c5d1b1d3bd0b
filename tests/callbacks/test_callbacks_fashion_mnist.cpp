// EarlyStopping + ModelCheckpoint + CSVLogger together in one real fit() on a small Fashion-MNIST subset.

#include "callback_test_util.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace strata;
using namespace strata::testing;

TEST_CASE("EarlyStopping, ModelCheckpoint and CSVLogger in one Fashion-MNIST fit()", "[callbacks][fashion_mnist]") {
  if (!std::filesystem::exists(STRATA_FASHION_MNIST_DIR)) {
    WARN("Fashion-MNIST is not installed; skipping");
    return;
  }
  set_random_seed(7);
  auto data = datasets::fashion_mnist::load(STRATA_FASHION_MNIST_DIR);
  const at::Tensor x = data.x_train.narrow(0, 0, 2000), y = data.y_train.narrow(0, 0, 2000);
  const at::Tensor x_val = data.x_test.narrow(0, 0, 500), y_val = data.y_test.narrow(0, 0, 500);
  Sequential model({layers::Input({28, 28}), layers::Flatten(), layers::Dense(32, {.activation = "relu"}),
                    layers::Dense(10)});
  model.compile({.optimizer = "adam",
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .metrics = {"accuracy"}});

  TempDir dir("fashion");
  // min_delta 10 counts only the first epoch as an improvement, so patience 1 stops after epoch 1 and
  // restore_best_weights brings back epoch 0's weights.
  auto stopper = std::make_shared<callbacks::EarlyStopping>(
      callbacks::EarlyStoppingOptions{.min_delta = 10, .patience = 1, .restore_best_weights = true});
  auto checkpoint = std::make_shared<callbacks::ModelCheckpoint>(
      dir / "best.keras", callbacks::ModelCheckpointOptions{.save_best_only = true});
  auto epochs = std::make_shared<callbacks::ModelCheckpoint>(dir / "e{epoch:02d}-{val_loss:.3f}.weights.h5",
                                                             callbacks::ModelCheckpointOptions{.save_weights_only = true});
  auto csv = std::make_shared<callbacks::CSVLogger>(dir / "log.csv");
  auto history = model.fit(x, y, {.batch_size = 100, .epochs = 6, .verbose = 0,
                                  .callbacks = {stopper, checkpoint, epochs, csv},
                                  .validation_data = {x_val, y_val}});

  const auto& val_loss = history.history.at("val_loss");
  REQUIRE(val_loss.size() == 2);
  CHECK(stopper->stopped_epoch() == 1);

  // The CSV holds exactly the History values, Keras' header and one row per epoch.
  std::ifstream in(dir / "log.csv", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string expected = "epoch,accuracy,loss,val_accuracy,val_loss\r\n";
  for (size_t e = 0; e < 2; ++e) {
    expected += std::to_string(e);
    for (const char* key : {"accuracy", "loss", "val_accuracy", "val_loss"})
      expected += "," + callbacks::python_float_repr(history.history.at(key)[e]);
    expected += "\r\n";
  }
  CHECK(text == expected);

  // One weights file per epoch, named from the epoch's val_loss.
  for (int e = 0; e < 2; ++e) {
    char name[64];
    std::snprintf(name, sizeof(name), "e%02d-%.3f.weights.h5", e + 1, val_loss[e]);
    CHECK(std::filesystem::exists(dir / name));
  }

  // The restored model is epoch 0's; the checkpoint is the epoch with the lowest val_loss.
  const auto evaluate_val = [&](Model& m) {
    return m.evaluate(x_val, y_val, {.batch_size = 100, .verbose = 0}).at("loss");
  };
  CHECK(evaluate_val(model) == Approx(val_loss[0]).epsilon(1e-5));
  auto best = models::load_model(dir / "best.keras");
  CHECK(evaluate_val(*best) == Approx(std::min(val_loss[0], val_loss[1])).epsilon(1e-5));
  CHECK(checkpoint->best() == Approx(std::min(val_loss[0], val_loss[1])));
}
