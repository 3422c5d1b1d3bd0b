// Huber, LogCosh, MeanAbsolutePercentageError, MeanSquaredLogarithmicError and CosineSimilarity against the
// formulas written out with loops in double, values from tf.keras 2.15, gradients against finite differences.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/regression.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "loss_testing.h"

using namespace strata;
using loss_testing::rows;
using loss_testing::value;
using Catch::Matchers::Contains;

namespace {

// Per-sample mean over the last axis of f(y_true, y_pred), f written out with loops.
template <class F>
std::vector<double> per_sample(const at::Tensor& y_true, const at::Tensor& y_pred, F f) {
  std::vector<double> out;
  for (int64_t i = 0; i < y_true.size(0); ++i) {
    double sum = 0;
    for (int64_t j = 0; j < y_true.size(1); ++j) sum += f(y_true[i][j].item<double>(), y_pred[i][j].item<double>());
    out.push_back(sum / static_cast<double>(y_true.size(1)));
  }
  return out;
}

void check_none(const at::Tensor& got, const std::vector<double>& expected) {
  REQUIRE(got.numel() == static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) CHECK(got[i].item<double>() == Approx(expected[i]).epsilon(1e-9));
}

const auto kNoReduction = losses::Reduction::kNone;

}  // namespace

TEST_CASE("Huber: quadratic within delta, linear beyond, Keras' name and config", "[losses][huber]") {
  // tf.keras 2.15: Huber()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]) = 0.1550000011920929 (its float32).
  // By hand: errors 0.6, -0.6, 0.4, 0.6 all within delta 1: 0.5 * (0.36 + 0.36 + 0.16 + 0.36) / 4 = 0.155.
  CHECK(value(losses::Huber()(rows({0, 1, 0, 0}, 2), rows({0.6, 0.4, 0.4, 0.6}, 2))) == Approx(0.155));
  // delta 0.5, errors [[1.6, -0.6], [-0.2, 2.0]]: tf.keras 2.15 gives [0.42500001192092896, 0.44749999046325684].
  const at::Tensor y_true = rows({0, 1, 0, 0}, 2), y_pred = rows({1.6, 0.4, -0.2, 2.0}, 2);
  const double delta = 0.5;
  auto huber = [delta](double t, double p) {
    const double x = std::abs(p - t);
    return x <= delta ? 0.5 * x * x : delta * x - 0.5 * delta * delta;
  };
  const at::Tensor none = losses::Huber({.delta = delta, .reduction = kNoReduction})(y_true, y_pred);
  check_none(none, per_sample(y_true, y_pred, huber));
  CHECK(none[0].item<double>() == Approx(0.42500001192092896).epsilon(1e-6));
  CHECK(none[1].item<double>() == Approx(0.44749999046325684).epsilon(1e-6));
  CHECK(losses::Huber().name() == "huber_loss");
  // Exact predictions: zero loss.
  CHECK(value(losses::Huber()(y_true, y_true)) == 0.0);
  loss_testing::check_gradient(losses::Huber({.delta = delta}), y_true, y_pred);

  const losses::Huber restored = losses::Huber::from_config(losses::Huber({.delta = 0.25, .name = "h"}).get_config());
  CHECK(restored.get_config() == nlohmann::json{{"name", "h"}, {"reduction", "sum_over_batch_size"}, {"delta", 0.25}});
  CHECK(value(restored(y_true, y_pred)) == Approx(value(losses::Huber({.delta = 0.25})(y_true, y_pred))));
  CHECK_THROWS_WITH(losses::Huber({.delta = -1.0}), Contains("delta"));
}

TEST_CASE("LogCosh: log(cosh(x)) per entry, stable for large errors", "[losses][log_cosh]") {
  // tf.keras 2.15: LogCosh()([[0, 1], [0, 0]], [[1, 1], [0, 0]]) = 0.10844520571610247 = log(cosh 1) / 4 (its
  // log 2 is a float32 constant, so its numbers agree to about 1e-8).
  const at::Tensor y_true = rows({0, 1, 0, 0}, 2);
  CHECK(value(losses::LogCosh()(y_true, rows({1, 1, 0, 0}, 2))) == Approx(0.10844520571610247).epsilon(1e-7));
  CHECK(value(losses::LogCosh()(y_true, rows({1, 1, 0, 0}, 2))) == Approx(std::log(std::cosh(1.0)) / 4).epsilon(1e-12));
  // Errors 30 and -50 would overflow cosh in float32; log cosh x = |x| - log 2 + log(1 + e^-2|x|).
  // tf.keras 2.15: [14.653426407815372, 24.653426407815374].
  const at::Tensor big = losses::LogCosh({.reduction = kNoReduction})(y_true, rows({30, 1, -50, 0}, 2));
  check_none(big, {(30 - std::log(2.0)) / 2, (50 - std::log(2.0)) / 2});
  CHECK(big[0].item<double>() == Approx(14.653426407815372).epsilon(1e-9));
  const at::Tensor big_float = losses::LogCosh()(y_true.to(at::kFloat), rows({30, 1, -50, 0}, 2).to(at::kFloat));
  CHECK(std::isfinite(value(big_float)));
  CHECK(losses::LogCosh().name() == "log_cosh");
  loss_testing::check_gradient(losses::LogCosh(), y_true, rows({0.3, -1.2, 2.5, 0.1}, 2));
}

