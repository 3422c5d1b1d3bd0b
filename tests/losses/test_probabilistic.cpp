// KLDivergence, Poisson, and the cross-entropies' Keras 3 options (label_smoothing, axis, ignore_class, targets
// outside [0, 1] on direct calls) against hand-written formulas and tf.keras 2.15 values.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/probabilistic.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "loss_testing.h"

using namespace strata;
using loss_testing::rows;
using loss_testing::value;
using Catch::Matchers::Contains;

namespace {
const auto kNoReduction = losses::Reduction::kNone;
}

TEST_CASE("KLDivergence: sum(t * log(t / p)) with both clipped to [1e-7, 1]", "[losses][kld]") {
  const at::Tensor y_true = rows({0.2, 0.8, 0, 1}, 2), y_pred = rows({0.4, 0.6, 0.3, 0.7}, 2);
  // tf.keras 2.15 (reduction none): [0.09151622184943578, 0.3566734525264477].
  const at::Tensor none = losses::KLDivergence({.reduction = kNoReduction})(y_true, y_pred);
  const double s0 = 0.2 * std::log(0.2 / 0.4) + 0.8 * std::log(0.8 / 0.6);
  const double s1 = 1e-7 * std::log(1e-7 / 0.3) + 1.0 * std::log(1.0 / 0.7);
  CHECK(none[0].item<double>() == Approx(s0).epsilon(1e-12));
  CHECK(none[1].item<double>() == Approx(s1).epsilon(1e-12));
  CHECK(none[0].item<double>() == Approx(0.09151622184943578).epsilon(1e-12));
  CHECK(none[1].item<double>() == Approx(0.3566734525264477).epsilon(1e-12));
  // Identical distributions diverge by 0.
  CHECK(value(losses::KLDivergence()(y_pred, y_pred)) == Approx(0.0).margin(1e-15));
  CHECK(losses::KLDivergence().name() == "kl_divergence");
  loss_testing::check_gradient(losses::KLDivergence(), y_true, y_pred);
}

TEST_CASE("Poisson: mean(p - t * log(p + 1e-7))", "[losses][poisson]") {
  const at::Tensor y_true = rows({1, 2, 0, 3}, 2), y_pred = rows({1.5, 1, 0.5, 2}, 2);
  // tf.keras 2.15 (reduction none): [1.0472673126125907, 0.21027915416008414].
  const at::Tensor none = losses::Poisson({.reduction = kNoReduction})(y_true, y_pred);
  const double s0 = ((1.5 - std::log(1.5 + 1e-7)) + (1 - 2 * std::log(1 + 1e-7))) / 2;
  const double s1 = ((0.5 - 0 * std::log(0.5 + 1e-7)) + (2 - 3 * std::log(2 + 1e-7))) / 2;
  CHECK(none[0].item<double>() == Approx(s0).epsilon(1e-12));
  CHECK(none[1].item<double>() == Approx(s1).epsilon(1e-12));
  CHECK(none[0].item<double>() == Approx(1.0472673126125907).epsilon(1e-12));
  CHECK(none[1].item<double>() == Approx(0.21027915416008414).epsilon(1e-12));
  loss_testing::check_gradient(losses::Poisson(), y_true, y_pred);
}

TEST_CASE("BinaryCrossentropy on a direct call accepts targets outside [0, 1]; fit's check rejects them",
          "[losses][bce]") {
  // A GAN's noisy labels: target 1.05 with label smoothing 0.1 -> 1.05 * 0.9 + 0.05 = 0.995; 0 -> 0.05.
  // tf.keras 2.15 (reduction none): [0.3145572904109851].
  const at::Tensor y_true = rows({1.05, 0.0}, 2), y_pred = rows({0.8, 0.3}, 2);
  const losses::BinaryCrossentropy bce({.label_smoothing = 0.1, .reduction = kNoReduction});
  const double expected =
      -((0.995 * std::log(0.8) + 0.005 * std::log(0.2)) + (0.05 * std::log(0.3) + 0.95 * std::log(0.7))) / 2;
  CHECK(bce(y_true, y_pred)[0].item<double>() == Approx(expected).epsilon(1e-12));
  // tf.keras 2.15 takes log(p + 1e-7) where Keras 3 clips p: 1e-6 tolerance on its number.
  CHECK(bce(y_true, y_pred)[0].item<double>() == Approx(0.3145572904109851).epsilon(1e-6));
  // fit() validates its data set once through validate_targets.
  CHECK_THROWS_WITH(bce.validate_targets(y_true, {-1, 2}), Contains("[0, 1]") && Contains("1.05"));
  CHECK_NOTHROW(bce.validate_targets(rows({1, 0}, 2), {-1, 2}));
  // Shapes are still checked on every call.
  CHECK_THROWS_AS(bce(rows({1, 0, 1}, 3), y_pred), ShapeError);
}

