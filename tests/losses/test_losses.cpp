// Losses against hand-computed values (the arithmetic is in the comments), the reductions and sample weights,
// target validation, lookup by name, and the gradient of sparse categorical cross-entropy on logits.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/losses/loss.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>

#include <catch2/catch.hpp>
#include <cmath>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

at::Tensor rows(std::vector<double> values, int64_t cols) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kDouble).reshape({n / cols, cols});
}

double value(const at::Tensor& t) { return t.item<double>(); }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Regression

TEST_CASE("MeanSquaredError and MeanAbsoluteError on a hand-computed batch", "[losses][regression]") {
  // y_true = [[1, 2], [3, 4]], y_pred = [[1.5, 2], [2, 6]]
  // squared errors: [[0.25, 0], [1, 4]] -> per sample mean [0.125, 2.5] -> batch mean 1.3125
  // absolute errors: [[0.5, 0], [1, 2]] -> per sample mean [0.25, 1.5] -> batch mean 0.875
  const at::Tensor y_true = rows({1, 2, 3, 4}, 2), y_pred = rows({1.5, 2, 2, 6}, 2);
  CHECK(value(losses::MeanSquaredError()(y_true, y_pred)) == Approx(1.3125));
  CHECK(value(losses::MeanAbsoluteError()(y_true, y_pred)) == Approx(0.875));
  CHECK(losses::MeanSquaredError().name() == "mean_squared_error");
  CHECK(losses::MeanAbsoluteError().name() == "mean_absolute_error");
}

TEST_CASE("reductions sum, none, sum_over_batch_size and sample_weight", "[losses][reduction]") {
  // Per-sample MSE as above: [0.125, 2.5].
  const at::Tensor y_true = rows({1, 2, 3, 4}, 2), y_pred = rows({1.5, 2, 2, 6}, 2);
  using losses::Reduction;
  CHECK(value(losses::MeanSquaredError({.reduction = Reduction::kSum})(y_true, y_pred)) == Approx(2.625));
  at::Tensor none = losses::MeanSquaredError({.reduction = Reduction::kNone})(y_true, y_pred);
  REQUIRE(none.sizes() == at::IntArrayRef({2}));
  CHECK(none[0].item<double>() == Approx(0.125));
  CHECK(none[1].item<double>() == Approx(2.5));
  CHECK(value(losses::MeanSquaredError({.reduction = Reduction::kSumOverBatchSize})(y_true, y_pred)) ==
        Approx(1.3125));

  // sample_weight [2, 0.5]: weighted [0.25, 1.25]; sum 1.5; sum_over_batch_size divides by the 2 samples
  // (not by the weights' sum, as in Keras): 0.75; none keeps [0.25, 1.25].
  const at::Tensor w = at::tensor({2.0, 0.5}, at::kDouble);
  CHECK(value(losses::MeanSquaredError()(y_true, y_pred, w)) == Approx(0.75));
  CHECK(value(losses::MeanSquaredError({.reduction = Reduction::kSum})(y_true, y_pred, w)) == Approx(1.5));
  at::Tensor weighted_none = losses::MeanSquaredError({.reduction = Reduction::kNone})(y_true, y_pred, w);
  CHECK(weighted_none[0].item<double>() == Approx(0.25));
  CHECK(weighted_none[1].item<double>() == Approx(1.25));
  // A zero weight removes a sample's contribution but still counts it in the batch size: 2.5 * 1 / 2 = 1.25.
  CHECK(value(losses::MeanSquaredError()(y_true, y_pred, at::tensor({0.0, 1.0}, at::kDouble))) ==
        Approx(1.25));

  CHECK_THROWS_AS(losses::MeanSquaredError()(y_true, y_pred, at::tensor({1.0, 1.0, 1.0}, at::kDouble)),
                  ShapeError);
  CHECK(losses::parse_reduction("sum") == Reduction::kSum);
  CHECK(losses::parse_reduction("none") == Reduction::kNone);
  CHECK(losses::parse_reduction("sum_over_batch_size") == Reduction::kSumOverBatchSize);
  CHECK(losses::parse_reduction("mean") == Reduction::kMean);
  CHECK_THROWS_AS(losses::parse_reduction("avg"), ValueError);
  CHECK(losses::reduction_name(Reduction::kSum) == "sum");
}

