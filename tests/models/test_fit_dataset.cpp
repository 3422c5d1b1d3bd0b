// fit, evaluate and predict on a data::Dataset. The reference is the same model trained on the same batches
// given as tensors (shuffle off): the weights, logs and predictions must be identical, since the batches are.

#include <ATen/ATen.h>
#include <strata/callbacks/progbar.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/data/dataset.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/merging.h>
#include <strata/models/functional_graph.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>

#include <catch2/catch.hpp>
#include "../support/capture_stream.h"
#include <iostream>
#include <sstream>
#include <stdexcept>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<Sequential> fresh_model(uint64_t seed) {
  set_random_seed(seed);
  auto model = std::make_shared<Sequential>(
      std::vector<LayerRef>{layers::Input({3}), layers::Dense(4, {.activation = "tanh"}), layers::Dense(1)});
  model->compile({.optimizer = "adam", .loss = "mse", .metrics = {"mae"}});
  return model;
}

void check_same_weights(Model& a, Model& b) {
  const auto wa = a.get_weights(), wb = b.get_weights();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) CHECK(wa[i].equal(wb[i]));
}

// An endless stream cycling over `batches` (x, y) batches of `x`/`y`, as a generator that knows no end.
data::Dataset endless(const at::Tensor& x, const at::Tensor& y, int64_t batch) {
  return data::Dataset::from_generator(
      [x, y, batch] {
        return [x, y, batch, i = int64_t{0}]() mutable -> std::optional<data::Element> {
          const int64_t begin = (i++ * batch) % x.size(0);
          return data::Element{x.narrow(0, begin, batch), y.narrow(0, begin, batch)};
        };
      },
      data::kInfiniteCardinality);
}

}  // namespace

TEST_CASE("fit, evaluate and predict on a dataset match the same batches given as tensors", "[model][dataset]") {
  set_random_seed(1);
  const at::Tensor x = at::randn({20, 3}), y = x.sum(1, true) * 0.3;
  const at::Tensor x_val = at::randn({6, 3}), y_val = x_val.sum(1, true) * 0.3;
  auto on_tensors = fresh_model(7);
  auto on_dataset = fresh_model(7);
  const auto expected = on_tensors->fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0,
                                                .validation_data = {x_val, y_val}, .shuffle = false});
  const auto train = data::Dataset::from_tensor_slices({x, y}).batch(8);
  const auto val = data::Dataset::from_tensor_slices({x_val, y_val}).batch(4);
  const auto got = on_dataset->fit(train, {.epochs = 3, .verbose = 0, .validation_data = val});
  check_same_weights(*on_tensors, *on_dataset);
  CHECK(got.history.at("loss") == expected.history.at("loss"));
  CHECK(on_dataset->optimizer().iterations() == 9);  // 3 batches (8, 8, 4) per epoch
  // The validation dataset has other batch sizes (4, 2); the mean over samples is the same up to rounding.
  for (size_t e = 0; e < 3; ++e)
    CHECK(got.history.at("val_loss")[e] == Approx(expected.history.at("val_loss")[e]).epsilon(1e-6));

  const Logs by_tensors = on_tensors->evaluate(x_val, y_val, {.batch_size = 4, .verbose = 0});
  const Logs by_dataset = on_dataset->evaluate(val, {.verbose = 0});
  CHECK(by_dataset.at("loss") == by_tensors.at("loss"));
  CHECK(by_dataset.at("mae") == by_tensors.at("mae"));
  // predict reads x and ignores the rest of each element.
  CHECK(on_dataset->predict(val, {.verbose = 0}).equal(on_tensors->predict(x_val, {.batch_size = 4, .verbose = 0})));
  CHECK(on_dataset->predict(val, {.verbose = 0, .steps = 1}).size(0) == 4);
  CHECK(on_dataset->evaluate(val, {.verbose = 0, .steps = 1}).at("loss") ==
        Approx(on_tensors->evaluate(x_val.narrow(0, 0, 4), y_val.narrow(0, 0, 4), {.verbose = 0}).at("loss")));
}

