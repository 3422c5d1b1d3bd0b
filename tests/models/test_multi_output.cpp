// Models with several inputs and outputs, per-output losses and metrics, loss_weights, sample_weight and
// class_weight, add_loss/add_metric from inside call(), data by position and by name, and custom
// train_step/test_step. Every expected loss and metric is the formula written out here with ATen ops on the
// model's own predict() outputs (or on a forward pass written out from its weights), never the code under
// test. Names follow tf.keras 2: "<output>_loss" per output (unweighted by loss_weights),
// "<output>_<metric>", "weighted_" for a weighted metric that shares its name with an unweighted one,
// "output_<i>" for the outputs of a subclassed model, "val_" before every validation entry.

#include <ATen/ATen.h>
#include <strata/callbacks/callback.h>
#include <strata/core/error.h>
#include <strata/core/gradient_tape.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/merging.h>
#include <strata/losses/probabilistic.h>
#include <strata/metrics/mean.h>
#include <strata/models/model.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <iostream>
#include <sstream>

#include "../support/recording_callback.h"
#include "../support/tensor_checks.h"

using namespace strata;
using Catch::Matchers::Contains;
using strata::test_support::check_close;
using strata::test_support::expect_error;
using strata::test_support::rnd;

namespace {

using Names = std::vector<std::string>;

// Two inputs (in_a: 4 features, in_b: 3) joined, a tanh hidden layer, and two heads: class_out (3 logits) and
// reg_out (2 values).
// Its initial weights come from a fixed seed, so every test sees the same model whatever ran before.
std::shared_ptr<Model> two_head_model() {
  set_random_seed(61);
  auto a = Input({4}, {.name = "in_a"});
  auto b = Input({3}, {.name = "in_b"});
  auto joined = layers::Concatenate()({a, b}).front();
  auto hidden = layers::Dense(5, {.activation = "tanh", .name = "hidden"})(joined);
  auto class_out = layers::Dense(3, {.name = "class_out"})(hidden);
  auto reg_out = layers::Dense(2, {.name = "reg_out"})(hidden);
  return std::make_shared<Model>(std::vector<SymbolicTensor>{a, b},
                                 std::vector<SymbolicTensor>{class_out, reg_out}, "two_head");
}

struct Data {
  at::Tensor xa = rnd({6, 4}, 31);
  at::Tensor xb = rnd({6, 3}, 32);
  at::Tensor labels = at::tensor({0, 2, 1, 1, 0, 2}, at::kLong);
  at::Tensor yreg = rnd({6, 2}, 33);
  at::Tensor sw = at::tensor({1.0f, 0.0f, 2.0f, 0.5f, 1.0f, 3.0f});
};

losses::Spec scce() { return losses::SparseCategoricalCrossentropy({.from_logits = true}); }

// Per-sample losses written out: cross-entropy of logits, logsumexp(z) - z[label]; squared error averaged
// over the last axis.
at::Tensor scce_each(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor z = logits.to(at::kDouble);
  return at::logsumexp(z, 1) - z.gather(1, labels.unsqueeze(1)).squeeze(1);
}
at::Tensor mse_each(const at::Tensor& pred, const at::Tensor& y) {
  return (pred.to(at::kDouble) - y.to(at::kDouble)).pow(2).mean(1);
}
// Keras' "sum_over_batch_size" with sample weights: sum(w l) / samples.
double weighted_mean(const at::Tensor& each, const at::Tensor& w = {}) {
  return (w.defined() ? each * w.to(at::kDouble) : each).mean().item<double>();
}
at::Tensor correct(const at::Tensor& logits, const at::Tensor& labels) {
  return (logits.argmax(1) == labels).to(at::kDouble);
}

Names keys_of(const Logs& logs) {
  Names out;
  for (const auto& [key, value] : logs) out.push_back(key);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Per-output losses, loss_weights, sample_weight, class_weight

TEST_CASE("loss_weights by position and by name scale each output's loss in the total only",
          "[multi_output]") {
  const Data d;
  auto model = two_head_model();
  const Tensors pred = model->predict_outputs({d.xa, d.xb}, {.verbose = 0});
  REQUIRE(pred.size() == 2);
  const double cls = weighted_mean(scce_each(pred[0], d.labels));
  const double reg = weighted_mean(mse_each(pred[1], d.yreg));

  const std::vector<std::pair<std::string, PerOutput<double>>> cases = {
      {"by position", {0.5, 2.0}}, {"by name", {{"reg_out", 2.0}, {"class_out", 0.5}}}};
  for (const auto& [how, weights] : cases) {
    INFO(how);
    model->compile({.optimizer = "sgd", .loss = {scce(), "mse"}, .loss_weights = weights});
    const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.batch_size = 4, .verbose = 0});
    CHECK(keys_of(logs) == Names{"loss", "class_out_loss", "reg_out_loss"});
    CHECK(model->metrics_names() == keys_of(logs));
    CHECK(logs.at("loss") == Approx(0.5 * cls + 2.0 * reg).epsilon(1e-5));
    CHECK(logs.at("class_out_loss") == Approx(cls).epsilon(1e-5));  // per-output entries are unweighted
    CHECK(logs.at("reg_out_loss") == Approx(reg).epsilon(1e-5));
  }

