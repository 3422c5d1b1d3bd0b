// GradientTape: gradients against formulas written out here and against central finite differences, the
// sources' .grad() left alone, undefined gradients for unrelated sources, the errors, the persistent tape,
// and a custom training loop that ends with exactly the weights model.fit() reaches on the same batches.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/error.h>
#include <strata/core/gradient_tape.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/mean.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>

#include "../support/tensor_checks.h"

using namespace strata;
using Catch::Matchers::Contains;

namespace {

at::Tensor random_normal(at::IntArrayRef shape, uint64_t seed, at::ScalarType dtype = at::kDouble) {
  at::Generator generator = generator_for(seed);
  return at::randn(shape, generator, at::TensorOptions().dtype(dtype));
}

at::Tensor leaf(at::IntArrayRef shape, uint64_t seed) {
  return random_normal(shape, seed).requires_grad_(true);
}

// A float64 model 3 -> Dense(4, tanh) -> Dense(2), so finite differences are accurate.
Sequential small_double_model() {
  set_random_seed(7);
  Sequential model({layers::Input({3}), layers::Dense(4, {.activation = "tanh"}), layers::Dense(2)});
  test_support::to_double(model);
  return model;
}

// The classifier both training paths train: a weight regularizer makes model.losses() part of the loss.
Sequential classifier() {
  Sequential model({
      layers::Input({4}),
      layers::Dense(8, {.activation = "relu", .kernel_regularizer = "l2"}),
      layers::Dense(3),
  });
  return model;
}

struct LoopResult {
  double loss;
  double accuracy;
};

// Keras' "training loop from scratch", batch by batch in order (fit with shuffle=false sees the same
// batches).
LoopResult custom_loop(Model& model, optimizers::Optimizer& optimizer, const at::Tensor& x,
                       const at::Tensor& y, int64_t batch_size, int epochs) {
  const losses::SparseCategoricalCrossentropy loss_fn({.from_logits = true});
  metrics::SparseCategoricalAccuracy accuracy("accuracy");
  metrics::Mean loss_tracker("loss");
  const std::vector<at::Tensor> weights = model.trainable_weights();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    accuracy.reset_state();
    loss_tracker.reset_state();
    for (int64_t begin = 0; begin < x.size(0); begin += batch_size) {
      const int64_t size = std::min(batch_size, x.size(0) - begin);
      const at::Tensor x_batch = x.narrow(0, begin, size), y_batch = y.narrow(0, begin, size);
      GradientTape tape;
      const at::Tensor logits = model(x_batch, /*training=*/true);
      at::Tensor loss = loss_fn(y_batch, logits);
      for (const auto& penalty : model.losses()) loss = loss + penalty;
      optimizer.apply(tape.gradient(loss, weights), weights);
      accuracy.update_state(y_batch, logits.detach());
      loss_tracker.update_state(loss.detach(), at::full({}, static_cast<double>(size), at::kFloat));
    }
  }
  return {loss_tracker.result().item<double>(), accuracy.result().item<double>()};
}

void check_loop_matches_fit(const optimizers::Spec& fit_optimizer, optimizers::Optimizer& loop_optimizer) {
  const at::Tensor x = random_normal({40, 4}, 11, at::kFloat);
  at::Generator generator = generator_for(12);
  const at::Tensor y = at::randint(0, 3, {40}, generator, at::TensorOptions().dtype(at::kLong));
  set_random_seed(3);
  Sequential fitted = classifier();
  Sequential looped = classifier();
  const std::vector<at::Tensor> initial = fitted.get_weights();
  looped.set_weights(initial);

  fitted.compile({.optimizer = fit_optimizer,
                  .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                  .metrics = {"accuracy"}});
  // 40 samples in batches of 16: two full batches and a short one per epoch.
  const auto history = fitted.fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .shuffle = false});
  const LoopResult result = custom_loop(looped, loop_optimizer, x, y, 16, 3);

  const auto fitted_weights = fitted.get_weights(), looped_weights = looped.get_weights();
  REQUIRE(fitted_weights.size() == looped_weights.size());
  for (size_t i = 0; i < fitted_weights.size(); ++i) {
    INFO("weight " << i << ": max difference "
                   << test_support::max_abs_difference(looped_weights[i], fitted_weights[i]));
    CHECK(at::equal(looped_weights[i], fitted_weights[i]));
  }
  // The weights moved, so the comparison above compared trained weights.
  CHECK_FALSE(at::equal(looped_weights[0], initial[0]));
  CHECK(result.loss == Approx(history.history.at("loss").back()).epsilon(1e-6));
  CHECK(result.accuracy == Approx(history.history.at("accuracy").back()).epsilon(1e-6));
}

}  // namespace

