// TerminateOnNaN and LambdaCallback: scripted batch logs, and a real fit() whose loss overflows.

#include "callback_test_util.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

using namespace strata;
using namespace strata::testing;
using Catch::Matchers::Contains;

TEST_CASE("TerminateOnNaN stops on a NaN or infinite batch loss", "[callbacks][terminate_on_nan]") {
  auto model = small_model();
  callbacks::TerminateOnNaN terminate;
  CHECK(terminate.needs_batch_logs());
  terminate.set_model(model.get());
  model->stop_training = false;
  terminate.on_train_batch_end(0, make_logs({{"loss", 1e30}}));
  terminate.on_train_batch_end(1, {});  // no loss: nothing to check
  CHECK_FALSE(model->stop_training);
  {
    CaptureCout out;
    terminate.on_train_batch_end(3, make_logs({{"loss", std::nan("")}}));
    CHECK(out.text() == "Batch 3: Invalid loss, terminating training\n");
  }
  CHECK(model->stop_training);
  model->stop_training = false;
  CaptureCout quiet;
  terminate.on_train_batch_end(4, make_logs({{"loss", -std::numeric_limits<double>::infinity()}}));
  CHECK(model->stop_training);

  callbacks::TerminateOnNaN raising({.raise_error = true});
  raising.set_model(model.get());
  CHECK_THROWS_WITH(raising.on_train_batch_end(7, make_logs({{"loss", std::nan("")}})),
                    Contains("NaN or Inf loss encountered at batch 7. Loss value: nan"));
}

TEST_CASE("TerminateOnNaN ends a diverging fit() after the bad batch", "[callbacks][terminate_on_nan]") {
  set_random_seed(11);
  // A huge SGD step makes the loss overflow within a few batches.
  auto model = small_model(1e30);
  const at::Tensor x = at::randn({64, 3}) * 100, y = at::randn({64, 2});
  int64_t batches = 0;
  double last_loss = 0;
  auto counter = callbacks::LambdaCallback({.on_train_batch_end = [&](int64_t, const Logs& logs) {
                                              ++batches;
                                              last_loss = logs.at("loss");
                                            },
                                            .needs_batch_logs = true});
  CaptureCout out;
  auto history = model->fit(x, y, {.batch_size = 1, .epochs = 3, .verbose = 0,
                                   .callbacks = {callbacks::TerminateOnNaN(), counter}, .shuffle = false});
  CHECK(history.history.at("loss").size() == 1);
  CHECK(batches < 64);
  CHECK_FALSE(std::isfinite(last_loss));
  CHECK_THAT(out.text(), Contains("Invalid loss, terminating training"));
}

TEST_CASE("LambdaCallback calls each given hook in fit()'s order", "[callbacks][lambda]") {
  set_random_seed(2);
  auto model = small_model();
  const at::Tensor x = at::randn({10, 3}), y = at::randn({10, 2});
  std::vector<std::string> events;
  bool batch_logs_have_loss = false;
  auto recorder = callbacks::LambdaCallback({
      .on_epoch_begin = [&](int e, const Logs&) { events.push_back("epoch_begin " + std::to_string(e)); },
      .on_epoch_end = [&](int e, const Logs& logs) {
        events.push_back("epoch_end " + std::to_string(e) + (logs.contains("loss") ? " loss" : ""));
      },
      .on_train_begin = [&](const Logs&) { events.push_back("train_begin"); },
      .on_train_end = [&](const Logs&) { events.push_back("train_end"); },
      .on_train_batch_begin = [&](int64_t b, const Logs&) { events.push_back("batch_begin " + std::to_string(b)); },
      .on_train_batch_end = [&](int64_t b, const Logs& logs) {
        events.push_back("batch_end " + std::to_string(b));
        batch_logs_have_loss = batch_logs_have_loss || logs.contains("loss");
      },
  });
  model->fit(x, y, {.batch_size = 5, .epochs = 2, .verbose = 0, .callbacks = {recorder}});
  const std::vector<std::string> expected = {
      "train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1",
      "epoch_end 0 loss", "epoch_begin 1", "batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1",
      "epoch_end 1 loss", "train_end"};
  CHECK(events == expected);
  // Without needs_batch_logs the loop skips the per-batch sync and passes empty batch logs.
  CHECK_FALSE(batch_logs_have_loss);
  // Hooks left out do nothing.
  callbacks::LambdaCallback empty;
  end_epoch(empty, 0, {});
  CHECK_FALSE(empty.needs_batch_logs());
}
