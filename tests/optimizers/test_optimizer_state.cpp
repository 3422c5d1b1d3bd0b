// Optimizer::get_state / set_state / state_names: Keras 3's optimizer.variables order and paths (copied from
// `[v.path for v in opt.variables]` in Keras 3.15), and a restored optimizer continuing bit for bit.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/optimizers/adagrad.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/adamw.h>
#include <strata/optimizers/loss_scale_optimizer.h>
#include <strata/optimizers/nadam.h>
#include <strata/optimizers/rmsprop.h>
#include <strata/optimizers/serialization.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <limits>

using namespace strata;
using namespace strata::optimizers;
using Catch::Matchers::Contains;

namespace {

const std::vector<std::string> kNames = {"dense/kernel", "dense/bias", "out/kernel", "out/bias"};

std::vector<at::Tensor> fresh_weights() {
  return {at::linspace(-1.0, 1.0, 6, at::kFloat).reshape({3, 2}), at::tensor({0.1f, -0.2f}),
          at::linspace(0.5, -0.5, 2, at::kFloat).reshape({2, 1}), at::tensor({0.3f})};
}

std::vector<at::Tensor> copy_of(const std::vector<at::Tensor>& weights) {
  std::vector<at::Tensor> out;
  for (const auto& w : weights) out.push_back(w.clone());
  return out;
}

// Gradients that depend on the weights and the step, so any difference in state shows in the weights. With
// `overflow`, step 7 gives an inf gradient (LossScaleOptimizer skips it and halves its scale).
std::vector<at::Tensor> gradients(const std::vector<at::Tensor>& weights, int step, bool overflow = false) {
  std::vector<at::Tensor> grads;
  for (size_t i = 0; i < weights.size(); ++i)
    grads.push_back(weights[i] * 0.7 + std::sin(step + static_cast<double>(i)) * 0.3);
  if (overflow && step == 7) grads[1][0].fill_(std::numeric_limits<float>::infinity());
  return grads;
}

void train(Optimizer& optimizer, const std::vector<at::Tensor>& weights, int from, int to) {
  const bool overflow = optimizer.class_name() == "LossScaleOptimizer";
  for (int step = from; step < to; ++step) optimizer.apply(gradients(weights, step, overflow), weights);
}

}  // namespace

TEST_CASE("a restored optimizer continues bit for bit", "[serialization][optimizers][state]") {
  const std::vector<std::pair<std::string, std::function<std::shared_ptr<Optimizer>()>>> cases = {
      {"SGD momentum", [] { return std::make_shared<SGD>(SGDOptions{.learning_rate = 0.05, .momentum = 0.9, .nesterov = true}); }},
      {"Adam", [] { return std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01, .amsgrad = true}); }},
      {"AdamW with EMA", [] { return std::make_shared<AdamW>(AdamWOptions{.learning_rate = 0.01, .use_ema = true,
                                                                          .ema_overwrite_frequency = 4}); }},
      {"Adam accumulating", [] { return std::make_shared<Adam>(AdamOptions{.gradient_accumulation_steps = 3}); }},
      {"RMSprop", [] { return std::make_shared<RMSprop>(RMSpropOptions{.momentum = 0.5, .centered = true}); }},
      {"Adagrad", [] { return std::make_shared<Adagrad>(AdagradOptions{.learning_rate = 0.1}); }},
      {"Nadam", [] { return std::make_shared<Nadam>(); }},
      {"LossScaleOptimizer", [] {
         return std::make_shared<LossScaleOptimizer>(Adam(AdamOptions{.learning_rate = 0.01}),
                                                     LossScaleOptimizerOptions{.initial_scale = 8.0,
                                                                               .dynamic_growth_steps = 2});
       }},
  };
  for (const auto& [label, make] : cases) {
    INFO(label);
    const auto optimizer = make();
    const auto weights = fresh_weights();
    train(*optimizer, weights, 0, 5);
    const auto snapshot = optimizer->get_state();
    const auto saved_weights = copy_of(weights);
    train(*optimizer, weights, 5, 11);

    // A new optimizer from the saved config, built on a copy of the weights, restored, trained the same.
    const auto restored = deserialize(serialize(*optimizer));
    const auto resumed = copy_of(saved_weights);
    restored->build(resumed, kNames);
    restored->set_state(snapshot);
    CHECK(restored->iterations() == 5 - (label == "Adam accumulating" ? 4 : 0));
    train(*restored, resumed, 5, 11);
    for (size_t i = 0; i < weights.size(); ++i) CHECK(at::equal(resumed[i], weights[i]));
    const auto a = optimizer->get_state(), b = restored->get_state();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK(at::equal(a[i], b[i]));
  }
}

