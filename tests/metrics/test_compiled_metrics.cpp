// compile() with the regression and top-k metrics by name and as objects: evaluate() reports what the
// formulas give on predict()'s output, over batches of unequal size, with and without sample weights.

#include <ATen/ATen.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/losses/regression.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/mean.h>
#include <strata/metrics/regression.h>
#include <strata/models/sequential.h>

#include <catch2/catch.hpp>

#include <cmath>

using namespace strata;

namespace {

// Fraction of rows whose target class has fewer than k strictly higher scores, weighted by w.
double top_k(const at::Tensor& y, const at::Tensor& p, int64_t k, const at::Tensor& w) {
  const auto labels = y.argmax(-1);
  double hits = 0, count = 0;
  for (int64_t i = 0; i < p.size(0); ++i) {
    const double target = p[i][labels[i].item<int64_t>()].item<double>();
    const int64_t higher = (p[i] > target).sum().item<int64_t>();
    hits += w[i].item<double>() * (higher < k), count += w[i].item<double>();
  }
  return hits / count;
}

}  // namespace

TEST_CASE("compile metrics mae, root_mean_squared_error, top_k_categorical_accuracy in evaluate()",
          "[metrics][compile]") {
  set_random_seed(11);
  Sequential model({layers::Input({5}), layers::Dense(8, {.activation = "softmax"})});
  model.compile({.optimizer = "sgd",
                 .loss = "categorical_crossentropy",
                 .metrics = {"mae", "root_mean_squared_error", "top_k_categorical_accuracy",
                             metrics::TopKCategoricalAccuracy({.k = 2, .name = "top2"}),
                             metrics::MeanMetricWrapper(losses::MeanSquaredError(), "mse_of_loss")},
                 .weighted_metrics = {"mae", "top_k_categorical_accuracy"}});
  const at::Tensor x = at::randn({11, 5});
  const at::Tensor y = at::one_hot(at::randint(0, 8, {11}), 8).to(at::kFloat);
  const at::Tensor w = at::rand({11}) + 0.1;
  const at::Tensor ones = at::ones({11});

  const at::Tensor p = model.predict(x, {.batch_size = 4, .verbose = 0}).to(at::kDouble);
  const at::Tensor yd = y.to(at::kDouble), wd = w.to(at::kDouble);
  const at::Tensor abs_rows = (yd - p).abs().mean(-1), sq_rows = (yd - p).square().mean(-1);
  // Batches of 4, 4 and 3: the metrics must weigh them by their sizes.
  const Logs logs = model.evaluate(x, y, {.batch_size = 4, .verbose = 0, .sample_weight = w});
  CHECK(logs.at("mae") == Approx(abs_rows.mean().item<double>()).epsilon(1e-5));
  CHECK(logs.at("root_mean_squared_error") == Approx(std::sqrt(sq_rows.mean().item<double>())).epsilon(1e-5));
  CHECK(logs.at("top_k_categorical_accuracy") == Approx(top_k(yd, p, 5, ones)));
  CHECK(logs.at("top2") == Approx(top_k(yd, p, 2, ones)));
  CHECK(logs.at("mse_of_loss") == Approx(sq_rows.mean().item<double>()).epsilon(1e-5));
  CHECK(logs.at("weighted_mae") == Approx(((abs_rows * wd).sum() / wd.sum()).item<double>()).epsilon(1e-5));
  CHECK(logs.at("weighted_top_k_categorical_accuracy") == Approx(top_k(yd, p, 5, wd)));
  // The top-5 of 8 classes and the top-2 differ on this data, so the k actually reaches the metric.
  CHECK(top_k(yd, p, 5, ones) != top_k(yd, p, 2, ones));
}
