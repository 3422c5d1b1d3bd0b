// Hinge and probabilistic metrics against their formulas written out with loops in double, and hand-worked
// cases; each streamed over slices, reset, and round-tripped through its config.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/hinge.h>
#include <strata/metrics/probabilistic.h>

#include "metric_checks.h"

#include <algorithm>
#include <cmath>
#include <functional>

using namespace strata;
using metric_checks::rows;
using metric_checks::value;

namespace {

using RowFn = std::function<double(const std::vector<double>&, const std::vector<double>&)>;

// sum_i w_i fn(row_i) / sum_i w_i over (n, cols) data.
double reference(const std::vector<double>& t, const std::vector<double>& p, size_t cols, const std::vector<double>& w,
                 const RowFn& fn) {
  double total = 0, count = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const auto begin = static_cast<long>(i * cols), end = static_cast<long>((i + 1) * cols);
    total += w[i] * fn({t.begin() + begin, t.begin() + end}, {p.begin() + begin, p.begin() + end});
    count += w[i];
  }
  return total / count;
}

template <class M>
void check_formula(const std::function<M()>& make, const std::function<M(const nlohmann::json&)>& from_config,
                   const std::vector<double>& t, const std::vector<double>& p, size_t cols, const RowFn& fn) {
  const std::vector<double> ones(t.size() / cols, 1.0);
  std::vector<double> w;
  for (size_t i = 0; i < ones.size(); ++i) w.push_back(0.25 + 0.5 * static_cast<double>(i % 3));
  const at::Tensor y_true = rows(t, static_cast<int64_t>(cols)), y_pred = rows(p, static_cast<int64_t>(cols));
  M metric = make();
  metric.update_state(y_true, y_pred);
  CHECK(value(metric) == Approx(reference(t, p, cols, ones, fn)).epsilon(1e-5));
  metric.reset_state();
  metric.update_state(y_true, y_pred, at::tensor(w, at::kFloat));
  CHECK(value(metric) == Approx(reference(t, p, cols, w, fn)).epsilon(1e-5));
  metric_checks::check_streaming_reset_and_config<M>(make, from_config, y_true, y_pred, at::tensor(w, at::kFloat), {1, 3});
}

double hinge_row(const std::vector<double>& t, const std::vector<double>& p, bool binary, int power) {
  double sum = 0;
  for (size_t j = 0; j < t.size(); ++j) {
    const double y = binary ? 2 * t[j] - 1 : t[j];
    sum += std::pow(std::max(1.0 - y * p[j], 0.0), power);
  }
  return sum / static_cast<double>(t.size());
}

// 4 samples x 3 classes.
const std::vector<double> kBinary = {0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0};
const std::vector<double> kSigned = {-1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, -1};
const std::vector<double> kScores = {0.3, -0.4, 1.7, 0.9, 0.2, -2.0, 0.0, 0.6, 0.5, -0.1, 1.2, 0.8};
const std::vector<double> kOneHot = {0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0};
const std::vector<double> kProbs = {0.2, 0.7, 0.1, 0.5, 0.25, 0.25, 0.0, 0.3, 0.7, 0.6, 0.3, 0.1};

}  // namespace