TEST_CASE("GradientTape gives the hand-derived gradients of a linear least-squares loss", "[gradient_tape]") {
  const at::Tensor x = random_normal({4, 3}, 1), y = random_normal({4, 2}, 2);
  const at::Tensor w = leaf({3, 2}, 3), b = leaf({2}, 4);
  GradientTape tape;
  const at::Tensor loss = (x.matmul(w) + b - y).pow(2).mean();
  const auto grads = tape.gradient(loss, {w, b});
  REQUIRE(grads.size() == 2);

  at::NoGradGuard no_grad;
  // loss = sum(r^2) / 8 with r = x w + b - y, so dloss/dw = 2/8 x^T r and dloss/db = 2/8 sum over rows of r.
  const at::Tensor r = x.matmul(w) + b - y;
  const at::Tensor expected_w = x.t().matmul(r) * (2.0 / 8.0);
  const at::Tensor expected_b = r.sum(0) * (2.0 / 8.0);
  CHECK(test_support::max_abs_difference(grads[0], expected_w) < 1e-12);
  CHECK(test_support::max_abs_difference(grads[1], expected_b) < 1e-12);
  CHECK_FALSE(grads[0].requires_grad());
}

TEST_CASE("GradientTape gradients of a Dense model match central finite differences", "[gradient_tape]") {
  Sequential model = small_double_model();
  const at::Tensor x = random_normal({5, 3}, 21);
  const at::Tensor y = at::tensor(std::vector<int64_t>{0, 1, 1, 0, 1});
  const losses::SparseCategoricalCrossentropy loss_fn({.from_logits = true});
  const std::vector<at::Tensor> weights = model.trainable_weights();
  REQUIRE(weights.size() == 4);

  std::vector<at::Tensor> grads;
  {
    GradientTape tape;
    grads = tape.gradient(loss_fn(y, model(x, true)), weights);
  }
  at::NoGradGuard no_grad;
  const double h = 1e-6;
  for (size_t i = 0; i < weights.size(); ++i) {
    at::Tensor flat = weights[i].detach().view({-1});
    const std::vector<double> analytic = test_support::values_of(grads[i]);
    for (int64_t j = 0; j < flat.numel(); ++j) {
      const double original = flat[j].item<double>();
      flat[j] = original + h;
      const double plus = loss_fn(y, model(x, true)).item<double>();
      flat[j] = original - h;
      const double minus = loss_fn(y, model(x, true)).item<double>();
      flat[j] = original;
      const double numeric = (plus - minus) / (2 * h);
      INFO("weight " << i << " element " << j << ": numeric " << numeric << ", tape " << analytic[j]);
      CHECK(std::abs(analytic[j] - numeric) < 1e-7);
    }
  }
}

TEST_CASE("GradientTape leaves every tensor's .grad() as it was", "[gradient_tape]") {
  const at::Tensor w = leaf({3}, 31), v = leaf({3}, 32), u = leaf({3}, 33);
  w.mutable_grad() = at::full({3}, 5.0, at::kDouble);
  const at::Tensor w_grad = w.grad();
  GradientTape tape;
  const at::Tensor loss = (w * v).sum() + u.sum();
  // w listed twice: the gradient is d loss / d w once, not accumulated twice.
  const auto grads = tape.gradient(loss, {w, v, w});

  at::NoGradGuard no_grad;
  CHECK(test_support::max_abs_difference(grads[0], v) == 0.0);
  CHECK(test_support::max_abs_difference(grads[1], w) == 0.0);
  CHECK(test_support::max_abs_difference(grads[2], v) == 0.0);
  // Same tensor, same values: nothing was accumulated into the existing gradient.
  CHECK(w.grad().unsafeGetTensorImpl() == w_grad.unsafeGetTensorImpl());
  CHECK(test_support::max_abs_difference(w.grad(), at::full({3}, 5.0, at::kDouble)) == 0.0);
  CHECK_FALSE(v.grad().defined());
  // u is in the graph but not a source: backward() must not have reached it either.
  CHECK_FALSE(u.grad().defined());
}

TEST_CASE("GradientTape returns an undefined gradient for a source the target does not depend on",
          "[gradient_tape]") {
  const at::Tensor w = leaf({2}, 41), unrelated = leaf({2, 2}, 42);
  GradientTape tape;
  const at::Tensor loss = (w * w).sum();
  const auto grads = tape.gradient(loss, {unrelated, w});
  REQUIRE(grads.size() == 2);
  CHECK_FALSE(grads[0].defined());
  REQUIRE(grads[1].defined());
  at::NoGradGuard no_grad;
  CHECK(test_support::max_abs_difference(grads[1], w * 2) == 0.0);
}

