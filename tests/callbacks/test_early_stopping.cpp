// EarlyStopping against scripted val_loss sequences whose stopping epochs are worked out by hand from Keras 3's
// rule: wait += 1 each monitored epoch, reset on an improvement `current - min_delta < best` (min mode) that
// also beats the baseline, stop when wait >= patience after epoch 0.

#include "callback_test_util.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <vector>

using namespace strata;
using namespace strata::testing;
using Catch::Matchers::Contains;

namespace {

// Runs the callback over the values (one per epoch, key `key`) until it stops training; returns the epochs run.
int run_epochs(callbacks::EarlyStopping& callback, Model& model, const std::vector<double>& values,
               const std::string& key = "val_loss") {
  callback.set_model(&model);
  model.stop_training = false;
  callback.on_train_begin({});
  int epochs = 0;
  for (size_t epoch = 0; epoch < values.size() && !model.stop_training; ++epoch) {
    Logs logs;
    logs.set("loss", 1.0);
    logs.set(key, values[epoch]);
    callback.on_epoch_end(static_cast<int>(epoch), logs);
    ++epochs;
  }
  callback.on_train_end({});
  return epochs;
}

}  // namespace

TEST_CASE("EarlyStopping counts patience from the last improvement", "[callbacks][early_stopping]") {
  auto model = small_model();
  callbacks::EarlyStopping stopper({.patience = 2});
  // best 1.0, best 0.9, wait 1 (0.95), wait 2 (0.92) -> stop at epoch 3.
  CHECK(run_epochs(stopper, *model, {1.0, 0.9, 0.95, 0.92, 0.5, 0.4}) == 4);
  CHECK(stopper.stopped_epoch() == 3);
  CHECK(stopper.best() == Approx(0.9));
  CHECK(stopper.best_epoch() == 1);

  // patience 0 still never stops at epoch 0; at epoch 1 a worse value stops at once.
  callbacks::EarlyStopping impatient;
  CHECK(run_epochs(impatient, *model, {0.5, 0.9, 1.0}) == 2);
  CHECK(impatient.stopped_epoch() == 1);

  // The same instance is reset by on_train_begin for a second fit().
  CHECK(run_epochs(stopper, *model, {1.0, 0.9, 0.8, 0.7}) == 4);
  CHECK(stopper.stopped_epoch() == 0);
}

TEST_CASE("EarlyStopping min_delta: smaller changes are no improvement", "[callbacks][early_stopping]") {
  auto model = small_model();
  callbacks::EarlyStopping stopper({.min_delta = 0.1, .patience = 2});
  // 0.95 is within 0.1 of 1.0 (wait 1); 0.85 improves by 0.15 (reset); 0.88, 0.80 are not 0.1 below 0.85.
  CHECK(run_epochs(stopper, *model, {1.0, 0.95, 0.85, 0.88, 0.80, 0.1}) == 5);
  CHECK(stopper.stopped_epoch() == 4);
  CHECK(stopper.best() == Approx(0.85));
  // A negative min_delta means the same as its absolute value, as in Keras.
  callbacks::EarlyStopping negative({.min_delta = -0.1, .patience = 2});
  CHECK(run_epochs(negative, *model, {1.0, 0.95, 0.85, 0.88, 0.80, 0.1}) == 5);
}

TEST_CASE("EarlyStopping mode auto/min/max", "[callbacks][early_stopping]") {
  auto model = small_model();
  // auto on an accuracy maximizes: 0.55 after 0.6 is no improvement.
  callbacks::EarlyStopping on_accuracy({.monitor = "val_accuracy", .patience = 1});
  CHECK(run_epochs(on_accuracy, *model, {0.5, 0.6, 0.55, 0.9}, "val_accuracy") == 3);
  CHECK(on_accuracy.best() == Approx(0.6));
  // auto on a compiled metric without an increasing direction (mae) minimizes.
  callbacks::EarlyStopping on_mae({.monitor = "val_mae", .patience = 1});
  CHECK(run_epochs(on_mae, *model, {0.5, 0.6, 0.4}, "val_mae") == 2);
  // explicit max on a loss-like name, explicit min on an accuracy-like one.
  callbacks::EarlyStopping forced_max({.monitor = "val_loss", .patience = 1, .mode = "max"});
  CHECK(run_epochs(forced_max, *model, {0.5, 0.6, 0.55}) == 3);
  callbacks::EarlyStopping forced_min({.monitor = "val_accuracy", .patience = 1, .mode = "min"});
  CHECK(run_epochs(forced_min, *model, {0.5, 0.6, 0.55}, "val_accuracy") == 2);

  callbacks::EarlyStopping unknown({.monitor = "val_mystery"});
  CHECK_THROWS_WITH(run_epochs(unknown, *model, {0.5}, "val_mystery"),
                    Contains("isn't able to automatically determine") && Contains("val_mystery"));
  CHECK_THROWS_WITH(callbacks::EarlyStopping({.mode = "minimum"}), Contains("\"minimum\""));
}

