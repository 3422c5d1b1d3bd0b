// Keras 3's reductions ("sum_over_batch_size", "mean", "sum", "none", "mean_with_sample_weight") with sample
// weights and masks on per-timestep losses, empty batches, and the names losses::get resolves.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/ctc.h>
#include <strata/losses/focal.h>
#include <strata/losses/hinge.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>
#include <strata/losses/segmentation.h>

#include <catch2/catch.hpp>

#include "loss_testing.h"

using namespace strata;
using loss_testing::rows;
using loss_testing::value;
using losses::Reduction;

namespace {

losses::MeanSquaredError mse(Reduction reduction) { return losses::MeanSquaredError({.reduction = reduction}); }

}  // namespace

TEST_CASE("mean equals sum_over_batch_size; mean_with_sample_weight divides by the weights' sum",
          "[losses][reduction]") {
  // Per-sample MSE of [[1, 2], [3, 4]] vs [[1.5, 2], [2, 6]]: [0.125, 2.5].
  const at::Tensor y_true = rows({1, 2, 3, 4}, 2), y_pred = rows({1.5, 2, 2, 6}, 2);
  const at::Tensor w = at::tensor({2.0, 0.5}, at::kDouble);
  CHECK(value(mse(Reduction::kMean)(y_true, y_pred)) == Approx(1.3125));
  CHECK(value(mse(Reduction::kMean)(y_true, y_pred, w)) == Approx((0.25 + 1.25) / 2));
  // Weighted [0.25, 1.25] summed, over the weights' sum 2.5: 0.6. Without weights it is the plain mean.
  CHECK(value(mse(Reduction::kMeanWithSampleWeight)(y_true, y_pred, w)) == Approx(0.6));
  CHECK(value(mse(Reduction::kMeanWithSampleWeight)(y_true, y_pred)) == Approx(1.3125));
  // All-zero weights: 0 (Keras' divide_no_nan), with a finite gradient.
  const at::Tensor zero_w = at::zeros({2}, at::kDouble);
  CHECK(value(mse(Reduction::kMeanWithSampleWeight)(y_true, y_pred, zero_w)) == 0.0);
  loss_testing::check_gradient(mse(Reduction::kMeanWithSampleWeight), y_true, y_pred, zero_w);
  loss_testing::check_gradient(mse(Reduction::kMeanWithSampleWeight), y_true, y_pred, w);

  for (const char* name : {"sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight"})
    CHECK(losses::reduction_name(losses::parse_reduction(name)) == name);
  CHECK(losses::parse_reduction("auto") == Reduction::kSumOverBatchSize);
  CHECK_THROWS_AS(losses::parse_reduction("average"), ValueError);
  CHECK(losses::reduction_from_config({{"reduction", nullptr}}) == Reduction::kNone);
  CHECK(losses::reduction_from_config({{"reduction", "mean_with_sample_weight"}}) == Reduction::kMeanWithSampleWeight);
}