  // An output left out of the map weighs 1; losses by name too.
  model->compile({.optimizer = "sgd",
                  .loss = {{"class_out", scce()}, {"reg_out", "mse"}},
                  .loss_weights = {{"reg_out", 3.0}}});
  const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0});
  CHECK(logs.at("loss") == Approx(cls + 3.0 * reg).epsilon(1e-5));

  // The weights scale the gradient too: a weight of 0 leaves class_out's head untrained, and the step on the
  // shared hidden layer with weights (0, 2) is twice the step with (0, 1).
  const auto w0 = model->get_weights();
  std::vector<std::vector<at::Tensor>> hidden_steps;
  for (double reg_weight : {1.0, 2.0}) {
    model->set_weights(w0);
    model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
                    .loss = {scce(), "mse"},
                    .loss_weights = {0.0, reg_weight}});
    model->fit({d.xa, d.xb}, {d.labels, d.yreg}, {.batch_size = 6, .verbose = 0});
    const auto hidden = model->get_layer("hidden")->get_weights();
    hidden_steps.push_back({hidden[0], hidden[1]});
  }
  model->set_weights(w0);
  const auto hidden0 = model->get_layer("hidden")->get_weights();
  const auto class0 = model->get_layer("class_out")->get_weights();
  check_close(hidden_steps[1][0] - hidden0[0], 2.0 * (hidden_steps[0][0] - hidden0[0]), 1e-6);
  CHECK(test_support::max_abs_difference(hidden_steps[0][0], hidden0[0]) > 1e-4);
  model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
                  .loss = {scce(), "mse"},
                  .loss_weights = {0.0, 1.0}});
  model->fit({d.xa, d.xb}, {d.labels, d.yreg}, {.batch_size = 6, .verbose = 0});
  CHECK(at::equal(model->get_layer("class_out")->get_weights()[0], class0[0]));
  model->set_weights(w0);

  // Without loss_weights the total is the plain sum.
  model->compile({.optimizer = "sgd", .loss = {scce(), "mse"}});
  CHECK(model->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0}).at("loss") ==
        Approx(cls + reg).epsilon(1e-5));
}

TEST_CASE("sample_weight: one tensor for every output, one per output by position or by name",
          "[multi_output]") {
  const Data d;
  auto model = two_head_model();
  model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
                  .loss = {scce(), "mse"},
                  .loss_weights = {0.5, 2.0}});
  const Tensors pred = model->predict_outputs({d.xa, d.xb}, {.verbose = 0});
  const at::Tensor l_cls = scce_each(pred[0], d.labels);
  const at::Tensor l_reg = mse_each(pred[1], d.yreg);
  const at::Tensor other = at::tensor({0.5f, 1.5f, 1.0f, 0.0f, 2.0f, 1.0f});

  SECTION("one tensor applies to both outputs") {
    const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg},
                                      {.batch_size = 4, .verbose = 0, .sample_weight = d.sw});
    CHECK(logs.at("class_out_loss") == Approx(weighted_mean(l_cls, d.sw)).epsilon(1e-5));
    CHECK(logs.at("reg_out_loss") == Approx(weighted_mean(l_reg, d.sw)).epsilon(1e-5));
    CHECK(logs.at("loss") ==
          Approx(0.5 * weighted_mean(l_cls, d.sw) + 2.0 * weighted_mean(l_reg, d.sw)).epsilon(1e-5));
    // fit's training loss (learning rate 0, one batch) sees the same weights.
    auto history =
        model->fit({d.xa, d.xb}, {d.labels, d.yreg}, {.batch_size = 6, .verbose = 0, .sample_weight = d.sw});
    CHECK(history.history.at("loss").at(0) == Approx(logs.at("loss")).epsilon(1e-5));
    CHECK(history.history.at("reg_out_loss").at(0) == Approx(logs.at("reg_out_loss")).epsilon(1e-5));
  }

  SECTION("one per output, by position") {
    const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg},
                                      {.verbose = 0, .sample_weight = ModelData{d.sw, other}});
    CHECK(logs.at("class_out_loss") == Approx(weighted_mean(l_cls, d.sw)).epsilon(1e-5));
    CHECK(logs.at("reg_out_loss") == Approx(weighted_mean(l_reg, other)).epsilon(1e-5));
  }

  SECTION("by name; an output left out is unweighted") {
    const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg},
                                      {.verbose = 0, .sample_weight = ModelData{{"reg_out", other}}});
    CHECK(logs.at("class_out_loss") == Approx(weighted_mean(l_cls)).epsilon(1e-5));
    CHECK(logs.at("reg_out_loss") == Approx(weighted_mean(l_reg, other)).epsilon(1e-5));
    CHECK(logs.at("loss") ==
          Approx(0.5 * weighted_mean(l_cls) + 2.0 * weighted_mean(l_reg, other)).epsilon(1e-5));
  }

  SECTION("zero weights on one output: its head gets no gradient") {
    model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.5}), .loss = {scce(), "mse"}});
    const auto reg_before = model->get_layer("reg_out")->get_weights();
    const auto cls_before = model->get_layer("class_out")->get_weights();
    model->fit({d.xa, d.xb}, {d.labels, d.yreg},
               {.batch_size = 6, .verbose = 0, .sample_weight = ModelData{{"reg_out", at::zeros({6})}}});
    CHECK(at::equal(model->get_layer("reg_out")->get_weights()[0], reg_before[0]));
    CHECK_FALSE(at::equal(model->get_layer("class_out")->get_weights()[0], cls_before[0]));
  }

  SECTION("errors name the output") {
    expect_error<Error>(
        [&] {
          model->evaluate({d.xa, d.xb}, {d.labels, d.yreg},
                          {.verbose = 0, .sample_weight = ModelData{{"nope", d.sw}}});
        },
        {"sample_weight", "nope", "class_out, reg_out"});
    expect_error<Error>(
        [&] {
          model->evaluate({d.xa, d.xb}, {d.labels, d.yreg},
                          {.verbose = 0, .sample_weight = ModelData{{"reg_out", at::ones({6, 2})}}});
        },
        {"sample_weight", "reg_out", "[6, 2]"});
  }
}

