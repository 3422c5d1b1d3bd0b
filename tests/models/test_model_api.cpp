// The Model API (not end-to-end accuracy): summary(), subclassed models, fit/evaluate/predict and the
// *_on_batch methods, Sequential add/pop, bad-input errors, "accuracy" resolution and the callback protocol.
// Expected values come from arithmetic written out here (parameter counts, hand-computed losses and SGD
// steps) or from tensors the test computes itself from the weights.

#include <ATen/ATen.h>
#include <strata/callbacks/callback.h>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/dropout.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/reshaping.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>
#include <strata/metrics/accuracy.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <sstream>
#include "../support/recording_callback.h"

using namespace strata;
using Catch::Matchers::Contains;

namespace {

// A subclassed model: the layer is created in the constructor and tracked, call() wires it.
class Regressor : public Model {
 public:
  Regressor() : Model("Regressor") { dense_ = track(layers::Dense(1)); }
  at::Tensor call(const at::Tensor& inputs, bool training) override { return (*dense_)(inputs, training); }
  std::shared_ptr<layers::Dense> dense_;
};

// The line of `text` that contains `needle` ("" when there is none).
std::string line_with(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) return line;
  return "";
}

at::Tensor column(std::vector<float> values) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kFloat).reshape({n, 1});
}

// Asks the model to stop at the end of batch `stop_at` of the first epoch.
class Stopper : public Callback {
 public:
  explicit Stopper(int64_t stop_at) : stop_at_(stop_at) {}
  int batches = 0;
  int epochs_ended = 0;
  void on_train_batch_end(int64_t batch, const Logs&) override {
    ++batches;
    if (batch == stop_at_) model()->stop_training = true;
  }
  void on_epoch_end(int, Logs&) override { ++epochs_ended; }

 private:
  int64_t stop_at_;
};

