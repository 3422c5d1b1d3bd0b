// ReduceLROnPlateau against scripted val_loss sequences; the expected learning rates are worked out by hand from
// Keras 3's rule (cooldown counts down first and holds wait at 0; a reduction needs wait >= patience outside
// cooldown; new_lr = max(lr * factor, min_lr); nothing happens once lr has reached min_lr).

#include "callback_test_util.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace strata;
using namespace strata::testing;
using Catch::Matchers::Contains;

namespace {

// The learning rate after each epoch's on_epoch_end.
std::vector<double> rates_after(callbacks::ReduceLROnPlateau& callback, Model& model, const std::vector<double>& values) {
  callback.set_model(&model);
  callback.on_train_begin({});
  std::vector<double> rates;
  for (size_t epoch = 0; epoch < values.size(); ++epoch) {
    end_epoch(callback, static_cast<int>(epoch), make_logs({{"loss", 1.0}, {"val_loss", values[epoch]}}));
    rates.push_back(model.optimizer().learning_rate());
  }
  return rates;
}

void check_rates(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("epoch " << i);
    CHECK(got[i] == Approx(expected[i]).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("ReduceLROnPlateau patience, cooldown and min_lr", "[callbacks][reduce_lr]") {
  auto model = small_model(0.1);
  callbacks::ReduceLROnPlateau reducer({.factor = 0.5, .patience = 2, .min_delta = 0, .cooldown = 1, .min_lr = 0.02});
  // e0 best; e1 wait 1; e2 wait 2 -> 0.05 (cooldown 1); e3 cooldown ends, wait 1; e4 -> 0.025; e5 wait 1;
  // e6 -> max(0.0125, 0.02) = 0.02; e7 wait 1; e8 at min_lr: unchanged.
  check_rates(rates_after(reducer, *model, std::vector<double>(9, 1.0)),
              {0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02});
}

TEST_CASE("ReduceLROnPlateau: improvements reset the count, min_delta decides what improves", "[callbacks][reduce_lr]") {
  auto model = small_model(0.1);
  callbacks::ReduceLROnPlateau reducer({.patience = 2});
  // 0.9 improves (wait 0); 0.89995 is within min_delta 1e-4 (wait 1); 0.8 improves (wait 0); two flat -> 0.01.
  check_rates(rates_after(reducer, *model, {1.0, 0.9, 0.89995, 0.8, 0.8, 0.8}), {0.1, 0.1, 0.1, 0.1, 0.1, 0.01});
  CHECK(reducer.wait() == 0);

  // Cooldown 2 holds the count at 0 for two epochs after a reduction.
  auto other = small_model(1.0);
  callbacks::ReduceLROnPlateau cooling({.factor = 0.5, .patience = 1, .min_delta = 0, .cooldown = 2});
  // e0 best; e1 -> 0.5 (cooldown 2); e2 cooldown 1; e3 cooldown 0, wait 1 -> 0.25.
  check_rates(rates_after(cooling, *other, {1.0, 1.0, 1.0, 1.0}), {1.0, 0.5, 0.5, 0.25});
}

TEST_CASE("ReduceLROnPlateau mode auto maximizes accuracy; verbose message; bad factor", "[callbacks][reduce_lr]") {
  auto model = small_model(0.5);
  callbacks::ReduceLROnPlateau reducer({.monitor = "val_accuracy", .factor = 0.5, .patience = 1, .verbose = 1});
  reducer.set_model(model.get());
  reducer.on_train_begin({});
  end_epoch(reducer, 0, make_logs({{"val_accuracy", 0.5}}));
  end_epoch(reducer, 1, make_logs({{"val_accuracy", 0.7}}));  // higher is better: no reduction
  CHECK(model->optimizer().learning_rate() == 0.5);
  CaptureCout out;
  end_epoch(reducer, 2, make_logs({{"val_accuracy", 0.6}}));
  CHECK(model->optimizer().learning_rate() == 0.25);
  CHECK(out.text() == "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.25.\n");

  // Keras 3 adds the rate in use, read from its float32 variable, before it decides.
  CHECK(end_epoch(reducer, 3, make_logs({{"val_accuracy", 0.6}})).at("learning_rate") == static_cast<double>(0.25f));

  CHECK_THROWS_WITH(callbacks::ReduceLROnPlateau({.factor = 1.0}),
                    Contains("does not support a factor >= 1.0. Received factor=1.0"));
}

TEST_CASE("ReduceLROnPlateau's learning_rate reaches History, the progress bar and CSVLogger in fit()",
          "[callbacks][reduce_lr]") {
  set_random_seed(3);
  auto model = small_model(0.1f);
  const at::Tensor x = at::randn({8, 3}), y = at::randn({8, 2});
  // factor 0.5 and patience 1 on a loss that cannot improve by min_delta=10: halved after every epoch.
  auto reducer = callbacks::ReduceLROnPlateau({.monitor = "loss", .factor = 0.5, .patience = 1, .min_delta = 10});
  TempDir dir("reduce_lr_csv");
  auto csv = std::make_shared<callbacks::CSVLogger>(dir / "log.csv");
  CaptureCout out;
  const auto history = model->fit(x, y, {.batch_size = 4, .epochs = 3, .verbose = 2, .callbacks = {reducer, csv}});
  const std::vector<double> expected = {0.1f, 0.1f, 0.05f};  // the rate each epoch trained with
  CHECK(history.history.at("learning_rate") == expected);
  CHECK_THAT(out.text(), Contains("learning_rate: 0.0500"));
  CHECK_THAT(read_file(dir / "log.csv"), Contains("epoch,learning_rate,loss"));
}

