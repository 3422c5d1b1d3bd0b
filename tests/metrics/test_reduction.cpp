// Sum, Mean with Keras' per-sample reduction, and MeanMetricWrapper over functions and losses.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>
#include <strata/metrics/mean.h>
#include <strata/metrics/regression.h>

#include "metric_checks.h"

#include <cmath>

using namespace strata;
using metric_checks::rows;
using metric_checks::value;

TEST_CASE("Sum adds weighted values; streaming equals one update", "[metrics][reduction]") {
  metrics::Sum sum;
  CHECK(sum.name() == "sum");
  CHECK(value(sum) == 0.0);
  sum.update_state(at::tensor({1.0f, 2.0f, 3.0f}));
  CHECK(value(sum) == 6.0);
  // weights [1, 0, 2]: 6 + (1 + 0 + 6) = 13
  sum.update_state(at::tensor({1.0f, 2.0f, 3.0f}), at::tensor({1.0f, 0.0f, 2.0f}));
  CHECK(value(sum) == 13.0);
  // (2, 2) values with per-sample weights [2, 1]: 2 * (1 + 2) + 1 * (3 + 4) = 13 -> 26
  sum.update_state(rows({1, 2, 3, 4}, 2), at::tensor({2.0f, 1.0f}));
  CHECK(value(sum) == 26.0);
  CHECK(sum.variables().size() == 1);
  sum.reset_state();
  CHECK(value(sum) == 0.0);
  CHECK(metrics::Sum::from_config(metrics::Sum("total").get_config()).name() == "total");
}

TEST_CASE("Mean reduces each sample to one value before weighting, as Keras", "[metrics][reduction]") {
  // (2, 2) values [[1, 2], [3, 5]] with weights [1, 3]: per-sample means 1.5 and 4 -> (1.5 + 12) / 4
  metrics::Mean mean;
  mean.update_state(rows({1, 2, 3, 5}, 2), at::tensor({1.0f, 3.0f}));
  CHECK(value(mean) == Approx(13.5 / 4.0));
  CHECK(mean.variables()[1].item<double>() == 4.0);  // the count is the weight sum
  // Unweighted, a (2, 2) batch counts 2 samples.
  mean.reset_state();
  mean.update_state(rows({1, 2, 3, 5}, 2));
  CHECK(mean.variables()[1].item<double>() == 2.0);
  CHECK(value(mean) == Approx(2.75));
  // Weights per entry, (2, 2) with a zero: a mask. [[1, 0], [1, 1]] -> (1 + 3 + 5) / 3
  mean.reset_state();
  mean.update_state(rows({1, 2, 3, 5}, 2), rows({1, 0, 1, 1}, 2));
  CHECK(value(mean) == Approx(3.0));
  // Weights (batch, 1) against values (batch,).
  mean.reset_state();
  mean.update_state(at::tensor({2.0f, 4.0f}), rows({1, 3}, 1));
  CHECK(value(mean) == Approx(3.5));
  // Only zero weights: 0, not NaN.
  mean.reset_state();
  mean.update_state(at::tensor({2.0f}), at::tensor({0.0f}));
  CHECK(value(mean) == 0.0);
  CHECK_THROWS_AS(mean.update_state(at::tensor({1.0f, 2.0f}), rows({1, 1, 1, 1}, 2)), ShapeError);
  CHECK(metrics::Mean::from_config(metrics::Mean("avg").get_config()).name() == "avg");
}

TEST_CASE("MeanMetricWrapper over a function and over any loss", "[metrics][reduction][wrapper]") {
  // A function: |y_true - y_pred| summed over the last axis. Rows [[0, 1], [2, 2]] vs [[1, 1], [0, 5]]
  // give 1 and 5; weights [3, 1] -> (3 + 5) / 4 = 2
  metrics::MeanMetricWrapper fn(
      [](const at::Tensor& y_true, const at::Tensor& y_pred) { return (y_true - y_pred).abs().sum(-1); }, "l1");
  CHECK(fn.name() == "l1");
  CHECK(fn.class_name() == "MeanMetricWrapper");
  fn.update_state(rows({0, 1, 2, 2}, 2), rows({1, 1, 0, 5}, 2), at::tensor({3.0f, 1.0f}));
  CHECK(value(fn) == Approx(2.0));

  // A loss object: its per-sample values, whatever its reduction. Same as the MeanSquaredError metric.
  const at::Tensor t = at::randn({7, 3}), p = at::randn({7, 3}), w = at::rand({7});
  metrics::MeanMetricWrapper wrapped(losses::MeanSquaredError({.reduction = losses::Reduction::kSum}));
  CHECK(wrapped.name() == "mean_squared_error");
  metrics::MeanSquaredError mse;
  wrapped.update_state(t, p, w);
  mse.update_state(t, p, w);
  CHECK(value(wrapped) == Approx(value(mse)));
  // The loss's weighted mean over the batch (sum_over_batch_size divides by the batch, so rescale) matches.
  const double loss_value = losses::MeanSquaredError({.reduction = losses::Reduction::kSum})(t, p, w).item<double>();
  CHECK(value(wrapped) == Approx(loss_value / w.sum().item<double>()).epsilon(1e-5));

  // By name, with options kept by the object: from_logits crossentropy.
  metrics::MeanMetricWrapper by_name("binary_crossentropy", "bce_metric");
  CHECK(by_name.name() == "bce_metric");
  metrics::MeanMetricWrapper logits(losses::BinaryCrossentropy({.from_logits = true}));
  logits.update_state(rows({1, 0}, 1), rows({0, 0}, 1));
  CHECK(value(logits) == Approx(std::log(2.0)));

  // Config: Keras' "fn" key holds the loss; from_config brings back an equal metric.
  const nlohmann::json config = wrapped.get_config();
  CHECK(config.at("fn").at("class_name") == "MeanSquaredError");
  metric_checks::check_streaming_reset_and_config<metrics::MeanMetricWrapper>(
      [] { return metrics::MeanMetricWrapper(losses::MeanSquaredError()); }, metrics::MeanMetricWrapper::from_config, t,
      p, w, {3});
  auto from_name = metrics::MeanMetricWrapper::from_config({{"name", "m"}, {"fn", "mae"}});
  from_name.update_state(rows({1, 2}, 2), rows({2, 4}, 2));
  CHECK(value(from_name) == Approx(1.5));
  CHECK(!fn.get_config().contains("fn"));  // a C++ function has no config
  CHECK_THROWS_WITH((metrics::MeanMetricWrapper::from_config({{"name", "m"}})), Catch::Contains("fn"));
  CHECK_THROWS_AS(metrics::MeanMetricWrapper("no_such_loss"), ValueError);
}