TEST_CASE("LossScaleOptimizer's state holds its dynamic scale and the inner optimizer's", "[serialization][optimizers][state]") {
  LossScaleOptimizer optimizer(Adam(), {.initial_scale = 8.0, .dynamic_growth_steps = 2});
  const auto weights = fresh_weights();
  train(optimizer, weights, 5, 8);  // two finite steps double the scale to 16, the inf one halves it to 8
  train(optimizer, weights, 8, 9);
  CHECK(optimizer.dynamic_scale() == 8.0);
  CHECK(optimizer.step_counter() == 1);
  const auto state = optimizer.get_state();
  CHECK(state[2].item<int64_t>() == 1);
  CHECK(state[3].item<double>() == 8.0);
  CHECK(state[4].item<int64_t>() == 3);  // the inner Adam applied the three finite steps
  // Keras 3.15: LossScaleOptimizer(Adam()).variables for a Dense(2) then Dense(1) "out" model.
  const std::vector<std::string> keras = {
      "loss_scale_optimizer/iteration", "loss_scale_optimizer/learning_rate", "loss_scale_optimizer/step_counter",
      "loss_scale_optimizer/dynamic_scale", "adam/iteration", "adam/learning_rate", "adam/dense_kernel_momentum",
      "adam/dense_kernel_velocity", "adam/dense_bias_momentum", "adam/dense_bias_velocity",
      "adam/out_kernel_momentum", "adam/out_kernel_velocity", "adam/out_bias_momentum", "adam/out_bias_velocity"};
  CHECK(optimizer.state_names(kNames) == keras);
  CHECK(state.size() == keras.size());

  LossScaleOptimizer other(Adam(), {.initial_scale = 8.0, .dynamic_growth_steps = 2});
  other.build(copy_of(weights), kNames);
  other.set_state(state);
  CHECK(other.dynamic_scale() == 8.0);
  CHECK(other.step_counter() == 1);
  CHECK(other.inner_optimizer().iterations() == 3);
}

TEST_CASE("optimizer state follows Keras 3's optimizer.variables order", "[serialization][optimizers][state]") {
  SECTION("Adam interleaves momentum and velocity per variable") {
    Adam adam;
    const auto weights = fresh_weights();
    const auto grads = gradients(weights, 1);
    adam.apply(grads, weights);
    CHECK(adam.state_names(kNames) ==
          std::vector<std::string>{"adam/iteration", "adam/learning_rate", "adam/dense_kernel_momentum",
                                   "adam/dense_kernel_velocity", "adam/dense_bias_momentum",
                                   "adam/dense_bias_velocity", "adam/out_kernel_momentum",
                                   "adam/out_kernel_velocity", "adam/out_bias_momentum", "adam/out_bias_velocity"});
    const auto state = adam.get_state();
    CHECK(state[0].item<int64_t>() == 1);
    CHECK(state[1].item<double>() == Approx(0.001));
    // After one step m = (1 - beta_1) g and v = (1 - beta_2) g^2.
    CHECK(at::allclose(state[2], grads[0] * 0.1));
    CHECK(at::allclose(state[3], grads[0].square() * 0.001));
    CHECK(at::allclose(state[4], grads[1] * 0.1));
  }
  SECTION("RMSprop creates every velocity, then every momentum, then every average_gradient") {
    RMSprop rmsprop({.momentum = 0.5, .centered = true});
    rmsprop.build(fresh_weights(), kNames);
    const auto names = rmsprop.state_names(kNames);
    CHECK(names == std::vector<std::string>{
                       "rm_sprop/iteration", "rm_sprop/learning_rate", "rm_sprop/dense_kernel_velocity",
                       "rm_sprop/dense_bias_velocity", "rm_sprop/out_kernel_velocity", "rm_sprop/out_bias_velocity",
                       "rm_sprop/dense_kernel_momentum", "rm_sprop/dense_bias_momentum",
                       "rm_sprop/out_kernel_momentum", "rm_sprop/out_bias_momentum",
                       "rm_sprop/dense_kernel_average_gradient", "rm_sprop/dense_bias_average_gradient",
                       "rm_sprop/out_kernel_average_gradient", "rm_sprop/out_bias_average_gradient"});
    CHECK(rmsprop.get_state().size() == names.size());
  }
  SECTION("EMA averages, then gradient accumulators, then the slots") {
    Adam adam({.use_ema = true, .gradient_accumulation_steps = 2});
    adam.build(fresh_weights(), kNames);
    const auto names = adam.state_names(kNames);
    REQUIRE(names.size() == 2 + 4 + 4 + 8);
    CHECK(names[2] == "adam/dense_kernel_average");
    CHECK(names[5] == "adam/out_bias_average");
    CHECK(names[6] == "adam/dense_kernel_gradient_accumulator");
    CHECK(names[10] == "adam/dense_kernel_momentum");
    CHECK(names[11] == "adam/dense_kernel_velocity");
    CHECK(adam.get_state().size() == names.size());
  }
  SECTION("amsgrad's velocity_hat after all the momenta and velocities; Nadam's u_product last") {
    Adam adam({.amsgrad = true});
    adam.build(fresh_weights(), kNames);
    const auto names = adam.state_names(kNames);
    CHECK(names[10] == "adam/dense_kernel_velocity_hat");
    CHECK(names[13] == "adam/out_bias_velocity_hat");
    Nadam nadam;
    nadam.build(fresh_weights(), kNames);
    CHECK(nadam.state_names(kNames).back() == "variable");
    CHECK(nadam.get_state().size() == 2 + 8 + 1);
  }
}

TEST_CASE("set_state rejects a snapshot of another shape and leaves the optimizer as it was", "[serialization][optimizers][state]") {
  Adam adam;
  const auto weights = fresh_weights();
  adam.build(weights, kNames);
  auto state = adam.get_state();
  state.pop_back();
  CHECK_THROWS_WITH(adam.set_state(state), Contains("expected 10 tensors"));
  auto wrong = adam.get_state();
  wrong[3] = at::zeros({2, 3});
  CHECK_THROWS_AS(adam.set_state(wrong), ShapeError);
  CHECK_THROWS_WITH(adam.state_names({"only_one"}), Contains("one name per built variable"));
}
