// The three ways to build a model (Sequential, the functional Model(inputs, outputs), a subclass of Model
// that tracks its layers and overrides call()) for one architecture, Dense(8, relu) -> Dense(3). Given the
// same weights they must agree with each other and with the forward pass, loss and optimizer step written out
// here with plain ATen ops (autograd on copies of the weights, in double).

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/losses/probabilistic.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <sstream>

#include "../support/tensor_checks.h"

using namespace strata;
using Catch::Matchers::Contains;
using strata::test_support::check_close;
using strata::test_support::rnd;

namespace {

// The subclassed style: layers are members created in the constructor and tracked; call() wires them.
class Mlp : public Model {
 public:
  Mlp() : Model("Mlp") {
    hidden_ = track(layers::Dense(8, {.activation = "relu"}));
    head_ = track(layers::Dense(3));
  }
  at::Tensor call(const at::Tensor& inputs, bool training) override {
    return (*head_)((*hidden_)(inputs, training), training);
  }

 private:
  std::shared_ptr<layers::Dense> hidden_;
  std::shared_ptr<layers::Dense> head_;
};

enum class Style { kSequential, kFunctional, kSubclassed };

const char* style_name(Style style) {
  switch (style) {
    case Style::kSequential:
      return "Sequential";
    case Style::kFunctional:
      return "functional";
    case Style::kSubclassed:
      return "subclassed";
  }
  return "";
}

// Keras' weight list for the architecture: hidden kernel (4, 8), hidden bias (8,), head kernel (8, 3), bias
// (3,).
std::vector<at::Tensor> reference_weights() {
  return {rnd({4, 8}, 11), rnd({8}, 12) * 0.1, rnd({8, 3}, 13), rnd({3}, 14) * 0.1};
}

// One model of `style` carrying reference_weights().
std::shared_ptr<Model> make_model(Style style) {
  std::shared_ptr<Model> model;
  switch (style) {
    case Style::kSequential:
      model = std::make_shared<Sequential>(std::vector<LayerRef>{
          layers::Input({4}), layers::Dense(8, {.activation = "relu"}), layers::Dense(3)});
      break;
    case Style::kFunctional: {
      auto x = Input({4});
      auto h = layers::Dense(8, {.activation = "relu"})(x);
      model = std::make_shared<Model>(x, layers::Dense(3)(h));
      break;
    }
    case Style::kSubclassed:
      model = std::make_shared<Mlp>();
      (*model)(at::zeros({1, 4}));  // a subclassed model builds on its first call, as in Keras
      break;
  }
  model->set_weights(reference_weights());
  return model;
}

const std::vector<Style> kStyles = {Style::kSequential, Style::kFunctional, Style::kSubclassed};

// The forward pass written out: relu(x W1 + b1) W2 + b2.
at::Tensor forward_by_hand(const at::Tensor& x, const std::vector<at::Tensor>& w) {
  return at::matmul(at::relu(at::matmul(x, w[0]) + w[1]), w[2]) + w[3];
}

// Gradients of `loss_fn(forward(x))` with respect to each weight, by autograd on double copies.
std::vector<at::Tensor> grads_by_hand(const at::Tensor& x, const std::vector<at::Tensor>& weights,
                                      const std::function<at::Tensor(const at::Tensor&)>& loss_fn) {
  std::vector<at::Tensor> w;
  for (const auto& t : weights) w.push_back(t.detach().to(at::kDouble).requires_grad_(true));
  const at::Tensor loss = loss_fn(forward_by_hand(x.to(at::kDouble), w));
  loss.backward();
  std::vector<at::Tensor> grads;
  for (const auto& t : w) grads.push_back(t.grad());
  return grads;
}

at::Tensor mse_by_hand(const at::Tensor& pred, const at::Tensor& y) {
  return (pred - y.to(pred.scalar_type())).pow(2).mean();
}

// Sparse categorical cross-entropy of logits: logsumexp(z) - z[label], averaged over the batch.
at::Tensor scce_by_hand(const at::Tensor& logits, const at::Tensor& labels) {
  return (at::logsumexp(logits, 1) - logits.gather(1, labels.unsqueeze(1)).squeeze(1)).mean();
}

// Keras' SGD without momentum: w - lr g.
std::vector<at::Tensor> sgd_step(const std::vector<at::Tensor>& w, const std::vector<at::Tensor>& g,
                                 double lr) {
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < w.size(); ++i) out.push_back(w[i].to(at::kDouble) - lr * g[i]);
  return out;
}

