// Top-k accuracies: a target is a hit when fewer than k classes score strictly higher (ties with the k-th
// score count as hits, as Keras' in_top_k), checked by counting in loops.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/accuracy.h>

#include "metric_checks.h"

using namespace strata;
using metric_checks::rows;
using metric_checks::value;

namespace {

// 6 samples x 4 classes, with ties.
const std::vector<double> kScores = {0.1, 0.5, 0.5, 0.2, 0.9, 0.05, 0.03, 0.02, 0.25, 0.25, 0.25, 0.25,
                                     0.4, 0.3, 0.2, 0.1, 0.0, 0.1, 0.7, 0.2, 0.3, 0.1, 0.2, 0.4};
const std::vector<int64_t> kLabels = {2, 3, 0, 3, 1, 0};
const std::vector<double> kWeights = {1.0, 2.0, 0.5, 0.0, 1.5, 1.0};

double reference(int64_t k, bool weighted) {
  double hits = 0, count = 0;
  for (size_t i = 0; i < kLabels.size(); ++i) {
    const double target = kScores[4 * i + static_cast<size_t>(kLabels[i])];
    int64_t higher = 0;
    for (size_t j = 0; j < 4; ++j) higher += kScores[4 * i + j] > target;
    const double w = weighted ? kWeights[i] : 1.0;
    hits += w * (higher < k), count += w;
  }
  return hits / count;
}

at::Tensor one_hot() { return at::one_hot(at::tensor(kLabels), 4).to(at::kFloat); }

}  // namespace

TEST_CASE("TopKCategoricalAccuracy: k = 1, 2, 5, ties, weights, streaming", "[metrics][top_k]") {
  metrics::TopKCategoricalAccuracy top5;
  CHECK(top5.name() == "top_k_categorical_accuracy");
  CHECK(top5.get_config().at("k") == 5);
  // k = 5 > 4 classes: everything is a hit.
  top5.update_state(one_hot(), rows(kScores, 4));
  CHECK(value(top5) == 1.0);

  // Hand-worked k = 1: sample 0 ties for first (hit), 1 no, 2 all tie (hit), 3 no, 4 no, 5 no -> 2 of 6.
  metrics::TopKCategoricalAccuracy top1({.k = 1, .name = "top1"});
  top1.update_state(one_hot(), rows(kScores, 4));
  CHECK(value(top1) == Approx(2.0 / 6.0));
  CHECK(reference(1, false) == Approx(2.0 / 6.0));

  for (int64_t k : {1, 2, 3}) {
    metrics::TopKCategoricalAccuracy metric({.k = k});
    metric.update_state(one_hot(), rows(kScores, 4), at::tensor(kWeights, at::kFloat));
    CHECK(value(metric) == Approx(reference(k, true)));
    metric_checks::check_streaming_reset_and_config<metrics::TopKCategoricalAccuracy>(
        [k] { return metrics::TopKCategoricalAccuracy({.k = k}); }, metrics::TopKCategoricalAccuracy::from_config,
        one_hot(), rows(kScores, 4), at::tensor(kWeights, at::kFloat), {2, 5});
  }
  // Rank 3 (batch, time, classes): the 6 rows as 2 x 3.
  metrics::TopKCategoricalAccuracy sequence({.k = 2});
  sequence.update_state(one_hot().reshape({2, 3, 4}), rows(kScores, 4).reshape({2, 3, 4}));
  CHECK(value(sequence) == Approx(reference(2, false)));
  CHECK_THROWS_WITH(metrics::TopKCategoricalAccuracy({.k = 0}), Catch::Contains("k >= 1"));
}

TEST_CASE("SparseTopKCategoricalAccuracy: labels (batch,) and (batch, 1), sorted ids", "[metrics][top_k]") {
  metrics::SparseTopKCategoricalAccuracy top;
  CHECK(top.name() == "sparse_top_k_categorical_accuracy");
  CHECK(top.get_config().at("from_sorted_ids") == false);
  for (int64_t k : {1, 2, 3}) {
    metrics::SparseTopKCategoricalAccuracy flat({.k = k}), column({.k = k});
    flat.update_state(at::tensor(kLabels), rows(kScores, 4), at::tensor(kWeights, at::kFloat));
    column.update_state(at::tensor(kLabels).unsqueeze(1), rows(kScores, 4), at::tensor(kWeights, at::kFloat));
    CHECK(value(flat) == Approx(reference(k, true)));
    CHECK(value(column) == Approx(reference(k, true)));
    metric_checks::check_streaming_reset_and_config<metrics::SparseTopKCategoricalAccuracy>(
        [k] { return metrics::SparseTopKCategoricalAccuracy({.k = k}); },
        metrics::SparseTopKCategoricalAccuracy::from_config, at::tensor(kLabels), rows(kScores, 4),
        at::tensor(kWeights, at::kFloat), {1, 4});
  }
  // from_sorted_ids: y_pred rows are class ids, best first. Labels [2, 0, 1]; ids [[1, 2, 0], [2, 1, 0],
  // [0, 1, 2]] -> with k = 2: hit, miss, hit.
  metrics::SparseTopKCategoricalAccuracy sorted({.k = 2, .from_sorted_ids = true});
  sorted.update_state(at::tensor({2, 0, 1}), at::tensor({1, 2, 0, 2, 1, 0, 0, 1, 2}).reshape({3, 3}));
  CHECK(value(sorted) == Approx(2.0 / 3.0));
  auto restored = metrics::SparseTopKCategoricalAccuracy::from_config(sorted.get_config());
  CHECK(restored.get_config() == sorted.get_config());
  CHECK(restored.get_config().at("from_sorted_ids") == true);
}
