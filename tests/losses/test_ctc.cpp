// CTC against a brute-force sum over every alignment (double precision) and tf.nn.ctc_loss as Keras 3's TensorFlow
// backend calls it (blank_index 0, batch-major logits).

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/ctc.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "loss_testing.h"

using namespace strata;
using Catch::Matchers::Contains;

namespace {

// -log of the summed probability of every path over `classes` of length T that collapses (merge repeats, drop
// blanks 0) to `label`; softmax written out.
double brute_force_ctc(const at::Tensor& logits, const std::vector<int64_t>& label) {
  const int64_t steps = logits.size(0), classes = logits.size(1);
  std::vector<std::vector<double>> prob(steps, std::vector<double>(classes));
  for (int64_t t = 0; t < steps; ++t) {
    double norm = 0;
    for (int64_t c = 0; c < classes; ++c) norm += std::exp(logits[t][c].item<double>());
    for (int64_t c = 0; c < classes; ++c) prob[t][c] = std::exp(logits[t][c].item<double>()) / norm;
  }
  int64_t paths = 1;
  for (int64_t t = 0; t < steps; ++t) paths *= classes;
  double total = 0;
  for (int64_t code = 0; code < paths; ++code) {
    std::vector<int64_t> path(steps);
    int64_t rest = code;
    for (int64_t t = 0; t < steps; ++t) path[t] = rest % classes, rest /= classes;
    std::vector<int64_t> collapsed;
    for (int64_t t = 0; t < steps; ++t)
      if (path[t] != 0 && (t == 0 || path[t] != path[t - 1])) collapsed.push_back(path[t]);
    if (collapsed != label) continue;
    double p = 1;
    for (int64_t t = 0; t < steps; ++t) p *= prob[t][path[t]];
    total += p;
  }
  return -std::log(total);
}

at::Tensor example_labels() { return at::tensor({1, 2, 0, 3, 3, 0, 1, 0, 0}, at::kInt).reshape({3, 3}); }
at::Tensor example_logits() { return (at::sin(at::arange(60, at::kDouble) * 0.7) * 2).reshape({3, 5, 4}); }

}  // namespace

TEST_CASE("CTC: one loss per sample, 0 is blank and padding, against every alignment", "[losses][ctc]") {
  const at::Tensor losses_none = losses::CTC({.reduction = losses::Reduction::kNone})(example_labels(), example_logits());
  REQUIRE(losses_none.sizes() == at::IntArrayRef({3}));
  const std::vector<std::vector<int64_t>> labels = {{1, 2}, {3, 3}, {1}};
  for (int64_t i = 0; i < 3; ++i)
    CHECK(losses_none[i].item<double>() == Approx(brute_force_ctc(example_logits()[i], labels[i])).epsilon(1e-10));
  // tf.nn.ctc_loss (TF 2.15, float32 logits, blank_index=0): [5.470515251159668, 3.862849235534668,
  // 5.912962436676025].
  const at::Tensor float_losses =
      losses::CTC({.reduction = losses::Reduction::kNone})(example_labels(), example_logits().to(at::kFloat));
  CHECK(float_losses[0].item<double>() == Approx(5.470515251159668).epsilon(1e-5));
  CHECK(float_losses[1].item<double>() == Approx(3.862849235534668).epsilon(1e-5));
  CHECK(float_losses[2].item<double>() == Approx(5.912962436676025).epsilon(1e-5));

  // The default reduction averages the per-sample losses; sample weights [1, 0, 1] keep samples 0 and 2.
  const double l0 = losses_none[0].item<double>(), l2 = losses_none[2].item<double>();
  CHECK(losses::CTC()(example_labels(), example_logits()).item<double>() == Approx(losses_none.mean().item<double>()));
  CHECK(losses::CTC()(example_labels(), example_logits(), at::tensor({1.0, 0.0, 1.0}, at::kDouble)).item<double>() ==
        Approx((l0 + l2) / 3));
  loss_testing::check_gradient(losses::CTC(), example_labels(), example_logits(), {}, 1e-5);

  // Labels [1, 1, 2] need at least 4 steps (a blank between the repeats); in 2 steps no alignment exists: inf,
  // as ATen and Keras 3's torch backend give.
  CHECK(std::isinf(losses::CTC()(at::tensor({1, 1, 2}, at::kLong).reshape({1, 3}),
                                 example_logits().narrow(0, 0, 1).narrow(1, 0, 2)).item<double>()));

  CHECK_THROWS_AS(losses::CTC()(at::tensor({1, 2, 0}, at::kLong), example_logits().narrow(0, 0, 3)), ShapeError);
  CHECK_THROWS_WITH(losses::CTC()(at::tensor({1, 4, 0, 3, 3, 0, 1, 0, 0}, at::kLong).reshape({3, 3}), example_logits()),
                    Contains("[0, 4)"));
  CHECK_THROWS_AS(losses::CTC()(example_labels(), example_logits().narrow(2, 0, 1).squeeze(2)), ShapeError);
  CHECK(losses::CTC::from_config(losses::CTC({.name = "c"}).get_config()).get_config() ==
        nlohmann::json{{"name", "c"}, {"reduction", "sum_over_batch_size"}});
}