TEST_CASE("regression targets of shape (batch,) compare with predictions of shape (batch, 1)",
          "[losses][regression]") {
  // y_true [1, 2, 3], y_pred [[2], [2], [5]]: squared errors 1, 0, 4 -> mean 5/3.
  CHECK(value(losses::MeanSquaredError()(at::tensor({1.0, 2.0, 3.0}, at::kDouble), rows({2, 2, 5}, 1))) ==
        Approx(5.0 / 3.0));
  CHECK_THROWS_AS(losses::MeanSquaredError()(rows({1, 2, 3, 4}, 2), rows({1, 2, 3}, 3).narrow(0, 0, 1)),
                  ShapeError);
  CHECK_THROWS_AS(losses::MeanSquaredError()(rows({1, 2, 3, 4, 5, 6}, 3), rows({1, 2, 3, 4}, 2)), ShapeError);
}

// ---------------------------------------------------------------------------------------------------------------
// Binary cross-entropy

TEST_CASE("BinaryCrossentropy on probabilities, logits, and with label smoothing", "[losses][bce]") {
  const at::Tensor y_true = rows({1, 0}, 2);
  SECTION("probabilities") {
    // -(1*log 0.8 + (1-0)*log(1-0.4)) / 2 = -(-0.2231435513 - 0.5108256238) / 2 = 0.3669845876
    const double expected = -(std::log(0.8) + std::log(0.6)) / 2.0;
    CHECK(expected == Approx(0.3669845876));
    CHECK(value(losses::BinaryCrossentropy()(y_true, rows({0.8, 0.4}, 2))) == Approx(expected));
  }
  SECTION("from logits") {
    // logits [0.5, -1]: -(log sigmoid(0.5) + log(1 - sigmoid(-1))) / 2
    //   = -(log 0.6224593312 + log 0.7310585786) / 2 = (0.4740769842 + 0.3132616875) / 2 = 0.3936693359
    const double expected = -(std::log(sigmoid(0.5)) + std::log(1.0 - sigmoid(-1.0))) / 2.0;
    CHECK(expected == Approx(0.3936693359));
    CHECK(value(losses::BinaryCrossentropy({.from_logits = true})(y_true, rows({0.5, -1.0}, 2))) ==
          Approx(expected));
  }
  SECTION("label smoothing 0.2: targets become y*(1-0.2) + 0.5*0.2, i.e. 1 -> 0.9 and 0 -> 0.1") {
    const double expected =
        -((0.9 * std::log(0.8) + 0.1 * std::log(0.2)) + (0.1 * std::log(0.4) + 0.9 * std::log(0.6))) / 2.0;
    CHECK(value(losses::BinaryCrossentropy({.label_smoothing = 0.2})(y_true, rows({0.8, 0.4}, 2))) ==
          Approx(expected));
  }
  SECTION("probabilities are clipped to [1e-7, 1 - 1e-7]") {
    // p = 0 for a positive target: -log(1e-7) = 16.1180956510
    CHECK(value(losses::BinaryCrossentropy()(rows({1}, 1), rows({0.0}, 1))) ==
          Approx(16.1180956510).epsilon(1e-6));
  }
  SECTION("targets of shape (batch,) against predictions (batch, 1)") {
    // [-log 0.9, -log(1 - 0.3)] mean = (0.1053605157 + 0.3566749439) / 2 = 0.2310177298
    CHECK(value(losses::BinaryCrossentropy()(at::tensor({1.0, 0.0}, at::kDouble), rows({0.9, 0.3}, 1))) ==
          Approx(0.2310177298));
  }
  // Direct calls check shapes only (Keras checks no values); fit() checks target values once.
  CHECK_NOTHROW(losses::BinaryCrossentropy()(rows({2, 0}, 2), rows({0.8, 0.4}, 2)));
  CHECK_THROWS_AS(losses::BinaryCrossentropy().validate_targets(rows({2, 0}, 2), {-1, 2}), ValueError);
  CHECK_THROWS_AS(losses::BinaryCrossentropy({.label_smoothing = 1.5}), ValueError);
}

// ---------------------------------------------------------------------------------------------------------------
// Categorical cross-entropy