TEST_CASE("EarlyStopping baseline: the counter restarts only for values beating it", "[callbacks][early_stopping]") {
  auto model = small_model();
  // Without a baseline: 0.8 best, 0.9 wait 1 -> no stop with patience 2.
  callbacks::EarlyStopping plain({.patience = 2});
  CHECK(run_epochs(plain, *model, {0.8, 0.9, 0.85}) == 3);
  // With baseline 0.5: 0.8 is the best but not under 0.5, so wait stays 1; 0.9 makes it 2 -> stop at epoch 1.
  callbacks::EarlyStopping with_baseline({.patience = 2, .baseline = 0.5});
  CHECK(run_epochs(with_baseline, *model, {0.8, 0.9, 0.85}) == 2);
  CHECK(with_baseline.stopped_epoch() == 1);
  // Beating the baseline resets the counter.
  callbacks::EarlyStopping beaten({.patience = 2, .baseline = 0.5});
  CHECK(run_epochs(beaten, *model, {0.8, 0.4, 0.45, 0.3}) == 4);
  CHECK(beaten.wait() == 0);
}

TEST_CASE("EarlyStopping start_from_epoch ignores the warm-up epochs", "[callbacks][early_stopping]") {
  auto model = small_model();
  callbacks::EarlyStopping stopper({.start_from_epoch = 2});
  // Epochs 0 and 1 are not monitored; 1.0 at epoch 2 is the first best; 1.1 at epoch 3 stops (patience 0).
  CHECK(run_epochs(stopper, *model, {0.5, 0.9, 1.0, 1.1, 0.1}) == 4);
  CHECK(stopper.stopped_epoch() == 3);
  CHECK(stopper.best() == Approx(1.0));
}

TEST_CASE("EarlyStopping restore_best_weights restores the best epoch's weights", "[callbacks][early_stopping]") {
  auto model = small_model();
  callbacks::EarlyStopping stopper({.patience = 2, .verbose = 1, .restore_best_weights = true});
  stopper.set_model(model.get());
  model->stop_training = false;
  stopper.on_train_begin({});
  const std::vector<double> val_loss = {1.0, 0.5, 0.7, 0.8, 0.1};
  int epoch = 0;
  for (; epoch < 5 && !model->stop_training; ++epoch) {
    // Each epoch leaves weights filled with its own index, so the restored copy names its epoch.
    std::vector<at::Tensor> weights = model->get_weights();
    for (auto& w : weights) w.fill_(static_cast<double>(epoch));
    model->set_weights(weights);
    end_epoch(stopper, epoch, make_logs({{"val_loss", val_loss[epoch]}}));
  }
  CHECK(epoch == 4);  // stopped after epoch 3 (0.7, 0.8 without improvement)
  CaptureCout out;
  stopper.on_train_end({});
  CHECK(out.text() == "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n");
  for (const auto& w : model->get_weights()) CHECK(at::all(w == 1.0).item<bool>());
}

TEST_CASE("EarlyStopping stops a real fit()", "[callbacks][early_stopping]") {
  set_random_seed(3);
  auto model = small_model(0.01);
  const at::Tensor x = at::randn({32, 3}), y = at::randn({32, 2});
  // min_delta 100 makes every epoch after the first a non-improvement; patience 1 stops after epoch 1.
  auto stopper = std::make_shared<callbacks::EarlyStopping>(
      callbacks::EarlyStoppingOptions{.monitor = "loss", .min_delta = 100, .patience = 1});
  auto history = model->fit(x, y, {.batch_size = 8, .epochs = 10, .verbose = 0, .callbacks = {stopper}});
  CHECK(history.history.at("loss").size() == 2);
  CHECK(stopper->stopped_epoch() == 1);
}
