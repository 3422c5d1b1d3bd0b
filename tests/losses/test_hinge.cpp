// Hinge, SquaredHinge and CategoricalHinge against the formulas written out per entry and tf.keras 2.15 values,
// including Keras' conversion of 0/1 labels to -1/1.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/losses/hinge.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "loss_testing.h"

using namespace strata;
using loss_testing::rows;
using loss_testing::value;

namespace {

const auto kNoReduction = losses::Reduction::kNone;

// mean over the row of max(1 - t * p, 0)^power, t taken as given (already -1/1).
double hinge_row(std::vector<double> t, std::vector<double> p, int power) {
  double sum = 0;
  for (size_t j = 0; j < t.size(); ++j) {
    const double m = std::max(1.0 - t[j] * p[j], 0.0);
    sum += power == 2 ? m * m : m;
  }
  return sum / static_cast<double>(t.size());
}

}  // namespace

TEST_CASE("Hinge and SquaredHinge: 0/1 labels become -1/1, -1/1 labels stay", "[losses][hinge]") {
  const at::Tensor y_pred = rows({0.6, 0.4, -0.3, 0.8}, 2);
  // tf.keras 2.15 (reduction none) gives [1.1, 1.55] for labels [[0, 1], [1, 0]] and for [[-1, 1], [1, -1]].
  const double r0 = hinge_row({-1, 1}, {0.6, 0.4}, 1), r1 = hinge_row({1, -1}, {-0.3, 0.8}, 1);
  CHECK(r0 == Approx(1.1));
  CHECK(r1 == Approx(1.55));
  for (const at::Tensor& labels : {rows({0, 1, 1, 0}, 2), rows({-1, 1, 1, -1}, 2)}) {
    const at::Tensor none = losses::Hinge({.reduction = kNoReduction})(labels, y_pred);
    CHECK(none[0].item<double>() == Approx(r0).epsilon(1e-12));
    CHECK(none[1].item<double>() == Approx(r1).epsilon(1e-12));
    // tf.keras 2.15: SquaredHinge gives [1.4600000000000002, 2.4650000000000003].
    const at::Tensor squared = losses::SquaredHinge({.reduction = kNoReduction})(labels, y_pred);
    CHECK(squared[0].item<double>() == Approx(hinge_row({-1, 1}, {0.6, 0.4}, 2)).epsilon(1e-12));
    CHECK(squared[1].item<double>() == Approx(2.4650000000000003).epsilon(1e-12));
  }
  // Labels that are not all 0/1 are used as given: 0 stays 0, so its margin is max(1 - 0, 0) = 1.
  const at::Tensor mixed = losses::Hinge({.reduction = kNoReduction})(rows({-1, 0}, 2), rows({0.5, 3.0}, 2));
  CHECK(mixed[0].item<double>() == Approx((1.5 + 1.0) / 2));
  // Beyond the margin the loss is 0.
  CHECK(value(losses::Hinge()(rows({1, -1}, 2), rows({2.0, -1.5}, 2))) == 0.0);
  // Targets (batch,) against predictions (batch, 1).
  CHECK(value(losses::Hinge()(at::tensor({1.0, 0.0}, at::kDouble), rows({0.5, 0.5}, 1))) ==
        Approx((0.5 + 1.5) / 2));
  loss_testing::check_gradient(losses::SquaredHinge(), rows({0, 1, 1, 0}, 2), y_pred);
  CHECK(losses::Hinge().name() == "hinge");
  CHECK(losses::SquaredHinge::from_config({{"name", "sh"}, {"reduction", "sum"}}).get_config() ==
        nlohmann::json{{"name", "sh"}, {"reduction", "sum"}});
}

TEST_CASE("CategoricalHinge: max(max((1 - t) * p) - sum(t * p) + 1, 0)", "[losses][categorical_hinge]") {
  const at::Tensor y_true = rows({0, 1, 0, 0, 0, 1}, 3), y_pred = rows({0.5, 0.2, 0.3, 0.1, 0.1, 0.8}, 3);
  // tf.keras 2.15 (reduction none): [1.3, 0.29999999999999993]. By hand: neg 0.5, pos 0.2 -> 1.3; neg 0.1, pos
  // 0.8 -> 0.3.
  const at::Tensor none = losses::CategoricalHinge({.reduction = kNoReduction})(y_true, y_pred);
  CHECK(none[0].item<double>() == Approx(1.3).epsilon(1e-12));
  CHECK(none[1].item<double>() == Approx(0.3).epsilon(1e-12));
  CHECK(value(losses::CategoricalHinge()(y_true, y_pred)) == Approx(0.8));
  // A margin beyond 1: 0.
  CHECK(value(losses::CategoricalHinge()(rows({1, 0}, 2), rows({3.0, 1.0}, 2))) == 0.0);
  // Away from ties in the max (non-differentiable there).
  loss_testing::check_gradient(losses::CategoricalHinge(), y_true, rows({0.5, 0.2, 0.3, 0.1, 0.2, 0.8}, 3));
  CHECK(losses::CategoricalHinge().name() == "categorical_hinge");
}