TEST_CASE("class_weight weighs each training sample by its class, for sparse and one-hot labels",
          "[multi_output]") {
  const Data d;
  const std::map<int64_t, double> class_weight = {{0, 2.0}, {2, 0.5}};  // class 1 left out: weight 1
  const at::Tensor per_sample =
      at::tensor({2.0, 0.5, 1.0, 1.0, 2.0, 0.5}, at::kDouble);  // for labels 0 2 1 1 0 2

  for (bool one_hot : {false, true}) {
    INFO((one_hot ? "one-hot" : "sparse"));
    auto x = Input({4});
    Model model(x, layers::Dense(3, {.name = "class_out"})(x));
    const at::Tensor y = one_hot ? at::one_hot(d.labels, 3).to(at::kFloat) : d.labels;
    const losses::Spec loss =
        one_hot ? losses::Spec(losses::CategoricalCrossentropy({.from_logits = true})) : scce();
    model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}), .loss = loss});
    const at::Tensor l = scce_each(model.predict(d.xa, {.verbose = 0}), d.labels);

    auto history = model.fit(
        d.xa, y, {.batch_size = 4, .verbose = 0, .validation_data = {d.xa, y}, .class_weight = class_weight});
    CHECK(history.history.at("loss").at(0) == Approx(weighted_mean(l, per_sample)).epsilon(1e-5));
    // Keras applies class_weight to training only.
    CHECK(history.history.at("val_loss").at(0) == Approx(weighted_mean(l)).epsilon(1e-5));

    // With sample_weight too, the two multiply.
    auto both = model.fit(
        d.xa, y, {.batch_size = 6, .verbose = 0, .class_weight = class_weight, .sample_weight = d.sw});
    CHECK(both.history.at("loss").at(0) ==
          Approx(weighted_mean(l, per_sample * d.sw.to(at::kDouble))).epsilon(1e-5));

    // The gradient follows: a step with class_weight equals a step with the same weights as sample_weight.
    auto twin_in = Input({4});
    Model twin(twin_in, layers::Dense(3)(twin_in));
    twin.set_weights(model.get_weights());
    model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.3}), .loss = loss});
    twin.compile({.optimizer = optimizers::SGD({.learning_rate = 0.3}), .loss = loss});
    model.fit(d.xa, y, {.batch_size = 6, .verbose = 0, .class_weight = class_weight});
    twin.fit(d.xa, y, {.batch_size = 6, .verbose = 0, .sample_weight = per_sample.to(at::kFloat)});
    check_close(model.get_weights()[0], twin.get_weights()[0], 1e-6);
    CHECK_FALSE(at::allclose(model.get_weights()[0], model.get_weights()[0].new_zeros({4, 3})));
  }

  SECTION("a multi-output model rejects class_weight") {
    auto model = two_head_model();
    model->compile({.optimizer = "sgd", .loss = {scce(), "mse"}});
    expect_error<ValueError>(
        [&] {
          model->fit({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0, .class_weight = class_weight});
        },
        {"class_weight", "single output"});
    CHECK(model->optimizer().iterations() == 0);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics per output and Keras' names

TEST_CASE("a metric per output by name; metrics ignore sample_weight, weighted_metrics use it",
          "[multi_output]") {
  const Data d;
  auto model = two_head_model();
  const Tensors pred = model->predict_outputs({d.xa, d.xb}, {.verbose = 0});
  const at::Tensor hits = correct(pred[0], d.labels);
  const double plain = hits.mean().item<double>();
  const double weighted = (hits * d.sw.to(at::kDouble)).sum().item<double>() / d.sw.sum().item<double>();
  REQUIRE(plain != Approx(weighted));  // the data tell the two apart

  model->compile({.optimizer = "sgd",
                  .loss = {scce(), "mse"},
                  .metrics = {{"class_out", {"accuracy"}}},
                  .weighted_metrics = {{"class_out", {"accuracy"}}}});
  CHECK(model->metrics_names() ==
        Names{"loss", "class_out_loss", "reg_out_loss", "class_out_accuracy", "class_out_weighted_accuracy"});
  const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg},
                                    {.batch_size = 4, .verbose = 0, .sample_weight = d.sw});
  CHECK(keys_of(logs) == model->metrics_names());
  CHECK(logs.at("class_out_accuracy") == Approx(plain));
  CHECK(logs.at("class_out_weighted_accuracy") == Approx(weighted));

  SECTION("a weighted metric alone keeps its name") {
    model->compile(
        {.optimizer = "sgd", .loss = {scce(), "mse"}, .weighted_metrics = {{"class_out", {"accuracy"}}}});
    const Logs alone =
        model->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0, .sample_weight = d.sw});
    CHECK(keys_of(alone) == Names{"loss", "class_out_loss", "reg_out_loss", "class_out_accuracy"});
    CHECK(alone.at("class_out_accuracy") == Approx(weighted));
  }

  SECTION("a single-output model: \"accuracy\" and \"weighted_accuracy\"") {
    auto x = Input({4});
    Model single(x, layers::Dense(3)(x));
    single.compile(
        {.optimizer = "sgd", .loss = scce(), .metrics = {"accuracy"}, .weighted_metrics = {"accuracy"}});
    const at::Tensor single_hits = correct(single.predict(d.xa, {.verbose = 0}), d.labels);
    const Logs one = single.evaluate(d.xa, d.labels, {.verbose = 0, .sample_weight = d.sw});
    CHECK(keys_of(one) == Names{"loss", "accuracy", "weighted_accuracy"});
    CHECK(single.metrics_names() == keys_of(one));
    CHECK(one.at("accuracy") == Approx(single_hits.mean().item<double>()));
    CHECK(one.at("weighted_accuracy") ==
          Approx((single_hits * d.sw.to(at::kDouble)).sum().item<double>() / d.sw.sum().item<double>()));
  }
}