// Keras' Adam, first step from zero moments: m = (1 - b1) g, v = (1 - b2) g^2,
// w - lr sqrt(1 - b2) / (1 - b1) m / (sqrt(v) + eps).
std::vector<at::Tensor> adam_first_step(const std::vector<at::Tensor>& w, const std::vector<at::Tensor>& g,
                                        double lr) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
  const double alpha = lr * std::sqrt(1 - b2) / (1 - b1);
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < w.size(); ++i) {
    const at::Tensor m = (1 - b1) * g[i];
    const at::Tensor v = (1 - b2) * g[i] * g[i];
    out.push_back(w[i].to(at::kDouble) - alpha * m / (at::sqrt(v) + eps));
  }
  return out;
}

void check_weights(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& expected, double tol) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("weight " << i);
    check_close(got[i], expected[i], tol);
  }
}

}  // namespace

TEST_CASE("the three model styles with the same weights give the same outputs and weight lists",
          "[model_styles]") {
  const at::Tensor x = rnd({7, 4}, 21);
  const at::Tensor expected = forward_by_hand(x, reference_weights());
  for (Style style : kStyles) {
    INFO(style_name(style));
    auto model = make_model(style);
    const auto weights = model->get_weights();
    REQUIRE(weights.size() == 4);
    const std::vector<std::vector<int64_t>> shapes = {{4, 8}, {8}, {8, 3}, {3}};
    for (size_t i = 0; i < weights.size(); ++i) CHECK(weights[i].sizes().vec() == shapes[i]);
    check_weights(weights, reference_weights(), 1e-7);
    CHECK(model->trainable_weights().size() == 4);
    CHECK(model->count_params() == (4 * 8 + 8) + (8 * 3 + 3));
    check_close(model->predict(x, {.batch_size = 3, .verbose = 0}), expected, 1e-5);
    check_close((*model)(x), expected, 1e-5);
  }
}

TEST_CASE("the three model styles take the same train_on_batch step, by hand for SGD and Adam",
          "[model_styles]") {
  const at::Tensor x = rnd({6, 4}, 22);
  const at::Tensor y = rnd({6, 3}, 23);
  const at::Tensor labels = at::tensor({0, 2, 1, 1, 0, 2}, at::kLong);
  const double lr = 0.1;
  const auto w0 = reference_weights();

  SECTION("SGD, mse") {
    const auto g = grads_by_hand(x, w0, [&](const at::Tensor& p) { return mse_by_hand(p, y); });
    const auto expected = sgd_step(w0, g, lr);
    const double loss_before = mse_by_hand(forward_by_hand(x, w0), y).item<double>();
    for (Style style : kStyles) {
      INFO(style_name(style));
      auto model = make_model(style);
      model->compile({.optimizer = optimizers::SGD({.learning_rate = lr}), .loss = "mse"});
      const Logs logs = model->train_on_batch(x, y);
      CHECK(logs.at("loss") == Approx(loss_before).epsilon(1e-5));
      check_weights(model->get_weights(), expected, 1e-5);
    }
  }

  SECTION("Adam, sparse categorical cross-entropy from logits") {
    const auto g = grads_by_hand(x, w0, [&](const at::Tensor& p) { return scce_by_hand(p, labels); });
    const auto expected = adam_first_step(w0, g, lr);
    for (Style style : kStyles) {
      INFO(style_name(style));
      auto model = make_model(style);
      model->compile({.optimizer = optimizers::Adam({.learning_rate = lr}),
                      .loss = losses::SparseCategoricalCrossentropy({.from_logits = true})});
      const Logs logs = model->train_on_batch(x, labels);
      CHECK(logs.at("loss") ==
            Approx(scce_by_hand(forward_by_hand(x, w0), labels).item<double>()).epsilon(1e-5));
      check_weights(model->get_weights(), expected, 1e-5);
    }
  }
}

