// Regression metrics against the per-sample formulas written out with loops in double, plus hand-worked
// cases; each also streamed over slices, reset, and round-tripped through its config.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/regression.h>

#include "metric_checks.h"

#include <cmath>
#include <functional>

using namespace strata;
using metric_checks::rows;
using metric_checks::value;

namespace {

using RowFn = std::function<double(const std::vector<double>&, const std::vector<double>&)>;

// 5 samples x 3 outputs, with zero, negative and repeated values.
const std::vector<double> kTrue = {0.5, 1.0, 2.0, -1.0, 0.0, 3.0, 2.5, 2.5, 2.5, 0.0, 1.0, 0.2, 4.0, -2.0, 1.5};
const std::vector<double> kPred = {0.7, 0.5, 2.5, -0.5, 0.3, 2.0, 2.5, 2.0, 3.5, 0.1, 0.9, 0.0, 3.0, -1.0, 2.5};
const std::vector<double> kWeights = {1.0, 0.5, 2.0, 0.0, 3.0};

std::vector<double> row(const std::vector<double>& values, size_t i) {
  return std::vector<double>(values.begin() + static_cast<long>(3 * i), values.begin() + static_cast<long>(3 * i + 3));
}

// sum_i w_i * fn(row_i) / sum_i w_i (all weights 1 when `weighted` is false).
double weighted_mean(const RowFn& fn, bool weighted) {
  double total = 0, count = 0;
  for (size_t i = 0; i < kWeights.size(); ++i) {
    const double w = weighted ? kWeights[i] : 1.0;
    total += w * fn(row(kTrue, i), row(kPred, i));
    count += w;
  }
  return total / count;
}

double mean_over(const std::vector<double>& t, const std::vector<double>& p, const std::function<double(double, double)>& f) {
  double sum = 0;
  for (size_t j = 0; j < t.size(); ++j) sum += f(t[j], p[j]);
  return sum / static_cast<double>(t.size());
}

template <class M>
void check_against(M metric, const RowFn& fn, const std::function<M(const nlohmann::json&)>& from_config,
                   const std::function<M()>& make) {
  const at::Tensor y_true = rows(kTrue, 3), y_pred = rows(kPred, 3), w = at::tensor(kWeights, at::kFloat);
  metric.update_state(y_true, y_pred);
  CHECK(value(metric) == Approx(weighted_mean(fn, false)).epsilon(1e-5));
  metric.reset_state();
  metric.update_state(y_true, y_pred, w);
  CHECK(value(metric) == Approx(weighted_mean(fn, true)).epsilon(1e-5));
  metric_checks::check_streaming_reset_and_config<M>(make, from_config, y_true, y_pred, w, {2, 3});
}

}  // namespace

TEST_CASE("MeanSquaredError and MeanAbsoluteError: hand-worked, weighted, streamed", "[metrics][regression]") {
  // y_true [[0, 1], [2, 3]], y_pred [[1, 1], [2, 5]]: squared errors per sample (1 + 0)/2 = 0.5 and
  // (0 + 4)/2 = 2 -> mean 1.25; weights [1, 3] -> (0.5 + 6) / 4 = 1.625.
  const at::Tensor t = rows({0, 1, 2, 3}, 2), p = rows({1, 1, 2, 5}, 2), w = at::tensor({1.0f, 3.0f});
  metrics::MeanSquaredError mse;
  CHECK(mse.name() == "mean_squared_error");
  mse.update_state(t, p);
  CHECK(value(mse) == Approx(1.25));
  mse.reset_state();
  mse.update_state(t, p, w);
  CHECK(value(mse) == Approx(1.625));
  // Absolute errors per sample 0.5 and 1 -> 0.75; weighted (0.5 + 3) / 4 = 0.875.
  metrics::MeanAbsoluteError mae;
  CHECK(mae.name() == "mean_absolute_error");
  mae.update_state(t, p);
  CHECK(value(mae) == Approx(0.75));
  mae.reset_state();
  mae.update_state(t, p, w);
  CHECK(value(mae) == Approx(0.875));
  // Weights of shape (batch, 1) act per sample too.
  mae.reset_state();
  mae.update_state(t, p, w.unsqueeze(1));
  CHECK(value(mae) == Approx(0.875));

  check_against<metrics::MeanSquaredError>(
      metrics::MeanSquaredError(),
      [](const auto& a, const auto& b) { return mean_over(a, b, [](double x, double y) { return (y - x) * (y - x); }); },
      metrics::MeanSquaredError::from_config, [] { return metrics::MeanSquaredError(); });
  check_against<metrics::MeanAbsoluteError>(
      metrics::MeanAbsoluteError("mae_metric"),
      [](const auto& a, const auto& b) { return mean_over(a, b, [](double x, double y) { return std::abs(y - x); }); },
      metrics::MeanAbsoluteError::from_config, [] { return metrics::MeanAbsoluteError("mae_metric"); });
}