TEST_CASE("History and evaluate use Keras 2's names: output layer names, val_ entries, metrics_names order",
          "[multi_output]") {
  const Data d;
  auto model = two_head_model();
  model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
                  .loss = {scce(), "mse"},
                  .metrics = {{"class_out", {"accuracy"}}}});
  const Names names = {"loss", "class_out_loss", "reg_out_loss", "class_out_accuracy"};
  CHECK(model->metrics_names() == names);  // known from compile() before any data
  auto recorder = std::make_shared<testing::Recorder>();
  auto history = model->fit({d.xa, d.xb}, {d.labels, d.yreg},
                            {.batch_size = 4,
                             .epochs = 2,
                             .verbose = 0,
                             .callbacks = {recorder},
                             .validation_data = {{d.xa, d.xb}, {d.labels, d.yreg}}});
  CHECK(model->metrics_names() == names);
  Names with_val = names;
  for (const auto& name : names) with_val.push_back("val_" + name);
  REQUIRE(recorder->epoch_logs.size() == 2);
  CHECK(keys_of(recorder->epoch_logs[0]) == with_val);
  for (const auto& key : with_val) CHECK(history.history.at(key).size() == 2);
  CHECK(history.history.size() == with_val.size());

  // Learning rate 0: every value is the hand-computed one on the fixed weights.
  const Tensors pred = model->predict_outputs({d.xa, d.xb}, {.verbose = 0});
  const double cls = weighted_mean(scce_each(pred[0], d.labels));
  const double reg = weighted_mean(mse_each(pred[1], d.yreg));
  const double accuracy = correct(pred[0], d.labels).mean().item<double>();
  for (const std::string prefix : {"", "val_"}) {
    INFO(prefix);
    CHECK(history.history.at(prefix + "loss").at(1) == Approx(cls + reg).epsilon(1e-5));
    CHECK(history.history.at(prefix + "class_out_loss").at(1) == Approx(cls).epsilon(1e-5));
    CHECK(history.history.at(prefix + "reg_out_loss").at(1) == Approx(reg).epsilon(1e-5));
    CHECK(history.history.at(prefix + "class_out_accuracy").at(1) == Approx(accuracy));
  }
  const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0});
  CHECK(keys_of(logs) == names);
}

namespace {

// A subclassed model with two outputs: output_1 regresses (2 values), output_2 classifies (3 logits).
class TwoOutputs : public Model {
 public:
  TwoOutputs() : Model("TwoOutputs") {
    hidden_ = track(layers::Dense(5, {.activation = "tanh"}));
    reg_ = track(layers::Dense(2));
    cls_ = track(layers::Dense(3));
  }
  Tensors call_many(const Tensors& inputs, const Tensors&, bool training) override {
    const at::Tensor h = (*hidden_)(inputs.at(0), training);
    return {(*reg_)(h, training), (*cls_)(h, training)};
  }

 private:
  std::shared_ptr<layers::Dense> hidden_, reg_, cls_;
};

}  // namespace

TEST_CASE("a subclassed multi-output model names its outputs output_1, output_2", "[multi_output]") {
  const Data d;
  TwoOutputs model;
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
                 .loss = {"mse", scce()},
                 .metrics = {{"output_2", {"accuracy"}}}});
  auto history =
      model.fit(d.xa, {d.yreg, d.labels},
                {.batch_size = 4, .epochs = 1, .verbose = 0, .validation_data = {d.xa, {d.yreg, d.labels}}});
  const Names names = {"loss", "output_1_loss", "output_2_loss", "output_2_accuracy"};
  CHECK(model.output_names() == Names{"output_1", "output_2"});
  CHECK(model.metrics_names() == names);
  for (const auto& name : names) {
    CHECK(history.history.count(name) == 1);
    CHECK(history.history.count("val_" + name) == 1);
  }
  const Tensors pred = model.predict_outputs(d.xa, {.verbose = 0});
  REQUIRE(pred.size() == 2);
  const double reg = weighted_mean(mse_each(pred[0], d.yreg));
  const double cls = weighted_mean(scce_each(pred[1], d.labels));
  CHECK(history.history.at("output_1_loss").at(0) == Approx(reg).epsilon(1e-5));
  CHECK(history.history.at("val_output_2_loss").at(0) == Approx(cls).epsilon(1e-5));
  CHECK(history.history.at("val_output_2_accuracy").at(0) ==
        Approx(correct(pred[1], d.labels).mean().item<double>()));
  // y by name uses the same names.
  const Logs by_name = model.evaluate(d.xa, {{"output_2", d.labels}, {"output_1", d.yreg}}, {.verbose = 0});
  CHECK(keys_of(by_name) == names);
  CHECK(by_name.at("loss") == Approx(reg + cls).epsilon(1e-5));
}

// ---------------------------------------------------------------------------------------------------------------
// Data by position and by name

TEST_CASE("x and y by position and by name train identically", "[multi_output]") {
  const Data d;
  auto by_position = two_head_model();
  auto by_name = two_head_model();
  by_name->set_weights(by_position->get_weights());
  for (auto& model : {by_position, by_name})
    model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
                    .loss = {scce(), "mse"},
                    .metrics = {{"class_out", {"accuracy"}}}});

  const FitOptions options = {.batch_size = 4, .epochs = 2, .verbose = 0, .shuffle = false};
  auto h1 = by_position->fit({d.xa, d.xb}, {d.labels, d.yreg}, options);
  auto h2 =
      by_name->fit({{"in_b", d.xb}, {"in_a", d.xa}}, {{"reg_out", d.yreg}, {"class_out", d.labels}}, options);
  CHECK(h1.history == h2.history);
  const auto w1 = by_position->get_weights(), w2 = by_name->get_weights();
  REQUIRE(w1.size() == w2.size());
  for (size_t i = 0; i < w1.size(); ++i) CHECK(at::equal(w1[i], w2[i]));

  const Tensors p1 = by_position->predict_outputs({d.xa, d.xb}, {.verbose = 0});
  const Tensors p2 = by_name->predict_outputs({{"in_a", d.xa}, {"in_b", d.xb}}, {.verbose = 0});
  CHECK(at::equal(p1[0], p2[0]));
  CHECK(at::equal(p1[1], p2[1]));
  const Logs e1 = by_position->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0});
  const Logs e2 = by_name->evaluate({{"in_a", d.xa}, {"in_b", d.xb}},
                                    {{"class_out", d.labels}, {"reg_out", d.yreg}}, {.verbose = 0});
  CHECK(keys_of(e1) == keys_of(e2));
  for (const auto& [key, value] : e1) CHECK(e2.at(key) == value);
}