// A one-unit linear model y = x·W + b on 2 features with W = [[1], [-1]], b = [0.5].
Sequential linear_model() {
  Sequential model({layers::Input({2}), layers::Dense(1)});
  model.set_weights({at::tensor({1.0f, -1.0f}).reshape({2, 1}), at::tensor({0.5f})});
  return model;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// summary()

TEST_CASE("summary() of the Keras MNIST MLP prints Keras' parameter counts", "[models][summary]") {
  clear_session();
  Sequential model({layers::Input({28, 28}), layers::Flatten(), layers::Dense(128, {.activation = "relu"}),
                    layers::Dense(10)});
  std::ostringstream out;
  model.summary(out);
  const std::string text = out.str();
  INFO(text);
  // dense:   784*128 + 128 = 100352 + 128 = 100480
  // dense_1: 128*10 + 10   = 1280 + 10    = 1290
  // total:   100480 + 1290 = 101770, all trainable
  CHECK_THAT(text, Contains("Model: \"sequential\""));
  CHECK_THAT(text, Contains("Total params: 101770"));
  CHECK_THAT(text, Contains("Trainable params: 101770"));
  CHECK_THAT(text, Contains("Non-trainable params: 0"));
  const std::string flatten_row = line_with(text, "flatten (Flatten)");
  CHECK_THAT(flatten_row, Contains("(None, 784)") && Contains(" 0"));
  const std::string dense_row = line_with(text, "dense (Dense)");
  CHECK_THAT(dense_row, Contains("(None, 128)") && Contains("100480"));
  const std::string dense1_row = line_with(text, "dense_1 (Dense)");
  CHECK_THAT(dense1_row, Contains("(None, 10)") && Contains("1290"));
  CHECK(model.count_params() == 101770);
  // Keras' "Layer (type)" header line and the 65-column rules.
  CHECK_THAT(text, Contains("Layer (type)") && Contains("Output Shape") && Contains("Param #"));
  CHECK_THAT(text, Contains(std::string(65, '=')));

  // Freezing the hidden layer moves its 100480 parameters to the non-trainable count.
  model.layers()[1]->set_trainable(false);
  std::ostringstream frozen;
  model.summary(frozen);
  CHECK_THAT(frozen.str(), Contains("Trainable params: 1290") && Contains("Non-trainable params: 100480") &&
                               Contains("Total params: 101770"));
}

TEST_CASE("summary() of an unbuilt model throws StateError", "[models][summary][errors]") {
  Sequential model({layers::Dense(4), layers::Dense(2)});
  CHECK_FALSE(model.built());
  std::ostringstream out;
  CHECK_THROWS_AS(model.summary(out), StateError);
  CHECK_THROWS_WITH(model.summary(out), Contains(model.name()) && Contains("summary"));
  // Calling the model on data builds it.
  model(at::zeros({1, 3}));
  CHECK_NOTHROW(model.summary(out));
  CHECK_THAT(out.str(), Contains("Total params: 26"));  // (3*4 + 4) + (4*2 + 2) = 16 + 10
}

// ---------------------------------------------------------------------------------------------------------------
// Training

TEST_CASE("a subclassed Model trains with fit on y = 2x + 1", "[models][fit][subclass]") {
  set_random_seed(3);
  const at::Tensor x = at::rand({64, 1}) * 2.0 - 1.0;
  const at::Tensor y = 2.0 * x + 1.0;
  Regressor model;
  CHECK(model.name().rfind("regressor", 0) == 0);
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  auto history = model.fit(x, y, {.batch_size = 16, .epochs = 30, .verbose = 0});

  REQUIRE(history.history.count("loss") == 1);
  const auto& loss = history.history.at("loss");
  REQUIRE(loss.size() == 30);
  CHECK(history.epoch.size() == 30);
  CHECK(loss[5] < loss[0]);
  CHECK(loss.back() < 0.01 * loss.front());
  // The tracked Dense holds the two trainable weights, and they approach W = 2, b = 1.
  CHECK(model.trainable_weights().size() == 2);
  CHECK(model.dense_->kernel().item<float>() == Approx(2.0).margin(0.05));
  CHECK(model.dense_->bias().item<float>() == Approx(1.0).margin(0.05));
  CHECK(model.history().history.at("loss") == loss);
}

TEST_CASE("History has one loss per epoch, and val_loss with validation_split", "[models][fit][history]") {
  set_random_seed(4);
  Sequential model({layers::Input({3}), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const at::Tensor x = at::randn({20, 3}), y = at::randn({20, 1});
  auto history = model.fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0, .validation_split = 0.25});
  CHECK(history.history.at("loss").size() == 3);
  CHECK(history.history.at("val_loss").size() == 3);
  CHECK(history.epoch == std::vector<int>{0, 1, 2});

  auto without = model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0});
  CHECK(without.history.at("loss").size() == 2);
  CHECK(without.history.count("val_loss") == 0);

  // Explicit validation_data is used as given.
  auto with_data = model.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .validation_data = {x, y}});
  CHECK(with_data.history.at("val_loss").size() == 1);
}

TEST_CASE("validation_split holds out the last fraction of the samples", "[models][fit][validation]") {
  // 8 samples, all x = 1; the first 6 targets are 0, the last 2 are 10. The model predicts 0 everywhere and a
  // zero learning rate keeps it so. With validation_split 0.25 the last 2 samples validate:
  // loss = mean((0 - 0)^2) = 0, val_loss = mean((0 - 10)^2) = 100. Taking any other 2 would give val_loss <
  // 100.
  Sequential model({layers::Input({1}), layers::Dense(1, {.kernel_initializer = "zeros"})});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}), .loss = "mse"});
  const at::Tensor x = at::ones({8, 1});
  const at::Tensor y = column({0, 0, 0, 0, 0, 0, 10, 10});
  auto history = model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .validation_split = 0.25});
  CHECK(history.history.at("loss").at(0) == Approx(0.0).margin(1e-12));
  CHECK(history.history.at("val_loss").at(0) == Approx(100.0));
}