TEST_CASE("BinaryCrossentropy and CategoricalCrossentropy reduce over `axis`", "[losses][bce][cce]") {
  // Classes on axis 1 of (batch, classes, time): the same numbers as classes last.
  const at::Tensor logits = at::sin(at::arange(12, at::kDouble)).reshape({2, 3, 2});
  const at::Tensor one_hot = at::zeros({2, 3, 2}, at::kDouble);
  one_hot[0][1][0] = 1, one_hot[0][0][1] = 1, one_hot[1][2][0] = 1, one_hot[1][2][1] = 1;
  const losses::CategoricalCrossentropy first({.from_logits = true, .axis = 1, .reduction = kNoReduction});
  const losses::CategoricalCrossentropy last({.from_logits = true, .reduction = kNoReduction});
  CHECK(at::allclose(first(one_hot, logits), last(one_hot.transpose(1, 2), logits.transpose(1, 2))));
  const losses::BinaryCrossentropy bce_first({.axis = 1, .reduction = kNoReduction});
  const at::Tensor probs = at::sigmoid(logits);
  CHECK(at::allclose(bce_first(one_hot, probs),
                     losses::BinaryCrossentropy({.reduction = kNoReduction})(one_hot.transpose(1, 2), probs.transpose(1, 2))));
  // tf.keras 2.15: CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)([[0, 1, 0]], [[1, 2, 3]]) =
  // 1.4076059644443804; targets [0.2/3, 0.8 + 0.2/3, 0.2/3].
  const at::Tensor smoothed = losses::CategoricalCrossentropy({.from_logits = true, .label_smoothing = 0.2})(
      rows({0, 1, 0}, 3), rows({1, 2, 3}, 3));
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double a = 0.2 / 3, b = 0.8 + 0.2 / 3;
  CHECK(value(smoothed) == Approx(a * (lse - 1) + b * (lse - 2) + a * (lse - 3)).epsilon(1e-12));
  CHECK(value(smoothed) == Approx(1.4076059644443804).epsilon(1e-12));
}

TEST_CASE("SparseCategoricalCrossentropy ignore_class: ignored labels add 0 and leave the mean", "[losses][scce]") {
  const at::Tensor probs = rows({0.1, 0.8, 0.1, 0.2, 0.3, 0.5, 0.6, 0.2, 0.2}, 3);
  const at::Tensor labels = at::tensor({1, -1, 0}, at::kLong);
  const losses::SparseCategoricalCrossentropy scce({.ignore_class = -1});
  // Valid samples 0 and 2: (-log 0.8 - log 0.6) / 2, the mean over the 2 samples kept (Keras masks them out).
  CHECK(value(scce(labels, probs)) == Approx((-std::log(0.8) - std::log(0.6)) / 2).epsilon(1e-12));
  const at::Tensor none = losses::SparseCategoricalCrossentropy({.ignore_class = -1, .reduction = kNoReduction})(labels, probs);
  CHECK(none[1].item<double>() == 0.0);
  CHECK(none[2].item<double>() == Approx(-std::log(0.6)));
  CHECK(value(losses::SparseCategoricalCrossentropy({.ignore_class = -1, .reduction = losses::Reduction::kSum})(
            labels, probs)) == Approx(-std::log(0.8) - std::log(0.6)));
  // Every label ignored: 0, not 0 / 0.
  CHECK(value(scce(at::tensor({-1, -1, -1}, at::kLong), probs)) == 0.0);
  // -1 passes the class-id check only as the ignored class; 3 never does.
  CHECK_THROWS_WITH(scce(at::tensor({1, 3, 0}, at::kLong), probs), Contains("[0, 3)"));
  CHECK_THROWS_AS(losses::SparseCategoricalCrossentropy()(labels, probs), ValueError);
  const auto restored = losses::SparseCategoricalCrossentropy::from_config(scce.get_config());
  CHECK(restored.get_config() == nlohmann::json{{"name", "sparse_categorical_crossentropy"},
                                                {"reduction", "sum_over_batch_size"},
                                                {"from_logits", false},
                                                {"ignore_class", -1}});
  CHECK(value(restored(labels, probs)) == Approx(value(scce(labels, probs))));
}

TEST_CASE("cross-entropy configs carry Keras' keys and round-trip", "[losses][config]") {
  const losses::BinaryCrossentropy bce({.from_logits = true, .label_smoothing = 0.1, .reduction = losses::Reduction::kSum, .name = "b"});
  CHECK(bce.get_config() == nlohmann::json{{"name", "b"}, {"reduction", "sum"}, {"from_logits", true},
                                           {"label_smoothing", 0.1}, {"axis", -1}});
  CHECK(losses::BinaryCrossentropy::from_config(bce.get_config()).get_config() == bce.get_config());
  const losses::CategoricalCrossentropy cce({.label_smoothing = 0.2, .axis = 1});
  CHECK(losses::CategoricalCrossentropy::from_config(cce.get_config()).get_config() == cce.get_config());
  CHECK(losses::KLDivergence::from_config({{"name", "k"}}).name() == "k");
  CHECK(losses::Poisson::from_config({{"reduction", "mean"}}).reduction() == losses::Reduction::kMean);
}