TEST_CASE("Hinge and SquaredHinge read {0, 1} targets as {-1, 1}", "[metrics][hinge]") {
  // Targets [0, 1], scores [0.3, 0.6]: signed [-1, 1] -> margins max(1.3, 0), max(0.4, 0) -> hinge 0.85,
  // squared (1.69 + 0.16) / 2 = 0.925
  metrics::Hinge hinge;
  CHECK(hinge.name() == "hinge");
  hinge.update_state(rows({0, 1}, 2), rows({0.3, 0.6}, 2));
  CHECK(value(hinge) == Approx(0.85));
  metrics::SquaredHinge squared;
  CHECK(squared.name() == "squared_hinge");
  squared.update_state(rows({0, 1}, 2), rows({0.3, 0.6}, 2));
  CHECK(value(squared) == Approx(0.925));

  for (int power : {1, 2}) {
    const RowFn binary = [power](const auto& t, const auto& p) { return hinge_row(t, p, true, power); };
    const RowFn as_is = [power](const auto& t, const auto& p) { return hinge_row(t, p, false, power); };
    if (power == 1) {
      check_formula<metrics::Hinge>([] { return metrics::Hinge(); }, metrics::Hinge::from_config, kBinary, kScores, 3, binary);
      check_formula<metrics::Hinge>([] { return metrics::Hinge(); }, metrics::Hinge::from_config, kSigned, kScores, 3, as_is);
    } else {
      check_formula<metrics::SquaredHinge>([] { return metrics::SquaredHinge(); }, metrics::SquaredHinge::from_config,
                                           kBinary, kScores, 3, binary);
      check_formula<metrics::SquaredHinge>([] { return metrics::SquaredHinge(); }, metrics::SquaredHinge::from_config,
                                           kSigned, kScores, 3, as_is);
    }
  }
}

TEST_CASE("CategoricalHinge: max over wrong classes minus the right one, plus 1", "[metrics][hinge]") {
  // One-hot [0, 1, 0], scores [0.3, 0.5, 0.9]: neg = 0.9, pos = 0.5 -> 1.4; [1, 0, 0], [2, 0, 0.5] -> 0
  metrics::CategoricalHinge hinge;
  CHECK(hinge.name() == "categorical_hinge");
  hinge.update_state(rows({0, 1, 0, 1, 0, 0}, 3), rows({0.3, 0.5, 0.9, 2, 0, 0.5}, 3));
  CHECK(value(hinge) == Approx(0.7));
  check_formula<metrics::CategoricalHinge>(
      [] { return metrics::CategoricalHinge(); }, metrics::CategoricalHinge::from_config, kOneHot, kScores, 3,
      [](const auto& t, const auto& p) {
        double pos = 0, neg = -1e300;
        for (size_t j = 0; j < t.size(); ++j) pos += t[j] * p[j], neg = std::max(neg, (1 - t[j]) * p[j]);
        return std::max(neg - pos + 1, 0.0);
      });
}

TEST_CASE("KLDivergence clips both sides to [1e-7, 1]", "[metrics][probabilistic]") {
  metrics::KLDivergence kl;
  CHECK(kl.name() == "kl_divergence");
  // [0.5, 0.5] vs [0.25, 0.75]: 0.5 log 2 + 0.5 log(2/3)
  kl.update_state(rows({0.5, 0.5}, 2), rows({0.25, 0.75}, 2));
  CHECK(value(kl) == Approx(0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0)));
  check_formula<metrics::KLDivergence>([] { return metrics::KLDivergence(); }, metrics::KLDivergence::from_config,
                                       kProbs, kOneHot, 3, [](const auto& t, const auto& p) {
                                         double sum = 0;
                                         for (size_t j = 0; j < t.size(); ++j) {
                                           const double a = std::clamp(t[j], 1e-7, 1.0), b = std::clamp(p[j], 1e-7, 1.0);
                                           sum += a * std::log(a / b);
                                         }
                                         return sum;
                                       });
}

TEST_CASE("Poisson is mean(y_pred - y_true log(y_pred + 1e-7))", "[metrics][probabilistic]") {
  metrics::Poisson poisson;
  CHECK(poisson.name() == "poisson");
  check_formula<metrics::Poisson>([] { return metrics::Poisson(); }, metrics::Poisson::from_config, kOneHot, kProbs, 3,
                                  [](const auto& t, const auto& p) {
                                    double sum = 0;
                                    for (size_t j = 0; j < t.size(); ++j) sum += p[j] - t[j] * std::log(p[j] + 1e-7);
                                    return sum / static_cast<double>(t.size());
                                  });
}

