// LearningRateScheduler: the schedule sees the 0-based epoch and the current rate, and fit() trains with what it
// returns.

#include "callback_test_util.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

using namespace strata;
using namespace strata::testing;
using Catch::Matchers::Contains;

TEST_CASE("LearningRateScheduler sets schedule(epoch, lr) at each epoch begin", "[callbacks][lr_scheduler]") {
  auto model = small_model(0.1);
  std::vector<std::pair<int, double>> calls;
  callbacks::LearningRateScheduler scheduler([&](int epoch, double lr) {
    calls.emplace_back(epoch, lr);
    return epoch < 2 ? lr : lr * 0.5;
  });
  scheduler.set_model(model.get());
  std::vector<double> rates;
  for (int epoch = 0; epoch < 4; ++epoch) {
    scheduler.on_epoch_begin(epoch, {});
    rates.push_back(model->optimizer().learning_rate());
  }
  CHECK(rates == std::vector<double>{0.1, 0.1, 0.05, 0.025});
  REQUIRE(calls.size() == 4);
  CHECK(calls[2] == std::pair<int, double>{2, 0.1});
  CHECK(calls[3] == std::pair<int, double>{3, 0.05});
  // Keras 3 adds the rate (its float32 variable) to the epoch logs.
  CHECK(end_epoch(scheduler, 3, make_logs({{"loss", 1.0}})).at("learning_rate") == static_cast<double>(0.025f));
}

TEST_CASE("LearningRateScheduler verbose message and bad schedules", "[callbacks][lr_scheduler]") {
  auto model = small_model(0.1);
  callbacks::LearningRateScheduler scheduler([](int epoch, double) { return 1e-5 * (epoch + 1); }, {.verbose = 1});
  scheduler.set_model(model.get());
  {
    CaptureCout out;
    scheduler.on_epoch_begin(0, {});
    CHECK(out.text() == "\nEpoch 1: LearningRateScheduler setting learning rate to 1e-05.\n");
  }
  callbacks::LearningRateScheduler broken([](int, double) { return std::nan(""); });
  broken.set_model(model.get());
  CHECK_THROWS_WITH(broken.on_epoch_begin(4, {}), Contains("returned nan for epoch 4"));
  CHECK_THROWS_WITH(callbacks::LearningRateScheduler(nullptr), Contains("expected a schedule function"));
}

TEST_CASE("LearningRateScheduler drives fit(): a zero rate from epoch 1 freezes the weights", "[callbacks][lr_scheduler]") {
  set_random_seed(5);
  auto model = small_model(0.1);
  const at::Tensor x = at::randn({16, 3}), y = at::randn({16, 2});
  std::vector<at::Tensor> after_epoch;
  auto record = callbacks::LambdaCallback({.on_epoch_end = [&](int, const Logs&) {
    after_epoch.push_back(model->get_weights()[0].clone());
  }});
  auto scheduler = callbacks::LearningRateScheduler([](int epoch, double lr) { return epoch == 0 ? 0.1 : 0.0; });
  const at::Tensor before = model->get_weights()[0].clone();
  model->fit(x, y, {.batch_size = 4, .epochs = 3, .verbose = 0, .callbacks = {scheduler, record}});
  REQUIRE(after_epoch.size() == 3);
  CHECK_FALSE(at::equal(before, after_epoch[0]));  // epoch 0 trained at 0.1
  CHECK(at::equal(after_epoch[0], after_epoch[1]));
  CHECK(at::equal(after_epoch[1], after_epoch[2]));
}