TEST_CASE("MeanAbsolutePercentageError divides by max(|y_true|, 1e-7)", "[metrics][regression]") {
  // y_true [2, 4], y_pred [1, 5] (one sample): 100 * (|1/2| + |-1/4|) / 2 = 37.5
  metrics::MeanAbsolutePercentageError mape;
  CHECK(mape.name() == "mean_absolute_percentage_error");
  mape.update_state(rows({2, 4}, 2), rows({1, 5}, 2));
  CHECK(value(mape) == Approx(37.5));
  check_against<metrics::MeanAbsolutePercentageError>(
      metrics::MeanAbsolutePercentageError(),
      [](const auto& a, const auto& b) {
        return 100.0 * mean_over(a, b, [](double x, double y) { return std::abs((x - y) / std::max(std::abs(x), 1e-7)); });
      },
      metrics::MeanAbsolutePercentageError::from_config, [] { return metrics::MeanAbsolutePercentageError(); });
}

TEST_CASE("MeanSquaredLogarithmicError clips below at 1e-7", "[metrics][regression]") {
  check_against<metrics::MeanSquaredLogarithmicError>(
      metrics::MeanSquaredLogarithmicError(),
      [](const auto& a, const auto& b) {
        return mean_over(a, b, [](double x, double y) {
          const double d = std::log(std::max(y, 1e-7) + 1.0) - std::log(std::max(x, 1e-7) + 1.0);
          return d * d;
        });
      },
      metrics::MeanSquaredLogarithmicError::from_config, [] { return metrics::MeanSquaredLogarithmicError(); });
  CHECK(metrics::MeanSquaredLogarithmicError().name() == "mean_squared_logarithmic_error");
}

TEST_CASE("LogCoshError is mean(log(cosh(error))) and finite for huge errors", "[metrics][regression]") {
  metrics::LogCoshError logcosh;
  CHECK(logcosh.name() == "logcosh");
  check_against<metrics::LogCoshError>(
      metrics::LogCoshError(),
      [](const auto& a, const auto& b) { return mean_over(a, b, [](double x, double y) { return std::log(std::cosh(y - x)); }); },
      metrics::LogCoshError::from_config, [] { return metrics::LogCoshError(); });
  // log(cosh(1000)) = 1000 - log 2 to double precision; a naive cosh overflows.
  logcosh.update_state(rows({0}, 1), rows({1000}, 1));
  CHECK(value(logcosh) == Approx(1000.0 - std::log(2.0)));
}

