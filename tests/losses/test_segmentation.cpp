// Dice and Tversky against Keras 3's docstring example and the formulas worked by hand.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/segmentation.h>

#include <catch2/catch.hpp>

#include "loss_testing.h"

using namespace strata;
using loss_testing::value;

namespace {

// Keras 3's Dice docstring example: two 2x2 single-channel masks.
at::Tensor masks_true() { return at::tensor({1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0}, at::kDouble).reshape({2, 2, 2, 1}); }
at::Tensor masks_pred() { return at::tensor({0.0, 1.0, 0.0, 1.0, 0.4, 0.0, 0.0, 0.9}, at::kDouble).reshape({2, 2, 2, 1}); }

}  // namespace

TEST_CASE("Dice: 1 - 2 |t p| / (|t| + |p|), per image with axis or over the batch without", "[losses][dice]") {
  // Sample 0: t [1, 1, 0, 0], p [0, 1, 0, 1]: 1 - 2 * 1 / (2 + 2) = 0.5. Sample 1: p [0.4, 0, 0, 0.9]:
  // 1 - 2 * 0.4 / (2 + 1.3) = 0.7575757576. Keras 3's docstring: [0.5, 0.75757575] and, with axis=None,
  // 1 - 2 * 1.4 / (4 + 3.3) = 0.6164384.
  const at::Tensor none = losses::Dice({.axis = std::vector<int64_t>{1, 2, 3}, .reduction = losses::Reduction::kNone})(
      masks_true(), masks_pred());
  REQUIRE(none.sizes() == at::IntArrayRef({2}));
  CHECK(none[0].item<double>() == Approx(0.5));
  CHECK(none[1].item<double>() == Approx(1 - 0.8 / 3.3));
  const losses::Dice per_image({.axis = std::vector<int64_t>{1, 2, 3}});
  CHECK(value(per_image(masks_true(), masks_pred())) == Approx((0.5 + 1 - 0.8 / 3.3) / 2));
  const at::Tensor whole = losses::Dice()(masks_true(), masks_pred());
  CHECK(whole.dim() == 0);
  CHECK(value(whole) == Approx(1 - 2.8 / 7.3));
  CHECK(value(whole) == Approx(0.6164384).epsilon(1e-6));
  // A scalar loss times sample weights [1, 0] averages to loss / 2, as Keras' broadcasting gives.
  CHECK(value(losses::Dice()(masks_true(), masks_pred(), at::tensor({1.0, 0.0}, at::kDouble))) ==
        Approx((1 - 2.8 / 7.3) / 2));
  // A perfect prediction: 0 (up to the 1e-7 in the denominator); all-empty masks: 1 - 0 / 1e-7 = 1.
  CHECK(value(losses::Dice()(masks_true(), masks_true())) == Approx(0.0).margin(1e-7));
  CHECK(value(losses::Dice()(at::zeros({2, 3}), at::zeros({2, 3}))) == Approx(1.0));
  loss_testing::check_gradient(per_image, masks_true(), masks_pred() * 0.8 + 0.1);

  CHECK(losses::Dice().get_config() ==
        nlohmann::json{{"name", "dice"}, {"reduction", "sum_over_batch_size"}, {"axis", nullptr}});
  const auto restored = losses::Dice::from_config(per_image.get_config());
  CHECK(restored.get_config().at("axis") == nlohmann::json({1, 2, 3}));
  CHECK(value(restored(masks_true(), masks_pred())) == Approx(value(per_image(masks_true(), masks_pred()))));
}

TEST_CASE("Tversky: alpha weighs sum((1 - p) t), beta weighs sum(p (1 - t)); 0.5/0.5 is Dice", "[losses][tversky]") {
  const std::vector<int64_t> axis = {1, 2, 3};
  // Sample 0: tp 1, sum((1 - p) t) 1, sum(p (1 - t)) 1 -> 1 - 1 / (1 + 0.7 + 0.3) = 0.5.
  // Sample 1: tp 0.4, sum((1 - p) t) = 0.6 + 1 = 1.6, sum(p (1 - t)) = 0.9 -> 1 - 0.4 / (0.4 + 1.12 + 0.27).
  const at::Tensor none = losses::Tversky({.alpha = 0.7, .beta = 0.3, .axis = axis, .reduction = losses::Reduction::kNone})(
      masks_true(), masks_pred());
  CHECK(none[0].item<double>() == Approx(0.5));
  CHECK(none[1].item<double>() == Approx(1 - 0.4 / 1.79));
  CHECK(value(losses::Tversky()(masks_true(), masks_pred())) ==
        Approx(value(losses::Dice()(masks_true(), masks_pred()))).epsilon(1e-6));
  loss_testing::check_gradient(losses::Tversky({.alpha = 0.7, .beta = 0.3, .axis = axis}), masks_true(),
                               masks_pred() * 0.8 + 0.1);
  const losses::Tversky custom({.alpha = 0.2, .beta = 0.8, .name = "tv"});
  CHECK(custom.get_config() == nlohmann::json{{"name", "tv"}, {"reduction", "sum_over_batch_size"}, {"alpha", 0.2},
                                              {"beta", 0.8}, {"axis", nullptr}});
  CHECK(losses::Tversky::from_config(custom.get_config()).get_config() == custom.get_config());
}