TEST_CASE("CategoricalCrossentropy on probabilities, logits, and with label smoothing", "[losses][cce]") {
  const at::Tensor one_hot = rows({0, 1, 0, 0, 0, 1}, 3);
  const at::Tensor probs = rows({0.1, 0.8, 0.1, 0.2, 0.3, 0.5}, 3);
  SECTION("probabilities") {
    // [-log 0.8, -log 0.5] = [0.2231435513, 0.6931471806] -> mean 0.4581453659
    CHECK(value(losses::CategoricalCrossentropy()(one_hot, probs)) == Approx(0.4581453659));
  }
  SECTION("from logits") {
    // logits [1, 2, 3], class 2: -log(e^3 / (e + e^2 + e^3)) = log(1 + e^-1 + e^-2) = log 1.5032147244 =
    // 0.4076059644
    CHECK(value(losses::CategoricalCrossentropy({.from_logits = true})(
              rows({0, 0, 1}, 3), rows({1, 2, 3}, 3))) == Approx(0.4076059644));
  }
  SECTION("label smoothing 0.3 with 3 classes: y*(1-0.3) + 0.3/3") {
    // Sample 0 targets [0.1, 0.8, 0.1] against [0.1, 0.8, 0.1]; sample 1 [0.1, 0.1, 0.8] against [0.2, 0.3,
    // 0.5].
    const double s0 = -(0.1 * std::log(0.1) + 0.8 * std::log(0.8) + 0.1 * std::log(0.1));
    const double s1 = -(0.1 * std::log(0.2) + 0.1 * std::log(0.3) + 0.8 * std::log(0.5));
    CHECK(value(losses::CategoricalCrossentropy({.label_smoothing = 0.3})(one_hot, probs)) ==
          Approx((s0 + s1) / 2.0));
  }
  SECTION("clipping at Keras' epsilon 1e-7") {
    // The true class has probability 0: -log(1e-7) = 16.1180956510
    CHECK(value(losses::CategoricalCrossentropy()(rows({0, 1}, 2), rows({1.0, 0.0}, 2))) ==
          Approx(16.1180956510).epsilon(1e-6));
  }
  CHECK_THROWS_AS(losses::CategoricalCrossentropy()(at::tensor({1, 2}, at::kLong), probs), ShapeError);
  CHECK_THROWS_AS(losses::CategoricalCrossentropy()(rows({0, 1, 0}, 3), rows({0.5, 0.5}, 2)), ShapeError);
}

// ---------------------------------------------------------------------------------------------------------------
// Sparse categorical cross-entropy

TEST_CASE("SparseCategoricalCrossentropy on probabilities and logits, labels (B,) or (B,1)",
          "[losses][scce]") {
  const at::Tensor probs = rows({0.1, 0.8, 0.1, 0.2, 0.3, 0.5}, 3);
  // Labels [1, 2]: [-log 0.8, -log 0.5] -> mean 0.4581453659
  CHECK(value(losses::SparseCategoricalCrossentropy()(at::tensor({1, 2}, at::kLong), probs)) ==
        Approx(0.4581453659));
  CHECK(value(losses::SparseCategoricalCrossentropy()(at::tensor({1, 2}, at::kLong).reshape({2, 1}),
                                                      probs)) == Approx(0.4581453659));
  CHECK(value(losses::SparseCategoricalCrossentropy()(at::tensor({1.0, 2.0}, at::kDouble), probs)) ==
        Approx(0.4581453659));
  CHECK(value(losses::SparseCategoricalCrossentropy()(at::tensor({1, 2}, at::kByte), probs)) ==
        Approx(0.4581453659));

  // Logits [[1, 2, 3], [0, 0, 0]] with labels [2, 0]: [log(1 + e^-1 + e^-2), log 3] =
  // [0.4076059644, 1.0986122887]
  const at::Tensor logits = rows({1, 2, 3, 0, 0, 0}, 3);
  const double expected = (0.4076059644 + 1.0986122887) / 2.0;
  losses::SparseCategoricalCrossentropy scce({.from_logits = true});
  CHECK(value(scce(at::tensor({2, 0}, at::kLong), logits)) == Approx(expected));
  CHECK(value(scce(at::tensor({2, 0}, at::kLong).reshape({2, 1}), logits)) == Approx(expected));

  at::Tensor none = losses::SparseCategoricalCrossentropy(
      {.from_logits = true, .reduction = losses::Reduction::kNone})(at::tensor({2, 0}, at::kLong), logits);
  CHECK(none[0].item<double>() == Approx(0.4076059644));
  CHECK(none[1].item<double>() == Approx(1.0986122887));
}