TEST_CASE("initial_epoch resumes: runs epochs initial_epoch to epochs - 1", "[models][fit]") {
  Sequential model({layers::Input({2}), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  auto recorder = std::make_shared<testing::Recorder>();
  auto history =
      model.fit(at::randn({6, 2}), at::randn({6, 1}),
                {.batch_size = 3, .epochs = 4, .verbose = 0, .callbacks = {recorder}, .initial_epoch = 2});
  CHECK(history.epoch == std::vector<int>{2, 3});
  CHECK(history.history.at("loss").size() == 2);
  CHECK(std::count(recorder->events.begin(), recorder->events.end(), "epoch_begin:2") == 1);
  CHECK(std::count(recorder->events.begin(), recorder->events.end(), "epoch_begin:3") == 1);
  CHECK(std::count(recorder->events.begin(), recorder->events.end(), "epoch_begin:0") == 0);
  CHECK(recorder->epoch_logs.size() == 2);
}

TEST_CASE("evaluate returns the loss computed by hand from predict()", "[models][evaluate][predict]") {
  set_random_seed(5);
  Sequential model({layers::Input({3}), layers::Dense(4, {.activation = "tanh"}), layers::Dense(2)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const at::Tensor x = at::randn({10, 3}), y = at::randn({10, 2});

  const at::Tensor y_pred = model.predict(x, {.batch_size = 3, .verbose = 0});
  REQUIRE(y_pred.sizes() == at::IntArrayRef({10, 2}));
  // MSE = mean over the 2 outputs, then over the 10 samples = the mean of all 20 squared errors. Batches of 4
  // (4 + 4 + 2 samples) must be weighted by their size for evaluate to agree.
  const double expected = (y_pred.to(at::kDouble) - y.to(at::kDouble)).pow(2).mean().item<double>();
  const Logs logs = model.evaluate(x, y, {.batch_size = 4, .verbose = 0});
  CHECK(logs.at("loss") == Approx(expected).epsilon(1e-5));
  CHECK(model.metrics_names() == std::vector<std::string>{"loss"});
  CHECK(logs.size() == 1);

  // predict() equals the forward pass written out with the weights: tanh(x W1 + b1) W2 + b2.
  const auto w = model.get_weights();
  REQUIRE(w.size() == 4);
  const at::Tensor by_hand = at::matmul(at::tanh(at::matmul(x, w[0]) + w[1]), w[2]) + w[3];
  CHECK(at::allclose(y_pred, by_hand, 1e-5, 1e-6));
}

TEST_CASE("predict returns the right shape and builds no autograd graph", "[models][predict]") {
  Sequential model({layers::Input({4}), layers::Dense(3, {.activation = "softmax"})});
  const at::Tensor out = model.predict(at::randn({7, 4}), {.batch_size = 2, .verbose = 0});
  CHECK(out.sizes() == at::IntArrayRef({7, 3}));
  CHECK_FALSE(out.requires_grad());
  CHECK(out.grad_fn() == nullptr);
  // Softmax rows sum to 1.
  CHECK(at::allclose(out.sum(1), at::ones({7})));
  const at::Tensor on_batch = model.predict_on_batch(at::randn({5, 4}));
  CHECK(on_batch.sizes() == at::IntArrayRef({5, 3}));
  CHECK_FALSE(on_batch.requires_grad());
  // predict does not need compile().
  CHECK_FALSE(model.compiled());
}

TEST_CASE("train_on_batch, test_on_batch and predict_on_batch against a hand-computed SGD step",
          "[models][on_batch]") {
  Sequential model = linear_model();
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  // x = [[1, 2], [3, 1], [0, 1]], y = [1, 2, 3]
  // predictions x·W + b = [1-2+0.5, 3-1+0.5, 0-1+0.5] = [-0.5, 2.5, -0.5]
  // errors e = pred - y = [-1.5, 0.5, -3.5]; MSE = (2.25 + 0.25 + 12.25) / 3 = 14.75 / 3 = 4.9166667
  const at::Tensor x = at::tensor({1.0f, 2.0f, 3.0f, 1.0f, 0.0f, 1.0f}).reshape({3, 2});
  const at::Tensor y = column({1, 2, 3});

  const Logs test = model.test_on_batch(x, y);
  CHECK(test.at("loss") == Approx(14.75 / 3.0));
  CHECK(at::equal(model.get_weights()[0], at::tensor({1.0f, -1.0f}).reshape({2, 1})));  // unchanged

  const Logs train = model.train_on_batch(x, y);
  CHECK(train.at("loss") == Approx(14.75 / 3.0));  // the loss before the update
  // dL/dW = (2/3) * sum_i e_i x_i = (2/3) * [-1.5*1 + 0.5*3 + -3.5*0, -1.5*2 + 0.5*1 + -3.5*1] = (2/3) * [0,
  // -6] = [0, -4] dL/db = (2/3) * (-1.5 + 0.5 - 3.5) = -3 W <- W - 0.1 * dW = [1, -1 + 0.4] = [1, -0.6]; b <-
  // 0.5 + 0.3 = 0.8
  const auto w = model.get_weights();
  CHECK(w[0][0][0].item<float>() == Approx(1.0));
  CHECK(w[0][1][0].item<float>() == Approx(-0.6));
  CHECK(w[1][0].item<float>() == Approx(0.8));
  // predict_on_batch with the new weights: [1 - 1.2 + 0.8, 3 - 0.6 + 0.8, 0 - 0.6 + 0.8] = [0.6, 3.2, 0.2]
  const at::Tensor p = model.predict_on_batch(x);
  CHECK(at::allclose(p, column({0.6f, 3.2f, 0.2f}), 1e-5, 1e-6));
  CHECK(model.optimizer().iterations() == 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Sequential

TEST_CASE("Sequential add and pop", "[models][sequential]") {
  Sequential model;
  model.add(layers::Dense(4));
  model.add(layers::Dense(2));
  CHECK(model.layers().size() == 2);
  model.pop();
  CHECK(model.layers().size() == 1);
  model.pop();
  CHECK(model.layers().empty());
  CHECK_THROWS_AS(model.pop(), ValueError);

  // With an Input first, each added layer is built at once and the output follows the last layer.
  Sequential built({layers::Input({4})});
  CHECK(built.layers().empty());  // the InputLayer is not listed, as in Keras
  built.add(layers::Dense(3));
  CHECK(built.layers().back()->built());
  CHECK(built.layers().back()->output_shape() == Shape{kNone, 3});
  built.add(layers::Dense(2));
  CHECK(built.predict(at::zeros({5, 4}), {.verbose = 0}).sizes() == at::IntArrayRef({5, 2}));
  built.pop();
  CHECK(built.predict(at::zeros({5, 4}), {.verbose = 0}).sizes() == at::IntArrayRef({5, 3}));

  auto shared = std::make_shared<layers::Dense>(2);
  Sequential twice;
  twice.add(shared);
  CHECK_THROWS_AS(twice.add(shared), ValueError);
}

TEST_CASE("an InputLayer anywhere but first throws", "[models][sequential][errors]") {
  CHECK_THROWS_AS(Sequential({layers::Dense(3), layers::Input({4})}), ValueError);
  Sequential model;
  model.add(layers::Dense(3));
  CHECK_THROWS_AS(model.add(layers::Input({4})), ValueError);
  CHECK_THROWS_WITH(model.add(layers::Input({4})), Contains("InputLayer") && Contains("first"));
  CHECK_THROWS_AS(Sequential({layers::Input({4}), layers::Input({4})}), ValueError);
}

// ---------------------------------------------------------------------------------------------------------------
// Bad input

TEST_CASE("fit and friends reject bad input with messages naming what is wrong", "[models][errors]") {
  Sequential model({layers::Input({3}), layers::Dense(1)}, "probe_model");
  const at::Tensor x = at::randn({10, 3}), y = at::randn({10, 1});

  SECTION("before compile") {
    CHECK_THROWS_AS(model.fit(x, y, {.verbose = 0}), StateError);
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0}), Contains("compile") && Contains("probe_model"));
    CHECK_THROWS_AS(model.evaluate(x, y, {.verbose = 0}), StateError);
    CHECK_THROWS_AS(model.train_on_batch(x, y), StateError);
    CHECK_THROWS_AS(model.test_on_batch(x, y), StateError);
    CHECK_THROWS_AS(model.optimizer(), StateError);
  }

  SECTION("after compile") {
    model.compile({.optimizer = "sgd", .loss = "mse"});
    // batch_size <= 0
    CHECK_THROWS_AS(model.fit(x, y, {.batch_size = 0, .verbose = 0}), ValueError);
    CHECK_THROWS_WITH(model.fit(x, y, {.batch_size = 0, .verbose = 0}),
                      Contains("batch_size") && Contains("0"));
    CHECK_THROWS_WITH(model.fit(x, y, {.batch_size = -4, .verbose = 0}),
                      Contains("batch_size") && Contains("-4"));
    CHECK_THROWS_AS(model.evaluate(x, y, {.batch_size = 0, .verbose = 0}), ValueError);
    CHECK_THROWS_AS(model.predict(x, {.batch_size = -1, .verbose = 0}), ValueError);

    // validation_split outside [0, 1)
    CHECK_THROWS_AS(model.fit(x, y, {.verbose = 0, .validation_split = 1.0}), ValueError);
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_split = 1.0}), Contains("validation_split"));
    CHECK_THROWS_AS(model.fit(x, y, {.verbose = 0, .validation_split = -0.1}), ValueError);
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_split = -0.1}),
                      Contains("validation_split"));

    // different sample counts
    CHECK_THROWS_AS(model.fit(x, y.narrow(0, 0, 8), {.verbose = 0}), Error);
    CHECK_THROWS_WITH(model.fit(x, y.narrow(0, 0, 8), {.verbose = 0}), Contains("10") && Contains("8"));
    CHECK_THROWS_WITH(model.evaluate(x.narrow(0, 0, 7), y, {.verbose = 0}), Contains("7") && Contains("10"));

    // NaN and Inf
    at::Tensor bad_x = x.clone();
    bad_x[4][1] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(model.fit(bad_x, y, {.verbose = 0}), ValueError);
    CHECK_THROWS_WITH(model.fit(bad_x, y, {.verbose = 0}), Contains("NaN") && Contains("x") && Contains("4"));
    at::Tensor bad_y = y.clone();
    bad_y[2][0] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_AS(model.evaluate(x, bad_y, {.verbose = 0}), ValueError);

    // targets of the wrong shape for the loss
    CHECK_THROWS_AS(model.fit(x, at::randn({10, 4}), {.verbose = 0}), ShapeError);

    // nothing was trained by the rejected calls
    CHECK(model.optimizer().iterations() == 0);
  }
}