TEST_CASE("a (batch, time) mask on per-timestep losses under every reduction", "[losses][reduction][mask]") {
  // Predictions (2, 3, 1) give per-entry squared errors (2, 3): [[1, 4, 9], [16, 25, 36]].
  const at::Tensor y_true = at::zeros({2, 3, 1}, at::kDouble);
  const at::Tensor y_pred = at::arange(1, 7, at::kDouble).reshape({2, 3, 1});
  const at::Tensor mask = at::tensor({1, 1, 0, 1, 0, 0}).to(at::kBool).reshape({2, 3});
  const at::Tensor w = at::tensor({2.0, 1.0}, at::kDouble);
  // Kept entries 1, 4, 16: sum 21; sum_over_batch_size averages over the 3 kept: 7.
  CHECK(value(mse(Reduction::kSum)(y_true, y_pred, {}, mask)) == Approx(21));
  CHECK(value(mse(Reduction::kSumOverBatchSize)(y_true, y_pred, {}, mask)) == Approx(7));
  CHECK(value(mse(Reduction::kMean)(y_true, y_pred, {}, mask)) == Approx(7));
  CHECK(value(mse(Reduction::kMeanWithSampleWeight)(y_true, y_pred, {}, mask)) == Approx(7));
  const at::Tensor none = mse(Reduction::kNone)(y_true, y_pred, {}, mask);
  CHECK(at::equal(none, at::tensor({1.0, 4.0, 0.0, 16.0, 0.0, 0.0}, at::kDouble).reshape({2, 3})));
  // Weights 2 and 1 per sample: 2 + 8 + 16 = 26; sum_over_batch_size / 3 kept; mean_with_sample_weight / (2+2+1).
  CHECK(value(mse(Reduction::kSumOverBatchSize)(y_true, y_pred, w, mask)) == Approx(26.0 / 3));
  CHECK(value(mse(Reduction::kMeanWithSampleWeight)(y_true, y_pred, w, mask)) == Approx(26.0 / 5));
  // Everything masked: 0 and a finite gradient.
  const at::Tensor nothing = at::zeros({2, 3}, at::kBool);
  at::Tensor x = y_pred.clone().requires_grad_(true);
  at::Tensor loss = mse(Reduction::kSumOverBatchSize)(y_true, x, {}, nothing);
  CHECK(value(loss) == 0.0);
  loss.backward();
  CHECK(at::isfinite(x.grad()).all().item<bool>());
  CHECK_THROWS_AS(mse(Reduction::kSum)(y_true, y_pred, {}, at::ones({2, 4}, at::kBool)), ShapeError);
}

TEST_CASE("an empty batch reduces to 0", "[losses][reduction]") {
  const at::Tensor y_true = at::zeros({0, 2}, at::kDouble), y_pred = at::zeros({0, 2}, at::kDouble);
  CHECK(value(losses::MeanSquaredError()(y_true, y_pred)) == 0.0);
  CHECK(value(losses::Huber({.reduction = Reduction::kSum})(y_true, y_pred)) == 0.0);
  CHECK(value(losses::Hinge({.reduction = Reduction::kMeanWithSampleWeight})(y_true, y_pred)) == 0.0);
  CHECK(losses::LogCosh({.reduction = Reduction::kNone})(y_true, y_pred).sizes() == at::IntArrayRef({0}));
  CHECK(value(losses::CategoricalCrossentropy()(y_true, y_pred)) == 0.0);
  CHECK(value(losses::SparseCategoricalCrossentropy()(at::zeros({0}, at::kLong), y_pred)) == 0.0);
}

TEST_CASE("losses::get resolves Keras 3's names and class names", "[losses][registry]") {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"huber", "Huber"},
      {"log_cosh", "LogCosh"},
      {"logcosh", "LogCosh"},
      {"mape", "MeanAbsolutePercentageError"},
      {"mean_absolute_percentage_error", "MeanAbsolutePercentageError"},
      {"msle", "MeanSquaredLogarithmicError"},
      {"mean_squared_logarithmic_error", "MeanSquaredLogarithmicError"},
      {"kld", "KLDivergence"},
      {"kl_divergence", "KLDivergence"},
      {"kullback_leibler_divergence", "KLDivergence"},
      {"poisson", "Poisson"},
      {"cosine_similarity", "CosineSimilarity"},
      {"hinge", "Hinge"},
      {"squared_hinge", "SquaredHinge"},
      {"categorical_hinge", "CategoricalHinge"},
      {"binary_focal_crossentropy", "BinaryFocalCrossentropy"},
      {"categorical_focal_crossentropy", "CategoricalFocalCrossentropy"},
      {"dice", "Dice"},
      {"tversky", "Tversky"},
      {"ctc", "CTC"},
      {"MSE", "MeanSquaredError"},
      {"Huber", "Huber"},
      {"CategoricalFocalCrossentropy", "CategoricalFocalCrossentropy"},
  };
  for (const auto& [name, class_name] : names) {
    INFO(name);
    CHECK(losses::get(name)->class_name() == class_name);
  }
  // A name gives the class's defaults: Huber's delta 1 -> error 2 costs 1 * 2 - 0.5 = 1.5.
  CHECK(value((*losses::get("huber"))(rows({0}, 1), rows({2}, 1))) == Approx(1.5));
}