TEST_CASE("the three model styles agree after fit, one step and several", "[model_styles]") {
  const at::Tensor x = rnd({8, 4}, 24);
  const at::Tensor y = rnd({8, 3}, 25);
  const double lr = 0.05;

  SECTION("one fit step over the whole batch equals the SGD step by hand") {
    const auto w0 = reference_weights();
    const auto expected =
        sgd_step(w0, grads_by_hand(x, w0, [&](const at::Tensor& p) { return mse_by_hand(p, y); }), lr);
    for (Style style : kStyles) {
      INFO(style_name(style));
      auto model = make_model(style);
      model->compile({.optimizer = optimizers::SGD({.learning_rate = lr}), .loss = "mse"});
      auto history = model->fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .shuffle = false});
      CHECK(history.history.at("loss").at(0) ==
            Approx(mse_by_hand(forward_by_hand(x, w0), y).item<double>()).epsilon(1e-5));
      check_weights(model->get_weights(), expected, 1e-5);
    }
  }

  SECTION("Adam over two epochs of two batches: every style ends with the same weights and history") {
    std::vector<std::vector<at::Tensor>> finals;
    std::vector<std::vector<double>> losses;
    for (Style style : kStyles) {
      auto model = make_model(style);
      model->compile({.optimizer = optimizers::Adam({.learning_rate = lr}), .loss = "mse"});
      auto history = model->fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .shuffle = false});
      finals.push_back(model->get_weights());
      losses.push_back(history.history.at("loss"));
      CHECK(model->optimizer().iterations() == 4);
    }
    for (size_t s = 1; s < finals.size(); ++s) {
      INFO(style_name(kStyles[s]) << " against Sequential");
      check_weights(finals[s], finals[0], 1e-6);
      REQUIRE(losses[s].size() == 2);
      CHECK(losses[s][0] == Approx(losses[0][0]).epsilon(1e-6));
      CHECK(losses[s][1] == Approx(losses[0][1]).epsilon(1e-6));
    }
    // Training moved the weights.
    CHECK(test_support::max_abs_difference(finals[0][0], reference_weights()[0]) > 1e-3);
  }
}

TEST_CASE("a subclassed model needs nothing beyond track(): summary, fit, evaluate, predict, weights",
          "[model_styles]") {
  Mlp model;
  // Not built before its first call, as in Keras: no weights, and summary() says why.
  CHECK_FALSE(model.built());
  CHECK(model.get_weights().empty());
  std::ostringstream before;
  CHECK_THROWS_AS(model.summary(before), StateError);

  const at::Tensor x = rnd({10, 4}, 26);
  const at::Tensor y = rnd({10, 3}, 27);
  model(x);
  CHECK(model.built());
  CHECK(model.layers().size() == 2);
  std::ostringstream text;
  model.summary(text);
  INFO(text.str());
  CHECK_THAT(text.str(), Contains("Model: \"" + model.name() + "\""));
  CHECK_THAT(text.str(), Contains("(Dense)"));
  CHECK_THAT(text.str(), Contains("Total params: 67"));  // (4*8 + 8) + (8*3 + 3) = 40 + 27
  CHECK_THAT(text.str(), Contains("Trainable params: 67"));

  model.set_weights(reference_weights());
  check_weights(model.get_weights(), reference_weights(), 1e-7);
  CHECK_THROWS_AS(model.set_weights({reference_weights()[0]}), Error);

  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  const at::Tensor pred = model.predict(x, {.batch_size = 4, .verbose = 0});
  check_close(pred, forward_by_hand(x, reference_weights()), 1e-5);
  const Logs logs = model.evaluate(x, y, {.batch_size = 3, .verbose = 0});
  CHECK(logs.at("loss") == Approx(mse_by_hand(pred, y).item<double>()).epsilon(1e-5));
  auto history = model.fit(x, y, {.batch_size = 5, .epochs = 3, .verbose = 0, .validation_split = 0.2});
  CHECK(history.history.at("loss").size() == 3);
  CHECK(history.history.at("val_loss").size() == 3);
  CHECK(history.history.at("loss").back() < history.history.at("loss").front());
}