TEST_CASE("MeanAbsolutePercentageError: 100 * |t - p| / max(|t|, 1e-7)", "[losses][mape]") {
  const at::Tensor y_true = rows({1, 2, 4, -5}, 2), y_pred = rows({1.5, 1, 3, -4}, 2);
  // tf.keras 2.15 (reduction none): [50.0, 22.5]. By hand: (50 + 50) / 2 and (25 + 20) / 2.
  const at::Tensor none = losses::MeanAbsolutePercentageError({.reduction = kNoReduction})(y_true, y_pred);
  check_none(none, {50.0, 22.5});
  check_none(none, per_sample(y_true, y_pred, [](double t, double p) {
               return 100.0 * std::abs(t - p) / std::max(std::abs(t), 1e-7);
             }));
  // A zero target divides by epsilon: |0 - 0.5| / 1e-7 * 100 / 1 = 5e8.
  CHECK(value(losses::MeanAbsolutePercentageError()(rows({0}, 1), rows({0.5}, 1))) == Approx(5e8));
  CHECK(value(losses::MeanAbsolutePercentageError()(y_true, y_true)) == 0.0);
  CHECK(losses::MeanAbsolutePercentageError().name() == "mean_absolute_percentage_error");
  loss_testing::check_gradient(losses::MeanAbsolutePercentageError(), y_true, y_pred, {}, 1e-4);
}

TEST_CASE("MeanSquaredLogarithmicError: negative values clipped to 1e-7", "[losses][msle]") {
  const at::Tensor y_true = rows({1, 2, 0, 3}, 2), y_pred = rows({2, 2, 1, -1}, 2);
  // tf.keras 2.15 (reduction none): [0.08220097694658267, 1.2011323268513698].
  const at::Tensor none = losses::MeanSquaredLogarithmicError({.reduction = kNoReduction})(y_true, y_pred);
  check_none(none, {0.08220097694658267, 1.2011323268513698});
  check_none(none, per_sample(y_true, y_pred, [](double t, double p) {
               const double d = std::log(std::max(p, 1e-7) + 1) - std::log(std::max(t, 1e-7) + 1);
               return d * d;
             }));
  CHECK(losses::MeanSquaredLogarithmicError().name() == "mean_squared_logarithmic_error");
  loss_testing::check_gradient(losses::MeanSquaredLogarithmicError(), y_true, rows({2, 1.5, 1, 0.5}, 2));
}

TEST_CASE("CosineSimilarity: minus the cosine, 0 for a zero vector, any axis", "[losses][cosine_similarity]") {
  const at::Tensor y_true = rows({1, 2, 3, 0, 0, 0, 1, 1, 0}, 3), y_pred = rows({2, 1, 0, 1, 1, 1, -1, -1, 0}, 3);
  // tf.keras 2.15 (reduction none): [-0.47809144373375745, -0.0, 0.9999999999999998].
  // By hand: -(2 + 2) / (sqrt 14 * sqrt 5) = -0.4780914437; a zero target gives 0; opposite vectors give 1.
  const at::Tensor none = losses::CosineSimilarity({.reduction = kNoReduction})(y_true, y_pred);
  check_none(none, {-4.0 / std::sqrt(70.0), 0.0, 1.0});
  // Along axis 0 instead: columns [1, 0, 1] . [2, 1, -1] = 1, norms sqrt 2, sqrt 6 -> -1 / sqrt 12, and so on.
  const at::Tensor by_column = losses::CosineSimilarity({.axis = 0, .reduction = kNoReduction})(y_true, y_pred);
  REQUIRE(by_column.sizes() == at::IntArrayRef({3}));
  CHECK(by_column[0].item<double>() == Approx(-1.0 / std::sqrt(12.0)));
  CHECK(by_column[2].item<double>() == Approx(0.0).margin(1e-12));  // [3, 0, 0] . [0, 1, 0] = 0
  // A zero prediction has a finite (zero) gradient, as Keras' clipped norm gives.
  CHECK(loss_testing::gradient_finite(losses::CosineSimilarity(), y_true, rows({0, 0, 0, 1, 2, 3, 1, 0, 0}, 3)));
  loss_testing::check_gradient(losses::CosineSimilarity(), y_true, rows({2, 1, 0.5, 1, 1, 1, -1, 0.5, 2}, 3));
  const auto restored = losses::CosineSimilarity::from_config(losses::CosineSimilarity({.axis = 0}).get_config());
  CHECK(restored.get_config().at("axis") == 0);
  CHECK(restored.name() == "cosine_similarity");
}

TEST_CASE("regression losses from_config round-trip name and reduction", "[losses][regression][config]") {
  const nlohmann::json config = {{"name", "custom"}, {"reduction", "sum"}};
  CHECK(losses::MeanSquaredError::from_config(config).get_config() == config);
  CHECK(losses::MeanAbsoluteError::from_config(config).reduction() == losses::Reduction::kSum);
  CHECK(losses::LogCosh::from_config(config).name() == "custom");
  CHECK(losses::MeanSquaredLogarithmicError::from_config({{"reduction", nullptr}}).reduction() == kNoReduction);
  CHECK(losses::MeanAbsolutePercentageError::from_config(nlohmann::json::object()).name() ==
        "mean_absolute_percentage_error");
}