TEST_CASE("CosineSimilarity along the last axis and along axis 0", "[metrics][regression]") {
  // [1, 0] vs [1, 1]: cos 45 degrees = 1/sqrt(2); [0, 1] vs [0, -2]: -1 -> mean (0.7071 - 1) / 2
  metrics::CosineSimilarity cosine;
  CHECK(cosine.name() == "cosine_similarity");
  cosine.update_state(rows({1, 0, 0, 1}, 2), rows({1, 1, 0, -2}, 2));
  CHECK(value(cosine) == Approx((1.0 / std::sqrt(2.0) - 1.0) / 2.0));
  // A zero vector has cosine 0, not NaN.
  cosine.reset_state();
  cosine.update_state(rows({0, 0}, 2), rows({1, 2}, 2));
  CHECK(value(cosine) == Approx(0.0));

  check_against<metrics::CosineSimilarity>(
      metrics::CosineSimilarity(),
      [](const auto& a, const auto& b) {
        double dot = 0, na = 0, nb = 0;
        for (size_t j = 0; j < a.size(); ++j) dot += a[j] * b[j], na += a[j] * a[j], nb += b[j] * b[j];
        return dot / std::sqrt(na) / std::sqrt(nb);
      },
      metrics::CosineSimilarity::from_config, [] { return metrics::CosineSimilarity(); });

  // axis 0 on a (3, 2) batch: columns [1, 2, 2] vs [2, 4, 4] are parallel (1); [1, 0, 0] vs [0, 1, 0] are
  // orthogonal (0). The two values average to 0.5.
  metrics::CosineSimilarity columns({.axis = 0});
  columns.update_state(rows({1, 1, 2, 0, 2, 0}, 2), rows({2, 0, 4, 1, 4, 0}, 2));
  CHECK(value(columns) == Approx(0.5));
  CHECK(metrics::CosineSimilarity::from_config(columns.get_config()).get_config().at("axis") == 0);
}

TEST_CASE("RootMeanSquaredError is the sqrt of the weighted mean squared error", "[metrics][regression]") {
  // Same batch as the MSE case: sqrt(1.25) unweighted, sqrt(1.625) with weights [1, 3].
  metrics::RootMeanSquaredError rmse;
  CHECK(rmse.name() == "root_mean_squared_error");
  CHECK(value(rmse) == 0.0);
  rmse.update_state(rows({0, 1, 2, 3}, 2), rows({1, 1, 2, 5}, 2));
  CHECK(value(rmse) == Approx(std::sqrt(1.25)));
  rmse.reset_state();
  rmse.update_state(rows({0, 1, 2, 3}, 2), rows({1, 1, 2, 5}, 2), at::tensor({1.0f, 3.0f}));
  CHECK(value(rmse) == Approx(std::sqrt(1.625)));
  // Targets (batch,) against predictions (batch, 1): errors 1 and 3 -> sqrt(5)
  rmse.reset_state();
  rmse.update_state(at::tensor({1.0f, 2.0f}), rows({2, 5}, 1));
  CHECK(value(rmse) == Approx(std::sqrt(5.0)));

  const double mse = weighted_mean(
      [](const auto& a, const auto& b) { return mean_over(a, b, [](double x, double y) { return (y - x) * (y - x); }); },
      true);
  metrics::RootMeanSquaredError full;
  full.update_state(rows(kTrue, 3), rows(kPred, 3), at::tensor(kWeights, at::kFloat));
  CHECK(value(full) == Approx(std::sqrt(mse)).epsilon(1e-5));
  metric_checks::check_streaming_reset_and_config<metrics::RootMeanSquaredError>(
      [] { return metrics::RootMeanSquaredError(); }, metrics::RootMeanSquaredError::from_config, rows(kTrue, 3),
      rows(kPred, 3), at::tensor(kWeights, at::kFloat), {1, 4});
}

namespace {

// Weighted R2 of column j: 1 - sum w (y - p)^2 / sum w (y - ybar_w)^2, and that total sum of squares.
std::pair<double, double> r2_column(size_t j, bool weighted) {
  double sw = 0, swy = 0;
  for (size_t i = 0; i < kWeights.size(); ++i) {
    const double w = weighted ? kWeights[i] : 1.0;
    sw += w, swy += w * kTrue[3 * i + j];
  }
  const double mean = swy / sw;
  double residual = 0, total = 0;
  for (size_t i = 0; i < kWeights.size(); ++i) {
    const double w = weighted ? kWeights[i] : 1.0, y = kTrue[3 * i + j], p = kPred[3 * i + j];
    residual += w * (y - p) * (y - p), total += w * (y - mean) * (y - mean);
  }
  return {1.0 - residual / total, total};
}

}  // namespace