TEST_CASE("labels out of range for the loss are rejected by fit", "[models][errors]") {
  Sequential model({layers::Input({4}), layers::Dense(3)});
  model.compile({.optimizer = "adam", .loss = losses::SparseCategoricalCrossentropy({.from_logits = true})});
  const at::Tensor x = at::randn({6, 4});
  CHECK_THROWS_AS(model.fit(x, at::tensor({0, 1, 2, 3, 0, 1}, at::kLong), {.verbose = 0}), ValueError);
  CHECK_THROWS_WITH(model.fit(x, at::tensor({0, 1, 2, 3, 0, 1}, at::kLong), {.verbose = 0}),
                    Contains("[0, 3)") && Contains("3"));
  CHECK_THROWS_WITH(model.fit(x, at::tensor({0, 1, -1, 2, 0, 1}, at::kLong), {.verbose = 0}),
                    Contains("[0, 3)") && Contains("-1"));
  CHECK(model.optimizer().iterations() == 0);
  // In range trains.
  CHECK_NOTHROW(model.fit(x, at::tensor({0, 1, 2, 2, 0, 1}, at::kLong), {.batch_size = 3, .verbose = 0}));
  CHECK(model.optimizer().iterations() == 2);
}

TEST_CASE("a wrong input shape into a Sequential with an Input names the declared shape",
          "[models][errors]") {
  Sequential model({layers::Input({28, 28}), layers::Flatten(), layers::Dense(10)});
  model.compile({.optimizer = "sgd", .loss = losses::SparseCategoricalCrossentropy({.from_logits = true})});
  const at::Tensor x = at::zeros({4, 28, 27});
  const at::Tensor y = at::zeros({4}, at::kLong);
  CHECK_THROWS_AS(model.fit(x, y, {.verbose = 0}), ShapeError);
  CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0}), Contains("(None, 28, 28)") && Contains("[4, 28, 27]"));
  CHECK_THROWS_AS(model.predict(x, {.verbose = 0}), ShapeError);
  // 40 samples in batches of 32: the message shows the shape of x, not of a batch.
  CHECK_THROWS_WITH(model.predict(at::zeros({40, 784}), {.verbose = 0}),
                    Contains("(None, 28, 28)") && Contains("[40, 784]"));
  CHECK_THROWS_WITH(model.evaluate(at::zeros({40, 28, 29}), at::zeros({40}, at::kLong), {.verbose = 0}),
                    Contains("(None, 28, 28)") && Contains("[40, 28, 29]"));
  CHECK(model.optimizer().iterations() == 0);
}