TEST_CASE("GradientTape records inside a NoGradGuard and restores the mode when it ends", "[gradient_tape]") {
  const at::Tensor w = leaf({3}, 51);
  at::NoGradGuard no_grad;
  {
    GradientTape tape;
    CHECK(c10::GradMode::is_enabled());
    const auto grads = tape.gradient((w * 3).sum(), {w});
    CHECK(test_support::max_abs_difference(grads[0], at::full({3}, 3.0, at::kDouble)) == 0.0);
  }
  CHECK_FALSE(c10::GradMode::is_enabled());
  CHECK_FALSE((w * 3).requires_grad());
}

TEST_CASE("GradientTape reports bad targets, bad sources and a second call", "[gradient_tape]") {
  const at::Tensor w = leaf({3}, 61);
  SECTION("non-scalar target") {
    GradientTape tape;
    CHECK_THROWS_WITH(tape.gradient(w * 2, {w}),
                      Contains("GradientTape") && Contains("scalar target") && Contains("[3]"));
  }
  SECTION("target computed without recording") {
    at::Tensor loss;
    {
      at::NoGradGuard no_grad;
      loss = (w * 2).sum();
    }
    GradientTape tape;
    CHECK_THROWS_AS(tape.gradient(loss, {w}), ValueError);
    CHECK_THROWS_WITH(tape.gradient(loss, {w}),
                      Contains("GradientTape") && Contains("does not require grad"));
  }
  SECTION("sources that are not trainable leaves") {
    GradientTape tape;
    const at::Tensor hidden = w * 2;
    const at::Tensor loss = hidden.sum();
    CHECK_THROWS_AS(tape.gradient(loss, {w, hidden}), ValueError);
    CHECK_THROWS_WITH(tape.gradient(loss, {w, hidden}), Contains("source 1") && Contains("leaf"));
    CHECK_THROWS_WITH(tape.gradient(loss, {random_normal({3}, 62)}),
                      Contains("source 0") && Contains("does not require grad"));
    CHECK_THROWS_WITH(tape.gradient(loss, {at::Tensor()}), Contains("source 0") && Contains("undefined"));
    // The failed calls did not use up the tape.
    CHECK(tape.gradient(loss, {w}).size() == 1);
  }
  SECTION("a non-persistent tape computes gradients once") {
    GradientTape tape;
    const at::Tensor loss = (w * w).sum();
    tape.gradient(loss, {w});
    CHECK_THROWS_AS(tape.gradient(loss, {w}), StateError);
    CHECK_THROWS_WITH(tape.gradient(loss, {w}), Contains("GradientTape") && Contains("persistent = true"));
  }
  SECTION("a graph freed by another tape") {
    at::Tensor loss;
    {
      GradientTape first;
      loss = (w * w).sum();
      first.gradient(loss, {w});
    }
    GradientTape second;
    CHECK_THROWS_AS(second.gradient(loss, {w}), StateError);
    CHECK_FALSE(w.grad().defined());
  }
  SECTION("inside InferenceMode") {
    c10::InferenceMode inference;
    CHECK_THROWS_WITH(GradientTape(), Contains("GradientTape") && Contains("InferenceMode"));
  }
}

TEST_CASE("A persistent GradientTape computes several gradients from one recording", "[gradient_tape]") {
  const at::Tensor x = leaf({3}, 71);
  GradientTape tape({.persistent = true});
  CHECK(tape.persistent());
  const at::Tensor y = x * x;
  const at::Tensor z = y * y;
  const auto dz = tape.gradient(z.sum(), {x});  // 4 x^3
  const auto dy = tape.gradient(y.sum(), {x});  // 2 x
  const auto dz_again = tape.gradient(z.sum(), {x});
  at::NoGradGuard no_grad;
  CHECK(test_support::max_abs_difference(dz[0], x.pow(3) * 4) < 1e-12);
  CHECK(test_support::max_abs_difference(dy[0], x * 2) < 1e-12);
  CHECK(test_support::max_abs_difference(dz_again[0], dz[0]) == 0.0);
}

TEST_CASE("A custom loop with GradientTape and SGD reaches exactly the weights of fit(shuffle=false)",
          "[gradient_tape]") {
  optimizers::SGD loop_optimizer({.learning_rate = 0.1, .momentum = 0.9});
  check_loop_matches_fit(optimizers::SGD({.learning_rate = 0.1, .momentum = 0.9}), loop_optimizer);
}

TEST_CASE("A custom loop with GradientTape and Adam reaches exactly the weights of fit(shuffle=false)",
          "[gradient_tape]") {
  optimizers::Adam loop_optimizer({.learning_rate = 0.01});
  check_loop_matches_fit(optimizers::Adam({.learning_rate = 0.01}), loop_optimizer);
}