TEST_CASE("R2Score: Keras' example, weights, aggregations, adjusted R2", "[metrics][regression][r2]") {
  // Keras' docstring: y_true [1, 4, 3], y_pred [2, 4, 4] -> 1 - 2 / (14/3) = 0.571428...
  metrics::R2Score r2;
  CHECK(r2.name() == "r2_score");
  CHECK(value(r2) == 0.0);
  CHECK(r2.variables().empty());
  r2.update_state(rows({1, 4, 3}, 1), rows({2, 4, 4}, 1));
  CHECK(value(r2) == Approx(1.0 - 2.0 / (14.0 / 3.0)));
  CHECK(r2.variables().size() == 5);

  const at::Tensor y_true = rows(kTrue, 3), y_pred = rows(kPred, 3), w = at::tensor(kWeights, at::kFloat);
  for (bool weighted : {false, true}) {
    double uniform = 0, weighted_sum = 0, total_sum = 0;
    std::vector<double> raw;
    for (size_t j = 0; j < 3; ++j) {
      auto [score, total] = r2_column(j, weighted);
      raw.push_back(score);
      uniform += score / 3.0, weighted_sum += score * total, total_sum += total;
    }
    const at::Tensor weights = weighted ? w : at::Tensor();
    metrics::R2Score average;
    average.update_state(y_true, y_pred, weights);
    CHECK(value(average) == Approx(uniform).epsilon(1e-6));
    metrics::R2Score variance({.class_aggregation = "variance_weighted_average"});
    variance.update_state(y_true, y_pred, weights);
    CHECK(value(variance) == Approx(weighted_sum / total_sum).epsilon(1e-6));
    metrics::R2Score none({.class_aggregation = std::nullopt});
    none.update_state(y_true, y_pred, weights);
    const at::Tensor per_column = none.result();
    REQUIRE(per_column.numel() == 3);
    for (int64_t j = 0; j < 3; ++j) CHECK(per_column[j].item<double>() == Approx(raw[static_cast<size_t>(j)]).epsilon(1e-6));
    // Adjusted: n counts elements (15, as Keras), p = 2 -> 1 - (1 - R2) (n - 1) / (n - p - 1)
    metrics::R2Score adjusted({.num_regressors = 2});
    adjusted.update_state(y_true, y_pred, weights);
    CHECK(value(adjusted) == Approx(1.0 - (1.0 - uniform) * 14.0 / 12.0).epsilon(1e-6));
    // Too many regressors for the samples: the plain score.
    metrics::R2Score too_many({.num_regressors = 14});
    too_many.update_state(y_true, y_pred, weights);
    CHECK(value(too_many) == Approx(uniform).epsilon(1e-6));
  }
  for (const auto& aggregation : {std::optional<std::string>("uniform_average"),
                                  std::optional<std::string>("variance_weighted_average"), std::optional<std::string>()}) {
    metric_checks::check_streaming_reset_and_config<metrics::R2Score>(
        [&] { return metrics::R2Score({.class_aggregation = aggregation, .num_regressors = 1}); },
        metrics::R2Score::from_config, y_true, y_pred, w, {2, 3});
  }
  CHECK(metrics::R2Score({.class_aggregation = std::nullopt}).get_config().at("class_aggregation").is_null());

  CHECK_THROWS_WITH(metrics::R2Score({.class_aggregation = "median"}), Catch::Contains("class_aggregation"));
  CHECK_THROWS_WITH(metrics::R2Score({.num_regressors = -1}), Catch::Contains("num_regressors >= 0"));
  metrics::R2Score shaped;
  CHECK_THROWS_AS(shaped.update_state(at::zeros({2, 2, 2}), at::zeros({2, 2, 2})), ShapeError);
  shaped.update_state(rows({1, 2}, 2), rows({1, 2}, 2));
  CHECK_THROWS_WITH(shaped.update_state(rows({1, 2, 3}, 3), rows({1, 2, 3}, 3)), Catch::Contains("built for 2 outputs"));
}