TEST_CASE("steps_per_epoch on an infinite dataset continues across epochs", "[model][dataset]") {
  set_random_seed(2);
  const at::Tensor x = at::randn({12, 3}), y = at::randn({12, 1});
  auto on_tensors = fresh_model(3);
  auto on_stream = fresh_model(3);
  // 3 batches of 4 per epoch for 2 epochs from a stream over 12 samples = the 12 samples twice, in order.
  on_tensors->fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .shuffle = false});
  on_stream->fit(endless(x, y, 4), {.epochs = 2, .verbose = 0, .steps_per_epoch = 3});
  check_same_weights(*on_tensors, *on_stream);
  CHECK(on_stream->optimizer().iterations() == 6);
  // Two steps per epoch over a 12-sample cycle: epoch 1 starts at sample 8, where epoch 0 stopped.
  auto two_per_epoch = fresh_model(3);
  auto reference = fresh_model(3);
  two_per_epoch->fit(endless(x, y, 4), {.epochs = 2, .verbose = 0, .steps_per_epoch = 2});
  reference->fit(x.narrow(0, 0, 8), y.narrow(0, 0, 8), {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false});
  reference->fit(at::cat({x.narrow(0, 8, 4), x.narrow(0, 0, 4)}), at::cat({y.narrow(0, 8, 4), y.narrow(0, 0, 4)}),
                 {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false});
  check_same_weights(*two_per_epoch, *reference);

  CHECK_THROWS_WITH(fresh_model(3)->fit(endless(x, y, 4), {.epochs = 1, .verbose = 0}),
                    Contains("repeats forever") && Contains("steps_per_epoch"));
}

TEST_CASE("a dataset that runs out before steps_per_epoch * epochs ends training with Keras' warning",
          "[model][dataset]") {
  set_random_seed(4);
  const auto four_batches = data::Dataset::from_tensor_slices({at::randn({16, 3}), at::randn({16, 1})}).batch(4);
  auto model = fresh_model(5);
  testing::CaptureStream err(std::cerr);
  const auto history = model->fit(four_batches, {.epochs = 3, .verbose = 0, .steps_per_epoch = 3});
  CHECK(model->optimizer().iterations() == 4);
  CHECK(history.history.at("loss").size() == 2);  // epoch 1 got one batch, then training stopped
  CHECK_THAT(err.text(), Contains("Your input ran out of data; interrupting training"));
}

TEST_CASE("a dataset of unknown length: the progress bar learns the length from the first epoch",
          "[model][dataset]") {
  set_random_seed(6);
  const at::Tensor x = at::randn({10, 3}), y = at::randn({10, 1});
  // Unknown cardinality: a generator that does not say how long it is.
  const auto unknown = data::Dataset::from_generator([x, y] {
    return [x, y, i = int64_t{0}]() mutable -> std::optional<data::Element> {
      if (i >= 10) return std::nullopt;
      i += 5;
      return data::Element{x.narrow(0, i - 5, 5), y.narrow(0, i - 5, 5)};
    };
  });
  auto model = fresh_model(8);
  std::string printed;
  {
    testing::CaptureStream out(std::cout);
    model->fit(unknown, {.epochs = 2, .verbose = 2});
    printed = out.text();
  }
  CHECK(model->optimizer().iterations() == 4);
  CHECK_THAT(printed, Contains("Epoch 1/2\n2/2 - ") && Contains("Epoch 2/2\n2/2 - "));

  std::ostringstream bar;
  callbacks::Progbar progbar(-1, 1, bar, /*interactive=*/true);
  progbar.update(27, {});
  CHECK_THAT(bar.str(), Contains("     27/Unknown - "));
}