TEST_CASE("wrong data for a multi-input model gives a clear strata::Error", "[multi_output][errors]") {
  const Data d;
  auto model = two_head_model();
  model->compile({.optimizer = "sgd", .loss = {scce(), "mse"}});
  const ModelData y = {d.labels, d.yreg};
  auto fit = [&](const ModelData& x, const ModelData& targets) { model->fit(x, targets, {.verbose = 0}); };

  expect_error<ValueError>([&] { fit({d.xa}, y); },
                           {"two_head", "fit()", "expected 2", "x", "in_a, in_b", "got 1"});
  expect_error<ValueError>(
      [&] {
        fit({d.xa, d.xb}, {d.labels});
      },
      {"expected 2", "y", "class_out, reg_out", "got 1"});
  expect_error<ValueError>([&] { fit({{"in_a", d.xa}, {"in_c", d.xb}}, y); }, {"x", "'in_c'", "in_a, in_b"});
  expect_error<ValueError>([&] { fit({{"in_a", d.xa}}, y); }, {"x", "no entry for 'in_b'"});
  expect_error<ValueError>([&] { fit({d.xa, d.xb}, {{"class_out", d.labels}}); }, {"reg_out", "no target"});
  expect_error<ValueError>(
      [&] {
        fit({d.xa, d.xb}, {{"class_out", d.labels}, {"box_out", d.yreg}});
      },
      {"y", "'box_out'"});
  // Mismatched sample counts name the tensors.
  expect_error<ShapeError>([&] { fit({d.xa, d.xb.narrow(0, 0, 5)}, y); }, {"x[0]", "x[1]", "in_b", "6", "5"});
  expect_error<ShapeError>(
      [&] {
        fit({d.xa, d.xb}, {d.labels, d.yreg.narrow(0, 0, 4)});
      },
      {"y[1]", "reg_out", "6", "4"});
  // Per-output compile options that do not match the outputs.
  model->compile({.optimizer = "sgd", .loss = {scce(), "mse", "mse"}});
  expect_error<ValueError>([&] { fit({d.xa, d.xb}, y); }, {"loss", "3 entries", "2 outputs"});
  model->compile({.optimizer = "sgd", .loss = {scce(), "mse"}, .loss_weights = {{"box_out", 2.0}}});
  expect_error<ValueError>(
      [&] {
        fit({d.xa, d.xb}, y);
      },
      {"loss_weights", "'box_out'", "class_out, reg_out"});
  model->compile({.optimizer = "sgd", .loss = {scce(), "mse"}, .metrics = {{"box_out", {"accuracy"}}}});
  expect_error<ValueError>([&] { fit({d.xa, d.xb}, y); }, {"metrics", "'box_out'"});
  // predict() is for one output.
  expect_error<ValueError>([&] { model->predict({d.xa, d.xb}, {.verbose = 0}); }, {"predict_outputs"});
}

// ---------------------------------------------------------------------------------------------------------------
// add_loss and add_metric from inside call()

namespace {

// Penalises its input's activity (rate * sum(x^2) / batch) and reports two metrics: the batch's mean |x| as
// one value, and each sample's mean |x| as a value per sample.
class ActivityProbe : public Layer {
 public:
  explicit ActivityProbe(double rate) : Layer("ActivityProbe"), rate_(rate) {}
  at::Tensor call(const at::Tensor& inputs, bool) override {
    add_loss(rate_ * inputs.pow(2).sum() / static_cast<double>(inputs.size(0)));
    add_metric(inputs.abs().mean(), "activity");
    add_metric(inputs.abs().mean(1), "activity_per_sample");
    return inputs;
  }

 private:
  double rate_;
};

class Probed : public Model {
 public:
  Probed() : Model("Probed") {
    hidden_ = track(layers::Dense(3));
    probe_ = track(ActivityProbe(0.1));
    head_ = track(layers::Dense(2));
  }
  at::Tensor call(const at::Tensor& inputs, bool training) override {
    return (*head_)((*probe_)((*hidden_)(inputs, training), training), training);
  }

 private:
  std::shared_ptr<layers::Dense> hidden_, head_;
  std::shared_ptr<ActivityProbe> probe_;
};

}  // namespace