TEST_CASE("compile rejects an unusable configuration", "[models][compile][errors]") {
  Sequential model({layers::Input({2}), layers::Dense(1)});
  CHECK_THROWS_AS(model.compile({.optimizer = "sgd",
                                 .loss = losses::MeanSquaredError({.reduction = losses::Reduction::kNone})}),
                  ValueError);
  CHECK_THROWS_AS(model.compile({.optimizer = "sgd", .loss = "mse", .metrics = {"not_a_metric"}}),
                  ValueError);
  CHECK_THROWS_AS(model.compile({.optimizer = "sgdd", .loss = "mse"}), ValueError);
  CHECK_FALSE(model.compiled());
  model.compile({.loss = "mse"});
  CHECK(model.optimizer().class_name() == "RMSprop");  // Keras' default optimizer
}

TEST_CASE("A model compiled without a loss trains only through its own train_step", "[models][compile][errors]") {
  // Keras allows compile() without a loss (a custom train_step brings its own); the default step then has nothing to
  // minimise and says so.
  Sequential model({layers::Input({2}), layers::Dense(1)});
  model.compile({.optimizer = "sgd"});
  CHECK(model.metrics_names().empty());
  CHECK_THROWS_WITH(model.fit(at::ones({4, 2}), at::ones({4, 1}), {.verbose = 0}),
                    Contains("no loss to compute") && Contains("train_step"));
}

