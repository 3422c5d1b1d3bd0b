// The shared optimizer options inside Model::fit: names reach exclude_from_weight_decay, the loss is scaled
// by loss_scale_factor before backward, and the EMA weights replace the trained ones when fit() ends, as
// Keras.

#include <ATen/ATen.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <cmath>

using namespace strata;

namespace {

const std::vector<at::Tensor> kInitialWeights = {at::tensor({0.5f, -1.5f}).reshape({2, 1}),
                                                 at::tensor({0.25f})};

std::shared_ptr<Sequential> dense_model(const optimizers::Spec& optimizer) {
  auto model = std::make_shared<Sequential>(std::vector<LayerRef>{layers::Input({2}), layers::Dense(1)});
  model->set_weights(kInitialWeights);
  model->compile({.optimizer = optimizer, .loss = "mse"});
  return model;
}

}  // namespace

TEST_CASE("fit: exclude_from_weight_decay matches the model's variable names", "[optimizers][options][fit]") {
  // With x = 0 the kernel's gradient is exactly 0, so the kernel only decays and the bias only follows its
  // gradient, which depends on the bias alone.
  const at::Tensor x = at::zeros({8, 2});
  const at::Tensor y = at::ones({8, 1});
  const double lr = 0.1, wd = 0.5;
  const int steps = 3;
  auto decayed =
      std::make_shared<optimizers::SGD>(optimizers::SGDOptions{.learning_rate = lr, .weight_decay = wd});
  decayed->exclude_from_weight_decay({}, {"bias"});
  auto with_decay = dense_model(decayed);
  auto without_decay = dense_model(optimizers::SGD({.learning_rate = lr}));
  with_decay->fit(x, y, {.batch_size = 8, .epochs = steps, .verbose = 0});
  without_decay->fit(x, y, {.batch_size = 8, .epochs = steps, .verbose = 0});
  const auto decayed_weights = with_decay->get_weights();
  const double factor = std::pow(1.0 - lr * wd, steps);
  CHECK(decayed_weights[0][0][0].item<float>() == Approx(0.5 * factor).epsilon(1e-6));
  CHECK(decayed_weights[0][1][0].item<float>() == Approx(-1.5 * factor).epsilon(1e-6));
  CHECK(at::equal(decayed_weights[1], without_decay->get_weights()[1]));  // the bias never decayed
  CHECK_FALSE(at::equal(decayed_weights[1], kInitialWeights[1]));
}

TEST_CASE("fit: loss_scale_factor scales the loss and unscales the gradients", "[optimizers][options][fit]") {
  at::manual_seed(5);
  const at::Tensor x = at::randn({32, 2});
  const at::Tensor y = at::randn({32, 1});
  auto scaled = dense_model(optimizers::SGD({.learning_rate = 0.05, .loss_scale_factor = 1024.0}));
  auto plain = dense_model(optimizers::SGD({.learning_rate = 0.05}));
  const auto scaled_history =
      scaled->fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
  const auto plain_history = plain->fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
  // Scaling by a power of two is exact, so both runs take the same steps; the logged loss is the unscaled
  // one.
  CHECK(at::allclose(scaled->get_weights()[0], plain->get_weights()[0], 1e-6, 1e-7));
  CHECK(at::allclose(scaled->get_weights()[1], plain->get_weights()[1], 1e-6, 1e-7));
  CHECK(scaled_history.history.at("loss").back() ==
        Approx(plain_history.history.at("loss").back()).epsilon(1e-6));
}

TEST_CASE("fit: with use_ema the averaged weights replace the trained ones at the end",
          "[optimizers][options][fit]") {
  at::manual_seed(6);
  const at::Tensor x = at::randn({32, 2});
  const at::Tensor y = at::randn({32, 1});
  auto ema =
      std::make_shared<optimizers::SGD>(optimizers::SGDOptions{.learning_rate = 0.05, .use_ema = true});
  auto averaged = dense_model(ema);
  auto plain = dense_model(optimizers::SGD({.learning_rate = 0.05}));
  averaged->fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
  plain->fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
  const auto state = ema->get_state();  // iterations, learning rate, kernel average, bias average
  REQUIRE(state.size() == 4);
  CHECK(state[0].item<int64_t>() == 8);
  CHECK(at::equal(averaged->get_weights()[0], state[2]));
  CHECK(at::equal(averaged->get_weights()[1], state[3]));
  CHECK_FALSE(at::allclose(averaged->get_weights()[0], plain->get_weights()[0]));
}