TEST_CASE("add_metric values reach History as Keras' Mean averages them; add_loss joins the loss",
          "[multi_output]") {
  const at::Tensor x = rnd({5, 4}, 41), y = rnd({5, 2}, 42);
  Probed model;
  model(x);
  const auto w = model.get_weights();  // hidden kernel, bias, head kernel, bias
  REQUIRE(w.size() == 4);
  const at::Tensor h = at::matmul(x, w[0]) + w[1];
  const at::Tensor out = at::matmul(h, w[2]) + w[3];
  // Batches of 2, 2, 1 (shuffle off): a scalar add_metric counts once per batch, a per-sample one per sample.
  const double per_batch =
      (h.narrow(0, 0, 2).abs().mean() + h.narrow(0, 2, 2).abs().mean() + h.narrow(0, 4, 1).abs().mean())
          .item<double>() /
      3.0;
  const double per_sample = h.abs().mean().item<double>();
  // loss per batch = mse + 0.1 sum(h^2) / batch; the epoch weighs batches by their size.
  const double loss = weighted_mean(mse_each(out, y)) + 0.1 * h.pow(2).sum().item<double>() / 5.0;

  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}), .loss = "mse"});
  auto history = model.fit(
      x, y, {.batch_size = 2, .epochs = 1, .verbose = 0, .validation_data = {x, y}, .shuffle = false});
  CHECK(model.metrics_names() == Names{"loss", "activity", "activity_per_sample"});
  CHECK(history.history.at("activity").at(0) == Approx(per_batch).epsilon(1e-5));
  CHECK(history.history.at("activity_per_sample").at(0) == Approx(per_sample).epsilon(1e-5));
  CHECK(history.history.at("loss").at(0) == Approx(loss).epsilon(1e-5));
  CHECK(history.history.at("val_activity").at(0) == Approx(per_batch).epsilon(1e-5));
  CHECK(history.history.at("val_loss").at(0) == Approx(loss).epsilon(1e-5));
  const Logs logs = model.evaluate(x, y, {.batch_size = 5, .verbose = 0});
  CHECK(keys_of(logs) == model.metrics_names());
  CHECK(logs.at("activity") == Approx(per_sample).epsilon(1e-5));  // one batch

  // The added loss shapes the gradient: one SGD step against autograd of the loss written out.
  std::vector<at::Tensor> v;
  for (const auto& t : w) v.push_back(t.to(at::kDouble).requires_grad_(true));
  const at::Tensor hv = at::matmul(x.to(at::kDouble), v[0]) + v[1];
  const at::Tensor ov = at::matmul(hv, v[2]) + v[3];
  ((ov - y.to(at::kDouble)).pow(2).mean() + 0.1 * hv.pow(2).sum() / 5.0).backward();
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.2}), .loss = "mse"});
  const Logs step = model.train_on_batch(x, y);
  CHECK(step.at("loss") == Approx(loss).epsilon(1e-5));
  CHECK(step.at("activity") == Approx(per_sample).epsilon(1e-5));
  const auto after = model.get_weights();
  for (size_t i = 0; i < 4; ++i) {
    INFO("weight " << i);
    check_close(after[i], v[i].detach() - 0.2 * v[i].grad(), 1e-5);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Custom train_step / test_step

namespace {

// Keras' "customizing what happens in fit()": its own loss (mse plus penalty * sum(kernel^2)), its own
// trackers, a GradientTape step; compiled without a loss.
class CustomStep : public Model {
 public:
  explicit CustomStep(double penalty) : Model("CustomStep"), penalty_(penalty) {
    dense_ = track(layers::Dense(1));
    loss_tracker_ = track_metric(metrics::Mean("loss"));
    mae_tracker_ = track_metric(metrics::Mean("mae"));
  }
  at::Tensor call(const at::Tensor& inputs, bool training) override { return (*dense_)(inputs, training); }

  void train_step(const Batch& batch) override {
    const auto weights = trainable_weights();
    GradientTape tape;
    const at::Tensor pred = (*this)(batch.x.at(0), true);
    const at::Tensor error = pred - batch.y.at(0);
    const at::Tensor loss = error.pow(2).mean() + penalty_ * dense_->kernel().pow(2).sum();
    optimizer().apply(tape.gradient(loss, weights), weights);
    loss_tracker_->update_state(loss.detach());
    mae_tracker_->update_state(error.abs().detach());
  }
  void test_step(const Batch& batch) override {
    const at::Tensor error = (*this)(batch.x.at(0), false) - batch.y.at(0);
    loss_tracker_->update_state(error.pow(2).mean());
    mae_tracker_->update_state(error.abs());
  }

 private:
  double penalty_;
  std::shared_ptr<layers::Dense> dense_;
  std::shared_ptr<metrics::Mean> loss_tracker_, mae_tracker_;
};

// Needs no targets: learns to reproduce its input (loss = mean((f(x) - x)^2)).
class Reconstructor : public Model {
 public:
  Reconstructor() : Model("Reconstructor") {
    dense_ = track(layers::Dense(3));
    loss_tracker_ = track_metric(metrics::Mean("reconstruction_loss"));
  }
  at::Tensor call(const at::Tensor& inputs, bool training) override { return (*dense_)(inputs, training); }
  void train_step(const Batch& batch) override {
    saw_targets = saw_targets || !batch.y.empty();
    const auto weights = trainable_weights();
    GradientTape tape;
    const at::Tensor loss = ((*this)(batch.x.at(0), true) - batch.x.at(0)).pow(2).mean();
    optimizer().apply(tape.gradient(loss, weights), weights);
    loss_tracker_->update_state(loss.detach());
  }
  void test_step(const Batch& batch) override {
    loss_tracker_->update_state(((*this)(batch.x.at(0), false) - batch.x.at(0)).pow(2).mean());
  }
  bool saw_targets = false;

 private:
  std::shared_ptr<layers::Dense> dense_;
  std::shared_ptr<metrics::Mean> loss_tracker_;
};

}  // namespace

TEST_CASE("an overridden train_step keeps callbacks, progress, trackers and validation",
          "[multi_output][train_step]") {
  const at::Tensor x = rnd({8, 2}, 51), y = rnd({8, 1}, 52);
  const double penalty = 0.3, lr = 0.1;
  CustomStep model(penalty);
  model(x);
  const auto w = model.get_weights();
  model.compile({.optimizer = optimizers::SGD({.learning_rate = lr})});
  CHECK(model.metrics_names() == Names{"loss", "mae"});

  SECTION("one step over the whole batch follows the custom loss's gradient") {
    // d/dW [mean((xW + b - y)^2) + p sum(W^2)] = 2/N x^T e + 2 p W; d/db = 2/N sum(e).
    const at::Tensor e = at::matmul(x, w[0]) + w[1] - y;
    const at::Tensor grad_w = 2.0 / 8.0 * at::matmul(x.t(), e) + 2.0 * penalty * w[0];
    const at::Tensor grad_b = 2.0 / 8.0 * e.sum(0);
    auto history = model.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .shuffle = false});
    check_close(model.get_weights()[0], w[0] - lr * grad_w, 1e-6);
    check_close(model.get_weights()[1], w[1] - lr * grad_b, 1e-6);
    const double expected_loss = (e.pow(2).mean() + penalty * w[0].pow(2).sum()).item<double>();
    CHECK(history.history.at("loss").at(0) == Approx(expected_loss).epsilon(1e-5));
    CHECK(history.history.at("mae").at(0) == Approx(e.abs().mean().item<double>()).epsilon(1e-5));
  }

  SECTION("callbacks, verbose output and val_ entries from test_step") {
    auto recorder = std::make_shared<testing::Recorder>(/*want_batch_logs=*/true);
    // verbose=2 prints one line per epoch to std::cout, captured here.
    std::ostringstream progress;
    std::streambuf* const console = std::cout.rdbuf(progress.rdbuf());
    callbacks::History history;
    try {
      history = model.fit(x, y,
                          {.batch_size = 4,
                           .epochs = 2,
                           .verbose = 2,
                           .callbacks = {recorder},
                           .validation_data = {x, y},
                           .shuffle = false});
    } catch (...) {
      std::cout.rdbuf(console);
      throw;
    }
    std::cout.rdbuf(console);
    INFO(progress.str());
    const std::vector<std::string> expected = {
        "train_begin",        "epoch_begin:0",      "batch_begin:0",      "batch_end:0",
        "batch_begin:1",      "batch_end:1",        "test_begin",         "test_batch_begin:0",
        "test_batch_end:0",   "test_batch_begin:1", "test_batch_end:1",   "test_end",
        "epoch_end:0",        "epoch_begin:1",      "batch_begin:0",      "batch_end:0",
        "batch_begin:1",      "batch_end:1",        "test_begin",         "test_batch_begin:0",
        "test_batch_end:0",   "test_batch_begin:1", "test_batch_end:1",   "test_end",
        "epoch_end:1",        "train_end"};
    CHECK(recorder->events == expected);
    REQUIRE(recorder->batch_logs.size() == 4);
    CHECK(keys_of(recorder->batch_logs[0]) == Names{"loss", "mae"});
    REQUIRE(recorder->epoch_logs.size() == 2);
    CHECK(keys_of(recorder->epoch_logs[1]) == Names{"loss", "mae", "val_loss", "val_mae"});
    CHECK(history.history.at("val_mae").size() == 2);
    CHECK_THAT(progress.str(), Contains("mae:") && Contains("val_mae:"));
    // The validation values are test_step's on the final weights (two equal batches of 4).
    const at::Tensor e = model.predict(x, {.verbose = 0}) - y;
    CHECK(history.history.at("val_loss").back() == Approx(e.pow(2).mean().item<double>()).epsilon(1e-5));
    CHECK(history.history.at("val_mae").back() == Approx(e.abs().mean().item<double>()).epsilon(1e-5));
    const Logs logs = model.evaluate(x, y, {.batch_size = 3, .verbose = 0});
    CHECK(keys_of(logs) == Names{"loss", "mae"});
    CHECK(logs.at("mae") == Approx(e.abs().mean().item<double>()).epsilon(1e-5));
  }
}