TEST_CASE("SparseCategoricalCrossentropy: labels outside 0 <= label < num_classes throw ValueError naming the range",
          "[losses][scce][errors]") {
  const at::Tensor logits = at::zeros({3, 10}, at::kDouble);
  losses::SparseCategoricalCrossentropy scce({.from_logits = true});
  CHECK_THROWS_AS(scce(at::tensor({0, 10, 3}, at::kLong), logits), ValueError);
  CHECK_THROWS_WITH(scce(at::tensor({0, 10, 3}, at::kLong), logits), Contains("[0, 10)") && Contains("10"));
  CHECK_THROWS_AS(scce(at::tensor({-1, 0, 3}, at::kLong), logits), ValueError);
  CHECK_THROWS_WITH(scce(at::tensor({-1, 0, 3}, at::kLong), logits), Contains("[0, 10)") && Contains("-1"));
  // A non-integer float label is not a class id.
  CHECK_THROWS_AS(scce(at::tensor({0.5, 0.0, 3.0}, at::kDouble), logits), ValueError);
  // Wrong label shape.
  CHECK_THROWS_AS(scce(at::zeros({3, 2}, at::kLong), logits), ShapeError);
  // The boundary values 0 and 9 are fine: each loss is log 10 on uniform logits.
  CHECK(value(scce(at::tensor({0, 9, 9}, at::kLong), logits)) == Approx(std::log(10.0)));
}

TEST_CASE("gradient of SCCE from logits is (softmax - onehot) / B", "[losses][scce][gradient]") {
  const int64_t batch = 4, classes = 5;
  at::Tensor logits =
      at::linspace(-2.0, 3.0, batch * classes, at::kDouble).reshape({batch, classes}).sin() * 2.0;
  logits.requires_grad_(true);
  const at::Tensor labels = at::tensor({3, 0, 4, 1}, at::kLong);
  at::Tensor loss = losses::SparseCategoricalCrossentropy({.from_logits = true})(labels, logits);
  loss.backward();

  // softmax written out: exp(z_i) / sum_j exp(z_j), row by row.
  at::Tensor z = logits.detach();
  at::Tensor softmax = z.exp() / z.exp().sum(1, true);
  at::Tensor one_hot = at::zeros({batch, classes}, at::kDouble);
  for (int64_t i = 0; i < batch; ++i) one_hot[i][labels[i].item<int64_t>()] = 1.0;
  at::Tensor expected = (softmax - one_hot) / static_cast<double>(batch);
  CHECK(at::allclose(logits.grad(), expected, 1e-10, 1e-12));
}

// ---------------------------------------------------------------------------------------------------------------
// Lookup

TEST_CASE("losses::get resolves Keras names, unknown names throw", "[losses][registry]") {
  CHECK(losses::get("mse")->class_name() == "MeanSquaredError");
  CHECK(losses::get("mean_squared_error")->class_name() == "MeanSquaredError");
  CHECK(losses::get("mae")->class_name() == "MeanAbsoluteError");
  CHECK(losses::get("binary_crossentropy")->class_name() == "BinaryCrossentropy");
  CHECK(losses::get("categorical_crossentropy")->class_name() == "CategoricalCrossentropy");
  CHECK(losses::get("sparse_categorical_crossentropy")->class_name() == "SparseCategoricalCrossentropy");
  CHECK(losses::get("sparse_categorical_crossentropy")->reduction() == losses::Reduction::kSumOverBatchSize);
  CHECK_THROWS_AS(losses::get("msee"), ValueError);
  CHECK_THROWS_WITH(losses::get("msee"), Contains("msee") && Contains("mse"));
  // A loss from a name computes the same value as the object: MSE of [[1, 2]] vs [[2, 4]] = (1 + 4) / 2
  // = 2.5.
  CHECK(value((*losses::get("mse"))(rows({1, 2}, 2), rows({2, 4}, 2))) == Approx(2.5));
  losses::Spec spec = "mae";
  CHECK(spec->class_name() == "MeanAbsoluteError");
}

TEST_CASE("a loss weighs (samples, 1) sample weights like (samples,)", "[losses][reduction]") {
  // Per-sample squared errors [1, 4, 9]; weights [1, 0, 0]: sum_over_batch_size = 1 / 3, whichever shape.
  const at::Tensor y = at::zeros({3, 1}), p = at::tensor({1.0f, 2.0f, 3.0f}).reshape({3, 1});
  const at::Tensor w = at::tensor({1.0f, 0.0f, 0.0f});
  strata::losses::MeanSquaredError mse;
  CHECK(mse(y, p, w).item<double>() == Approx(1.0 / 3.0));
  CHECK(mse(y, p, w.reshape({3, 1})).item<double>() == Approx(1.0 / 3.0));
}