TEST_CASE("crossentropy metrics: probabilities, logits, label smoothing, sparse labels", "[metrics][probabilistic]") {
  // Binary: targets [1, 0], probabilities [0.8, 0.4] -> -(log 0.8 + log 0.6) / 2 per sample
  metrics::BinaryCrossentropy bce;
  CHECK(bce.name() == "binary_crossentropy");
  bce.update_state(rows({1, 0}, 2), rows({0.8, 0.4}, 2));
  CHECK(value(bce) == Approx(-(std::log(0.8) + std::log(0.6)) / 2));
  // Logits with smoothing 0.2: targets [0.9, 0.1]; logit 0 gives log(2) whatever the target; logit 2:
  // 0.1 * softplus(-2) + 0.9 * softplus(2)
  metrics::BinaryCrossentropy smoothed({.from_logits = true, .label_smoothing = 0.2});
  smoothed.update_state(rows({1, 0}, 2), rows({0, 2}, 2));
  const double softplus2 = std::log1p(std::exp(2.0)), softplus_m2 = std::log1p(std::exp(-2.0));
  CHECK(value(smoothed) == Approx((std::log(2.0) + 0.1 * softplus_m2 + 0.9 * softplus2) / 2));
  CHECK(smoothed.get_config().at("label_smoothing") == 0.2);
  metric_checks::check_streaming_reset_and_config<metrics::BinaryCrossentropy>(
      [] { return metrics::BinaryCrossentropy({.from_logits = true, .label_smoothing = 0.1}); },
      metrics::BinaryCrossentropy::from_config, rows(kBinary, 3), rows(kScores, 3), at::tensor({1.0f, 2.0f, 0.5f, 0.0f}),
      {1});

  // Categorical: one-hot rows [0, 1, 0] and [1, 0, 0] against [0.2, 0.7, 0.1] and [0.5, 0.25, 0.25]
  metrics::CategoricalCrossentropy cce;
  CHECK(cce.name() == "categorical_crossentropy");
  cce.update_state(rows({0, 1, 0, 1, 0, 0}, 3), rows({0.2, 0.7, 0.1, 0.5, 0.25, 0.25}, 3), at::tensor({1.0f, 3.0f}));
  CHECK(value(cce) == Approx((-std::log(0.7) - 3 * std::log(0.5)) / 4));
  CHECK(cce.get_config().at("axis") == -1);
  metric_checks::check_streaming_reset_and_config<metrics::CategoricalCrossentropy>(
      [] { return metrics::CategoricalCrossentropy({.from_logits = true, .label_smoothing = 0.1}); },
      metrics::CategoricalCrossentropy::from_config, rows(kOneHot, 3), rows(kScores, 3),
      at::tensor({1.0f, 2.0f, 0.5f, 0.0f}), {2});

  // Sparse: labels [1, 0] give the same as the one-hot case; logits [0, ln 3] for label 1 -> -log(3/4)
  metrics::SparseCategoricalCrossentropy scce;
  CHECK(scce.name() == "sparse_categorical_crossentropy");
  scce.update_state(at::tensor({1, 0}), rows({0.2, 0.7, 0.1, 0.5, 0.25, 0.25}, 3), at::tensor({1.0f, 3.0f}));
  CHECK(value(scce) == Approx((-std::log(0.7) - 3 * std::log(0.5)) / 4));
  metrics::SparseCategoricalCrossentropy logits({.from_logits = true});
  logits.update_state(at::tensor({1}).unsqueeze(1), rows({0, std::log(3.0)}, 2));
  CHECK(value(logits) == Approx(-std::log(0.75)));
  metric_checks::check_streaming_reset_and_config<metrics::SparseCategoricalCrossentropy>(
      [] { return metrics::SparseCategoricalCrossentropy({.from_logits = true}); },
      metrics::SparseCategoricalCrossentropy::from_config, at::tensor({1, 0, 2, 1}), rows(kScores, 3),
      at::tensor({1.0f, 2.0f, 0.5f, 0.0f}), {1, 2});
  CHECK_THROWS_WITH((metrics::SparseCategoricalCrossentropy::from_config({{"axis", 1}})), Catch::Contains("axis -1"));
}