TEST_CASE("a model compiled without a loss whose train_step needs no targets fits on x alone",
          "[multi_output][train_step]") {
  const at::Tensor x = rnd({6, 3}, 53);
  Reconstructor model;
  model(x);
  const auto w = model.get_weights();
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1})});
  auto history = model.fit(x, {}, {.batch_size = 6, .epochs = 1, .verbose = 0});
  CHECK_FALSE(model.saw_targets);
  // d/dW mean((xW + b - x)^2) = 2/(N*3) x^T e, d/db = 2/(N*3) sum(e).
  const at::Tensor e = at::matmul(x, w[0]) + w[1] - x;
  check_close(model.get_weights()[0], w[0] - 0.1 * (2.0 / 18.0) * at::matmul(x.t(), e), 1e-6);
  check_close(model.get_weights()[1], w[1] - 0.1 * (2.0 / 18.0) * e.sum(0), 1e-6);
  CHECK(history.history.at("reconstruction_loss").at(0) ==
        Approx(e.pow(2).mean().item<double>()).epsilon(1e-5));
  CHECK(history.history.count("loss") == 0);
  CHECK(model.evaluate(x, {}, {.verbose = 0}).contains("reconstruction_loss"));
}

TEST_CASE(
    "per-output options before the outputs are known, metrics by position, compute_loss in a custom step",
    "[multi_output]") {
  const Data d;

  SECTION("a subclassed multi-output model reports its names once it has seen data") {
    TwoOutputs model;
    model.compile({.optimizer = "sgd",
                   .loss = {"mse", scce()},
                   .metrics = std::vector<std::vector<metrics::Spec>>{{}, {"accuracy"}}});
    CHECK_NOTHROW(model.metrics_names());
    model.evaluate(d.xa, {d.yreg, d.labels}, {.verbose = 0});
    CHECK(model.metrics_names() == Names{"loss", "output_1_loss", "output_2_loss", "output_2_accuracy"});
  }

  SECTION("metrics by position take a vector of lists") {
    auto model = two_head_model();
    model->compile({.optimizer = "sgd",
                    .loss = {scce(), "mse"},
                    .metrics = std::vector<std::vector<metrics::Spec>>{{"accuracy"}, {}}});
    const Logs logs = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0});
    CHECK(keys_of(logs) == Names{"loss", "class_out_loss", "reg_out_loss", "class_out_accuracy"});
    const Tensors pred = model->predict_outputs({d.xa, d.xb}, {.verbose = 0});
    CHECK(logs.at("class_out_accuracy") == Approx(correct(pred[0], d.labels).mean().item<double>()));
  }
}

namespace {

// The guide's other form: the compiled loss through compute_loss(), plus a term of its own (l1 on the kernel)
// that changes the gradient but not the tracked "loss" (tf.keras 2's compiled loss tracks itself).
class ExtraTerm : public Model {
 public:
  explicit ExtraTerm(double l1) : Model("ExtraTerm"), l1_(l1) { dense_ = track(layers::Dense(1)); }
  at::Tensor call(const at::Tensor& inputs, bool training) override { return (*dense_)(inputs, training); }
  void train_step(const Batch& batch) override {
    const auto weights = trainable_weights();
    GradientTape tape;
    Tensors y_pred = apply(batch.x, {}, true);
    const at::Tensor loss = compute_loss(batch, y_pred) + l1_ * dense_->kernel().abs().sum();
    optimizer().apply(tape.gradient(loss, weights), weights);
    compute_metrics(batch, y_pred);
  }

 private:
  double l1_;
  std::shared_ptr<layers::Dense> dense_;
};

}  // namespace

TEST_CASE("a custom train_step can add a term to compute_loss()", "[multi_output][train_step]") {
  const at::Tensor x = rnd({6, 2}, 54), y = rnd({6, 1}, 55);
  ExtraTerm model(0.25);
  model(x);
  const auto w = model.get_weights();
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  auto history = model.fit(x, y, {.batch_size = 6, .verbose = 0});
  // d/dW [mean(e^2) + 0.25 sum|W|] = 2/N x^T e + 0.25 sign(W); d/db = 2/N sum(e).
  const at::Tensor e = at::matmul(x, w[0]) + w[1] - y;
  check_close(model.get_weights()[0], w[0] - 0.1 * (2.0 / 6.0 * at::matmul(x.t(), e) + 0.25 * at::sign(w[0])),
              1e-6);
  check_close(model.get_weights()[1], w[1] - 0.1 * (2.0 / 6.0) * e.sum(0), 1e-6);
  CHECK(history.history.at("loss").at(0) == Approx(e.pow(2).mean().item<double>()).epsilon(1e-5));
}