// ---------------------------------------------------------------------------------------------------------------
// "accuracy"

TEST_CASE("\"accuracy\" resolves to the accuracy that matches the loss", "[models][metrics]") {
  set_random_seed(6);
  const at::Tensor x = at::randn({12, 4});

  SECTION("sparse categorical") {
    Sequential model({layers::Input({4}), layers::Dense(3)});
    model.compile({.optimizer = "sgd",
                   .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                   .metrics = {"accuracy"}});
    const at::Tensor y = at::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2, 2, 1, 0}, at::kLong);
    CHECK(model.metrics_names() == std::vector<std::string>{"loss", "accuracy"});
    const Logs logs = model.evaluate(x, y, {.batch_size = 5, .verbose = 0});
    // Fraction of samples whose highest logit is the label.
    const double expected =
        (model.predict(x, {.verbose = 0}).argmax(1) == y).to(at::kDouble).mean().item<double>();
    CHECK(logs.at("accuracy") == Approx(expected));
    std::vector<std::string> keys;
    for (const auto& [key, value] : logs) keys.push_back(key);
    CHECK(keys == model.metrics_names());
    // The same over fit's epoch logs, with val_ entries.
    auto history = model.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .validation_data = {x, y}});
    CHECK(history.history.count("accuracy") == 1);
    CHECK(history.history.count("val_accuracy") == 1);
    const double val_expected =
        (model.predict(x, {.verbose = 0}).argmax(1) == y).to(at::kDouble).mean().item<double>();
    CHECK(history.history.at("val_accuracy").at(0) == Approx(val_expected));
  }

  SECTION("categorical") {
    Sequential model({layers::Input({4}), layers::Dense(3)});
    model.compile({.optimizer = "sgd",
                   .loss = losses::CategoricalCrossentropy({.from_logits = true}),
                   .metrics = {"accuracy"}});
    const at::Tensor labels = at::tensor({2, 1, 0, 0, 1, 2, 2, 2, 1, 0, 1, 0}, at::kLong);
    const at::Tensor y = at::one_hot(labels, 3).to(at::kFloat);
    const Logs logs = model.evaluate(x, y, {.batch_size = 5, .verbose = 0});
    const double expected =
        (model.predict(x, {.verbose = 0}).argmax(1) == labels).to(at::kDouble).mean().item<double>();
    CHECK(logs.at("accuracy") == Approx(expected));
  }

  SECTION("binary") {
    Sequential model({layers::Input({4}), layers::Dense(1, {.activation = "sigmoid"})});
    model.compile({.optimizer = "sgd", .loss = "binary_crossentropy", .metrics = {"accuracy"}});
    const at::Tensor y = column({1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1});
    const Logs logs = model.evaluate(x, y, {.batch_size = 5, .verbose = 0});
    // Probabilities above 0.5 count as class 1.
    const at::Tensor predicted = (model.predict(x, {.verbose = 0}) > 0.5).to(at::kFloat);
    const double expected = (predicted == y).to(at::kDouble).mean().item<double>();
    CHECK(logs.at("accuracy") == Approx(expected));
  }

  SECTION("metric objects keep their own names") {
    Sequential model({layers::Input({4}), layers::Dense(3)});
    model.compile({.optimizer = "sgd",
                   .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                   .metrics = {metrics::SparseCategoricalAccuracy("hits"), "sparse_categorical_accuracy"}});
    CHECK(model.metrics_names() == std::vector<std::string>{"loss", "hits", "sparse_categorical_accuracy"});
    const Logs logs = model.evaluate(x, at::zeros({12}, at::kLong), {.verbose = 0});
    CHECK(logs.at("hits") == Approx(logs.at("sparse_categorical_accuracy")));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Callbacks

TEST_CASE("callbacks see Keras' hook order", "[models][callbacks]") {
  Sequential model({layers::Input({2}), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const at::Tensor x = at::randn({4, 2}), y = at::randn({4, 1});

  SECTION("fit without validation") {
    auto recorder = std::make_shared<testing::Recorder>();
    model.fit(x, y, {.batch_size = 2, .epochs = 2, .verbose = 0, .callbacks = {recorder}, .shuffle = false});
    const std::vector<std::string> expected = {
        "train_begin",   "epoch_begin:0", "batch_begin:0", "batch_end:0",   "batch_begin:1",
        "batch_end:1",   "epoch_end:0",   "epoch_begin:1", "batch_begin:0", "batch_end:0",
        "batch_begin:1", "batch_end:1",   "epoch_end:1",   "train_end"};
    CHECK(recorder->events == expected);
    CHECK(recorder->seen_model == &model);
    CHECK(recorder->seen_params.epochs == 2);
    CHECK(recorder->seen_params.steps == 2);
    REQUIRE(recorder->epoch_logs.size() == 2);
    CHECK(recorder->epoch_logs[0].contains("loss"));
  }

  SECTION("fit with validation data: the test hooks run before epoch_end") {
    auto recorder = std::make_shared<testing::Recorder>();
    model.fit(
        x, y,
        {.batch_size = 4, .epochs = 1, .verbose = 0, .callbacks = {recorder}, .validation_data = {x, y}});
    const std::vector<std::string> expected = {
        "train_begin",        "epoch_begin:0",    "batch_begin:0", "batch_end:0", "test_begin",
        "test_batch_begin:0", "test_batch_end:0", "test_end",      "epoch_end:0", "train_end"};
    CHECK(recorder->events == expected);
    REQUIRE(recorder->epoch_logs.size() == 1);
    CHECK(recorder->epoch_logs[0].contains("val_loss"));
  }

  SECTION("evaluate and predict") {
    auto recorder = std::make_shared<testing::Recorder>();
    model.evaluate(x, y, {.batch_size = 3, .verbose = 0, .callbacks = {recorder}});
    model.predict(x, {.batch_size = 3, .verbose = 0, .callbacks = {recorder}});
    const std::vector<std::string> expected = {"test_begin",          "test_batch_begin:0",
                                               "test_batch_end:0",    "test_batch_begin:1",
                                               "test_batch_end:1",    "test_end",
                                               "predict_begin",       "predict_batch_begin:0",
                                               "predict_batch_end:0", "predict_batch_begin:1",
                                               "predict_batch_end:1", "predict_end"};
    CHECK(recorder->events == expected);
  }
}

TEST_CASE("a callback setting stop_training ends fit after the current batch", "[models][callbacks]") {
  Sequential model({layers::Input({2}), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const at::Tensor x = at::randn({10, 2}), y = at::randn({10, 1});
  auto stopper = std::make_shared<Stopper>(1);
  auto history = model.fit(x, y, {.batch_size = 2, .epochs = 5, .verbose = 0, .callbacks = {stopper}});
  CHECK(stopper->batches == 2);       // batches 0 and 1 of 5 in the first epoch
  CHECK(stopper->epochs_ended == 1);  // the interrupted epoch still ends, as in Keras
  CHECK(history.history.at("loss").size() == 1);
  CHECK(model.optimizer().iterations() == 2);

  // The next fit starts afresh.
  auto again = model.fit(x, y, {.batch_size = 5, .epochs = 2, .verbose = 0});
  CHECK(again.history.at("loss").size() == 2);
  CHECK(model.optimizer().iterations() == 2 + 4);
}

TEST_CASE("train_on_batch and test_on_batch report metrics of that batch alone",
          "[models][on_batch][metrics]") {
  set_random_seed(8);
  Sequential model({layers::Input({4}), layers::Dense(3)});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.01}),
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .metrics = {"acc"}});
  const at::Tensor x = at::randn({8, 4});
  const at::Tensor y = at::tensor({0, 1, 2, 0, 1, 2, 1, 1}, at::kLong);
  for (int round = 0; round < 2; ++round) {
    // The metrics of a step describe the predictions made before its update.
    const at::Tensor before = model.predict_on_batch(x);
    const double expected = (before.argmax(1) == y).to(at::kDouble).mean().item<double>();
    const Logs logs = model.train_on_batch(x, y);
    CHECK(logs.at("acc") == Approx(expected));
  }
  const double now = (model.predict_on_batch(x).argmax(1) == y).to(at::kDouble).mean().item<double>();
  CHECK(model.test_on_batch(x, y).at("acc") == Approx(now));
  // A single-sample batch gives 0 or 1, whatever came before.
  const double one = (model.predict_on_batch(x.narrow(0, 0, 1)).argmax(1) == y.narrow(0, 0, 1))
                         .to(at::kDouble)
                         .item<double>();
  CHECK(model.test_on_batch(x.narrow(0, 0, 1), y.narrow(0, 0, 1)).at("acc") == one);
}

TEST_CASE("Dropout inside a model is active in fit and inactive in predict and evaluate",
          "[models][dropout]") {
  set_random_seed(9);
  Sequential model({layers::Input({6}), layers::Dropout(0.5), layers::Dense(2)});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}), .loss = "mse"});
  const at::Tensor x = at::randn({16, 6}), y = at::randn({16, 2});
  const at::Tensor first = model.predict(x, {.verbose = 0});
  CHECK(at::equal(first, model.predict(x, {.verbose = 0})));  // deterministic at inference
  // Without dropout, the output is x·W + b.
  const auto w = model.get_weights();
  CHECK(at::allclose(first, at::matmul(x, w[0]) + w[1], 1e-5, 1e-6));
  // evaluate uses the same inference path, so its loss is the MSE of predict().
  const double expected = (first - y).pow(2).mean().item<double>();
  CHECK(model.evaluate(x, y, {.verbose = 0}).at("loss") == Approx(expected).epsilon(1e-5));
  // In training the loss of a step differs from the inference loss (a lr of 0 keeps the weights unchanged).
  const Logs train = model.train_on_batch(x, y);
  CHECK(train.at("loss") != Approx(expected).epsilon(1e-3));
}

// ---------------------------------------------------------------------------------------------------------------
// A Model subclass without call()

namespace {

// Keras' GAN shape: the work is all in train_step, which needs neither targets nor the model's own outputs.
class CountingStep : public Model {
 public:
  CountingStep() : Model("CountingStep") { steps_ = track_metric(metrics::Mean("steps")); }
  void train_step(const Batch& batch) override { steps_->update_state(at::ones({batch.x.front().size(0)})); }

 private:
  std::shared_ptr<metrics::Mean> steps_;
};

}  // namespace

TEST_CASE("A model without call() fits through its own train_step and says what is missing otherwise",
          "[models][errors]") {
  CountingStep model;
  model.compile({.optimizer = "sgd"});
  const auto history = model.fit(at::zeros({10, 3}), {}, {.batch_size = 4, .epochs = 2, .verbose = 0});
  CHECK(history.history.at("steps") == std::vector<double>{1.0, 1.0});  // the mean of ones, per epoch
  CHECK_THROWS_WITH(model(at::zeros({2, 3})), Contains("has no call()") && Contains("call_many()"));
  CHECK_THROWS_WITH(model.fit(at::zeros({10, 3}), at::zeros({10, 1}), {.verbose = 0}), Contains("has no call()"));
}
