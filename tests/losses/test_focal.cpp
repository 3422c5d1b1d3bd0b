// BinaryFocalCrossentropy and CategoricalFocalCrossentropy against the formulas written out per entry,
// Keras 3's docstring values and tf.keras 2.15 values.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/focal.h>
#include <strata/losses/probabilistic.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>

#include "loss_testing.h"

using namespace strata;
using loss_testing::rows;
using loss_testing::value;
using Catch::Matchers::Contains;

namespace {

const auto kNoReduction = losses::Reduction::kNone;

// One entry of the binary focal loss: target y (already smoothed), probability p.
double focal_entry(double y, double p, double gamma, std::optional<double> alpha) {
  const double c = std::clamp(p, 1e-7, 1 - 1e-7);
  const double bce = -(y * std::log(c) + (1 - y) * std::log(1 - c));
  const double p_t = y * p + (1 - y) * (1 - p);
  const double weight = alpha ? y * *alpha + (1 - y) * (1 - *alpha) : 1.0;
  return weight * std::pow(1 - p_t, gamma) * bce;
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

}  // namespace

TEST_CASE("BinaryFocalCrossentropy: (1 - p_t)^gamma * bce, class balancing, smoothing, logits",
          "[losses][binary_focal_crossentropy]") {
  const at::Tensor y_true = rows({0, 1, 0, 0}, 2), y_pred = rows({0.6, 0.4, 0.4, 0.6}, 2);
  // Keras 3 docstring (gamma 2): [0.330, 0.206]; tf.keras 2.15: [0.32986457347470705, 0.20579832330530057].
  // tf.keras 2.15 takes log(p + 1e-7) where Keras 3 clips p to [1e-7, 1 - 1e-7], hence the 1e-6 tolerance on its
  // numbers; the formula written out (Keras 3's) matches to 1e-12.
  const at::Tensor none = losses::BinaryFocalCrossentropy({.reduction = kNoReduction})(y_true, y_pred);
  CHECK(none[0].item<double>() == Approx(0.32986457347470705).epsilon(1e-6));
  CHECK(none[1].item<double>() == Approx(0.20579832330530057).epsilon(1e-6));
  CHECK(none[0].item<double>() ==
        Approx((focal_entry(0, 0.6, 2, {}) + focal_entry(1, 0.4, 2, {})) / 2).epsilon(1e-12));

  // Balancing with alpha 0.3, gamma 1.5, smoothing 0.2 (targets 0 -> 0.1, 1 -> 0.9).
  // tf.keras 2.15: [0.19341455593143742, 0.020047792599968535].
  const losses::BinaryFocalCrossentropy balanced(
      {.apply_class_balancing = true, .alpha = 0.3, .gamma = 1.5, .label_smoothing = 0.2, .reduction = kNoReduction});
  const at::Tensor b = balanced(rows({0, 1, 1, 0}, 2), rows({0.6, 0.4, 0.9, 0.2}, 2));
  CHECK(b[0].item<double>() ==
        Approx((focal_entry(0.1, 0.6, 1.5, 0.3) + focal_entry(0.9, 0.4, 1.5, 0.3)) / 2).epsilon(1e-12));
  CHECK(b[0].item<double>() == Approx(0.19341455593143742).epsilon(1e-6));
  CHECK(b[1].item<double>() == Approx(0.020047792599968535).epsilon(1e-6));

  // From logits: sigmoid first. tf.keras 2.15: 0.6932789388057311 for [[0, 1, 0, 0]] vs [[-1.6, 0.51, 2.94, -1.8]].
  const at::Tensor logits = rows({-1.6, 0.51, 2.94, -1.8}, 4);
  const double expected = (focal_entry(0, sigmoid(-1.6), 2, {}) + focal_entry(1, sigmoid(0.51), 2, {}) +
                           focal_entry(0, sigmoid(2.94), 2, {}) + focal_entry(0, sigmoid(-1.8), 2, {})) / 4;
  const losses::BinaryFocalCrossentropy from_logits({.from_logits = true});
  CHECK(value(from_logits(rows({0, 1, 0, 0}, 4), logits)) == Approx(expected).epsilon(1e-12));
  CHECK(value(from_logits(rows({0, 1, 0, 0}, 4), logits)) == Approx(0.6932789388057311).epsilon(1e-6));
  // gamma 0 is plain binary cross-entropy.
  CHECK(value(losses::BinaryFocalCrossentropy({.gamma = 0})(y_true, y_pred)) ==
        Approx(value(losses::BinaryCrossentropy()(y_true, y_pred))));
  loss_testing::check_gradient(losses::BinaryFocalCrossentropy({.from_logits = true}), rows({0, 1, 0, 0}, 4), logits);

  const losses::BinaryFocalCrossentropy custom({.apply_class_balancing = true, .alpha = 0.4, .gamma = 3, .name = "f"});
  CHECK(custom.get_config() == nlohmann::json{{"name", "f"}, {"reduction", "sum_over_batch_size"},
                                              {"from_logits", false}, {"label_smoothing", 0.0}, {"axis", -1},
                                              {"apply_class_balancing", true}, {"alpha", 0.4}, {"gamma", 3.0}});
  CHECK(losses::BinaryFocalCrossentropy::from_config(custom.get_config()).get_config() == custom.get_config());
  CHECK_THROWS_WITH(custom.validate_targets(rows({2, 0}, 2), {-1, 2}), Contains("[0, 1]"));
}

TEST_CASE("CategoricalFocalCrossentropy: alpha * (1 - p)^gamma * -y log p summed over classes",
          "[losses][categorical_focal_crossentropy]") {
  const at::Tensor y_true = rows({0, 1, 0, 0, 0, 1}, 3), y_pred = rows({0.05, 0.95, 0, 0.1, 0.8, 0.1}, 3);
  // Keras 3 docstring (reduction none): [3.2058331e-05, 4.6627346e-01]; tf.keras 2.15: [3.2058308992219164e-05,
  // 0.46627348133129426]. By hand: 0.25 * 0.05^2 * -log 0.95 and 0.25 * 0.9^2 * -log 0.1.
  const at::Tensor none = losses::CategoricalFocalCrossentropy({.reduction = kNoReduction})(y_true, y_pred);
  CHECK(none[0].item<double>() == Approx(0.25 * 0.0025 * -std::log(0.95)).epsilon(1e-9));
  CHECK(none[1].item<double>() == Approx(0.25 * 0.81 * -std::log(0.1)).epsilon(1e-12));
  CHECK(none[1].item<double>() == Approx(0.46627348133129426).epsilon(1e-12));
  CHECK(value(losses::CategoricalFocalCrossentropy()(y_true, y_pred)) == Approx(0.23315276).epsilon(1e-6));

  // Logits, alpha 0.5, gamma 1, smoothing 0.1 (targets 0.1/3 and 0.9 + 0.1/3).
  // tf.keras 2.15: [0.12741000817867956, 0.5238955441252287].
  const at::Tensor logits = rows({1.0, 2.0, 0.5, 0.2, -0.3, 1.1}, 3), labels = rows({0, 1, 0, 1, 0, 0}, 3);
  const losses::CategoricalFocalCrossentropy cfce(
      {.alpha = {0.5}, .gamma = 1.0, .from_logits = true, .label_smoothing = 0.1, .reduction = kNoReduction});
  const at::Tensor got = cfce(labels, logits);
  double row0 = 0;
  const double z[3] = {1.0, 2.0, 0.5};
  const double norm = std::exp(z[0]) + std::exp(z[1]) + std::exp(z[2]);
  for (int c = 0; c < 3; ++c) {
    const double p = std::exp(z[c]) / norm, y = (c == 1 ? 0.9 : 0.0) + 0.1 / 3;
    row0 += 0.5 * (1 - p) * -y * std::log(p);
  }
  CHECK(got[0].item<double>() == Approx(row0).epsilon(1e-12));
  CHECK(got[0].item<double>() == Approx(0.12741000817867956).epsilon(1e-12));
  CHECK(got[1].item<double>() == Approx(0.5238955441252287).epsilon(1e-12));

  // Per-class alpha weighs each class's term.
  const at::Tensor per_class = losses::CategoricalFocalCrossentropy({.alpha = {1.0, 2.0, 3.0}, .reduction = kNoReduction})(
      y_true, y_pred);
  CHECK(per_class[1].item<double>() == Approx(3.0 * 0.81 * -std::log(0.1)).epsilon(1e-12));
  CHECK_THROWS_WITH(losses::CategoricalFocalCrossentropy({.alpha = {1.0, 2.0}})(y_true, y_pred),
                    Contains("one alpha per class"));
  loss_testing::check_gradient(losses::CategoricalFocalCrossentropy({.from_logits = true}), labels, logits);

  const losses::CategoricalFocalCrossentropy listed({.alpha = {0.2, 0.3, 0.5}, .gamma = 1.5});
  CHECK(listed.get_config().at("alpha") == nlohmann::json({0.2, 0.3, 0.5}));
  CHECK(losses::CategoricalFocalCrossentropy::from_config(listed.get_config()).get_config() == listed.get_config());
  CHECK(losses::CategoricalFocalCrossentropy().get_config().at("alpha") == 0.25);
}