TEST_CASE("dataset elements: (x, y, sample_weight), several inputs, class_weight and bad elements",
          "[model][dataset]") {
  set_random_seed(9);
  const at::Tensor x = at::randn({8, 3}), y = at::randn({8, 1}), w = at::rand({8});
  auto weighted_tensors = fresh_model(10);
  auto weighted_dataset = fresh_model(10);
  weighted_tensors->fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false, .sample_weight = w});
  weighted_dataset->fit(data::Dataset::from_tensor_slices({x, y, w}).batch(4), {.epochs = 1, .verbose = 0});
  check_same_weights(*weighted_tensors, *weighted_dataset);

  // class_weight applies per batch, as it does to the whole tensor data.
  const at::Tensor labels = (x.select(1, 0) > 0).to(at::kFloat).unsqueeze(1);
  auto classes_tensors = fresh_model(11);
  auto classes_dataset = fresh_model(11);
  classes_tensors->fit(x, labels, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false,
                                   .class_weight = {{0, 0.25}, {1, 2.0}}});
  classes_dataset->fit(data::Dataset::from_tensor_slices({x, labels}).batch(4),
                       {.epochs = 1, .verbose = 0, .class_weight = {{0, 0.25}, {1, 2.0}}});
  check_same_weights(*classes_tensors, *classes_dataset);

  // Two inputs: the first two tensors of each element are x, the third y.
  set_random_seed(12);
  auto a = Input({2}, {.name = "a"});
  auto b = Input({1}, {.name = "b"});
  auto out = layers::Dense(1)(layers::Concatenate()({a, b}).front());
  Model two_inputs({a, b}, {out});
  two_inputs.compile({.optimizer = "sgd", .loss = "mse"});
  const at::Tensor xa = at::randn({6, 2}), xb = at::randn({6, 1}), target = at::randn({6, 1});
  const Logs logs = two_inputs.evaluate(data::Dataset::from_tensor_slices({xa, xb, target}).batch(3), {.verbose = 0});
  CHECK(logs.at("loss") == Approx(two_inputs.evaluate({xa, xb}, target, {.verbose = 0}).at("loss")));

  auto model = fresh_model(13);
  CHECK_THROWS_WITH(model->fit(data::Dataset::from_tensor_slices({x, y, w, w}).batch(4), {.verbose = 0}),
                    Contains("a dataset element has 4 tensors") && Contains("(x, y, sample_weight)"));
  // Unbatched elements: rows of 3 features where the model expects batches.
  CHECK_THROWS_WITH(model->fit(data::Dataset::from_tensor_slices({x, y}), {.verbose = 0}),
                    Contains("expected input shape (None, 3), got [3]"));
  CHECK_THROWS_WITH(model->fit(data::Dataset::from_tensor_slices({x.select(1, 0), y}), {.verbose = 0}),
                    Contains("add .batch(batch_size)"));
  CHECK_THROWS_WITH(model->fit(data::Dataset::from_tensor_slices({x, y}).batch(4), {.verbose = 0, .validation_split = 0.5}),
                    Contains("validation_split is only supported for tensors"));
  CHECK_THROWS_WITH(model->fit(x, y, {.verbose = 0, .steps_per_epoch = 2}), Contains("steps_per_epoch"));
}

TEST_CASE("an exception from the input pipeline stops fit with that error", "[model][dataset]") {
  const at::Tensor x = at::randn({4, 3}), y = at::randn({4, 1});
  const auto failing = data::Dataset::from_generator([x, y] {
    return [x, y, i = 0]() mutable -> std::optional<data::Element> {
      if (i++ == 2) throw std::runtime_error("disk read failed at batch 2");
      return data::Element{x, y};
    };
  });
  auto model = fresh_model(14);
  CHECK_THROWS_WITH(model->fit(failing, {.epochs = 1, .verbose = 0}), Contains("disk read failed at batch 2"));
  CHECK(model->optimizer().iterations() == 2);
}