TEST_CASE(
    "validation for several inputs: validation_split slices every tensor, validation_data takes weights",
    "[multi_output]") {
  const Data d;
  auto model = two_head_model();
  model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
                  .loss = {scce(), "mse"},
                  .weighted_metrics = {{"class_out", {"accuracy"}}}});
  const Tensors pred = model->predict_outputs({d.xa, d.xb}, {.verbose = 0});
  const at::Tensor l_cls = scce_each(pred[0], d.labels), l_reg = mse_each(pred[1], d.yreg);

  // The last 2 of 6 samples validate.
  auto split = model->fit({d.xa, d.xb}, {d.labels, d.yreg},
                          {.batch_size = 6, .verbose = 0, .validation_split = 1.0 / 3.0});
  CHECK(split.history.at("val_class_out_loss").at(0) ==
        Approx(weighted_mean(l_cls.narrow(0, 4, 2))).epsilon(1e-5));
  CHECK(split.history.at("class_out_loss").at(0) ==
        Approx(weighted_mean(l_cls.narrow(0, 0, 4))).epsilon(1e-5));
  CHECK(split.history.at("val_reg_out_loss").at(0) ==
        Approx(weighted_mean(l_reg.narrow(0, 4, 2))).epsilon(1e-5));

  auto given = model->fit(
      {d.xa, d.xb}, {d.labels, d.yreg},
      {.batch_size = 6, .verbose = 0, .validation_data = {{d.xa, d.xb}, {d.labels, d.yreg}, d.sw}});
  CHECK(given.history.at("val_reg_out_loss").at(0) == Approx(weighted_mean(l_reg, d.sw)).epsilon(1e-5));
  CHECK(given.history.at("reg_out_loss").at(0) == Approx(weighted_mean(l_reg)).epsilon(1e-5));
  const at::Tensor hits = correct(pred[0], d.labels);
  CHECK(given.history.at("val_class_out_accuracy").at(0) ==
        Approx((hits * d.sw.to(at::kDouble)).sum().item<double>() / d.sw.sum().item<double>()));
  CHECK(given.history.at("class_out_accuracy").at(0) == Approx(hits.mean().item<double>()));
}

TEST_CASE("sample_weight of shape (samples, 1) weighs like (samples,)", "[multi_output]") {
  const Data d;
  auto model = two_head_model();
  model->compile(
      {.optimizer = "sgd", .loss = {scce(), "mse"}, .weighted_metrics = {{"class_out", {"accuracy"}}}});
  const Logs flat = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg}, {.verbose = 0, .sample_weight = d.sw});
  const Logs column = model->evaluate({d.xa, d.xb}, {d.labels, d.yreg},
                                      {.verbose = 0, .sample_weight = d.sw.reshape({6, 1})});
  REQUIRE(keys_of(flat) == keys_of(column));
  for (const auto& [key, value] : flat) {
    INFO(key);
    CHECK(column.at(key) == Approx(value).epsilon(1e-6));
  }
}

TEST_CASE("an output left out of the loss map has no loss, no loss entry and needs no target",
          "[multi_output]") {
  const Data d;
  auto model = two_head_model();
  model->compile({.optimizer = optimizers::SGD({.learning_rate = 0.5}), .loss = {{"class_out", scce()}}});
  const Tensors pred = model->predict_outputs({d.xa, d.xb}, {.verbose = 0});
  const Logs logs = model->evaluate({d.xa, d.xb}, {{"class_out", d.labels}}, {.verbose = 0});
  CHECK(keys_of(logs) == Names{"loss", "class_out_loss"});
  CHECK(logs.at("loss") == Approx(weighted_mean(scce_each(pred[0], d.labels))).epsilon(1e-5));
  // Training leaves the head without a loss untouched.
  const auto reg_before = model->get_layer("reg_out")->get_weights();
  model->fit({d.xa, d.xb}, {{"class_out", d.labels}}, {.batch_size = 6, .verbose = 0});
  CHECK(at::equal(model->get_layer("reg_out")->get_weights()[0], reg_before[0]));
}

namespace {

// A subclassed model with two inputs: Dense on their concatenation.
class TwoInputs : public Model {
 public:
  TwoInputs() : Model("TwoInputs") { dense_ = track(layers::Dense(2)); }
  Tensors call_many(const Tensors& inputs, const Tensors&, bool training) override {
    return {(*dense_)(at::cat({inputs.at(0), inputs.at(1)}, 1), training)};
  }

 private:
  std::shared_ptr<layers::Dense> dense_;
};

}  // namespace

TEST_CASE("a subclassed model with two inputs takes x by position", "[multi_output]") {
  const Data d;
  TwoInputs model;
  model.compile({.optimizer = "sgd", .loss = "mse"});
  const Logs logs = model.evaluate({d.xa, d.xb}, d.yreg, {.batch_size = 4, .verbose = 0});
  const at::Tensor pred = model.predict({d.xa, d.xb}, {.verbose = 0});
  const auto w = model.get_weights();
  check_close(pred, at::matmul(at::cat({d.xa, d.xb}, 1), w[0]) + w[1], 1e-5);
  CHECK(logs.at("loss") == Approx(weighted_mean(mse_each(pred, d.yreg))).epsilon(1e-5));
  CHECK(model.fit({d.xa, d.xb}, d.yreg, {.batch_size = 3, .verbose = 0}).history.at("loss").size() == 1);
  // Its inputs have no names to match a map against.
  expect_error<ValueError>(
      [&] {
        model.fit({{"in_a", d.xa}, {"in_b", d.xb}}, d.yreg, {.verbose = 0});
      },
      {"x", "by name", "by position"});
  expect_error<ShapeError>(
      [&] {
        model.fit({d.xa, d.xb.narrow(0, 0, 5)}, d.yreg, {.verbose = 0});
      },
      {"x[0]", "x[1]", "6", "5"});
}
