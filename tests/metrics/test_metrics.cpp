// Stateful metrics on hand-made batches, each accumulated over two updates (the running fractions are worked
// out in the comments).

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/mean.h>
#include <strata/metrics/metric.h>

#include <catch2/catch.hpp>

using namespace strata;

namespace {

double result(const metrics::Metric& metric) { return metric.result().item<double>(); }

at::Tensor rows(std::vector<float> values, int64_t cols) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kFloat).reshape({n / cols, cols});
}

}  // namespace

TEST_CASE("Mean: unweighted, weighted, add, reset", "[metrics][mean]") {
  metrics::Mean mean;
  CHECK(result(mean) == 0.0);  // nothing seen yet
  mean.update_state(at::tensor({1.0f, 2.0f, 3.0f}));
  CHECK(result(mean) == Approx(2.0));  // (1 + 2 + 3) / 3
  mean.update_state(at::tensor({4.0f}));
  CHECK(result(mean) == Approx(2.5));  // (1 + 2 + 3 + 4) / 4
  mean.reset_state();
  CHECK(result(mean) == 0.0);

  // Weighted: values [1, 2, 3] with weights [1, 0, 2] -> (1 + 0 + 6) / (1 + 0 + 2) = 7/3
  mean.update_state(at::tensor({1.0f, 2.0f, 3.0f}), at::tensor({1.0f, 0.0f, 2.0f}));
  CHECK(result(mean) == Approx(7.0 / 3.0));
  // Then value 5 with weight 3: (7 + 15) / (3 + 3) = 22/6
  mean.update_state(at::tensor({5.0f}), at::tensor({3.0f}));
  CHECK(result(mean) == Approx(22.0 / 6.0));

  // add(total, count): a batch mean of 0.5 over 4 samples is total 2, count 4 -> (22 + 2) / (6 + 4) = 2.4
  mean.add(at::scalar_tensor(2.0, at::kDouble), 4.0);
  CHECK(result(mean) == Approx(2.4));
  CHECK(mean.variables().size() == 2);
  CHECK(mean.name() == "mean");
}

TEST_CASE("Accuracy counts exact matches over two batches", "[metrics][accuracy]") {
  metrics::Accuracy accuracy;
  CHECK(accuracy.name() == "accuracy");
  // Batch 1: [1, 2, 3, 4] vs [1, 2, 0, 4] -> 3 of 4
  accuracy.update_state(at::tensor({1.0f, 2.0f, 3.0f, 4.0f}), at::tensor({1.0f, 2.0f, 0.0f, 4.0f}));
  CHECK(result(accuracy) == Approx(0.75));
  // Batch 2: [1, 1] vs [0, 1] -> 1 of 2; running 4 of 6
  accuracy.update_state(at::tensor({1.0f, 1.0f}), at::tensor({0.0f, 1.0f}));
  CHECK(result(accuracy) == Approx(4.0 / 6.0));
  accuracy.reset_state();
  CHECK(result(accuracy) == 0.0);
  // Labels (B, 1) against predictions (B,): [[2], [5]] vs [2, 4] -> 1 of 2
  accuracy.update_state(rows({2, 5}, 1), at::tensor({2.0f, 4.0f}));
  CHECK(result(accuracy) == Approx(0.5));
}

TEST_CASE("BinaryAccuracy thresholds predictions", "[metrics][accuracy]") {
  metrics::BinaryAccuracy binary;
  CHECK(binary.name() == "binary_accuracy");
  // Batch 1: targets [1, 0, 1, 0], predictions [0.7, 0.2, 0.4, 0.6] -> thresholded [1, 0, 0, 1] -> 2 of 4
  binary.update_state(rows({1, 0, 1, 0}, 1), rows({0.7f, 0.2f, 0.4f, 0.6f}, 1));
  CHECK(result(binary) == Approx(0.5));
  // Batch 2: targets [1, 1], predictions [0.9, 0.55] -> [1, 1] -> 2 of 2; running 4 of 6
  binary.update_state(rows({1, 1}, 1), rows({0.9f, 0.55f}, 1));
  CHECK(result(binary) == Approx(4.0 / 6.0));

  // threshold 0.7: [0.65, 0.75, 0.1] -> [0, 1, 0] against targets [1, 1, 0] -> 2 of 3
  metrics::BinaryAccuracy strict("strict", 0.7);
  strict.update_state(rows({1, 1, 0}, 1), rows({0.65f, 0.75f, 0.1f}, 1));
  CHECK(result(strict) == Approx(2.0 / 3.0));
  // Targets (B,) against predictions (B, 1): [0, 1] vs [[0.3], [0.2]] -> [0, 0] -> 1 of 2; running 3 of 5
  strict.update_state(at::tensor({0.0f, 1.0f}), rows({0.3f, 0.2f}, 1));
  CHECK(result(strict) == Approx(3.0 / 5.0));
}

TEST_CASE("CategoricalAccuracy compares argmaxes", "[metrics][accuracy]") {
  metrics::CategoricalAccuracy categorical;
  CHECK(categorical.name() == "categorical_accuracy");
  // Batch 1: true classes [2, 1]; predicted argmax [2, 0] -> 1 of 2
  categorical.update_state(rows({0, 0, 1, 0, 1, 0}, 3), rows({0.1f, 0.2f, 0.7f, 0.5f, 0.4f, 0.1f}, 3));
  CHECK(result(categorical) == Approx(0.5));
  // Batch 2: true class 0; predicted argmax 0 -> 1 of 1; running 2 of 3
  categorical.update_state(rows({1, 0, 0}, 3), rows({0.6f, 0.3f, 0.1f}, 3));
  CHECK(result(categorical) == Approx(2.0 / 3.0));
}

TEST_CASE("SparseCategoricalAccuracy compares labels with argmax", "[metrics][accuracy]") {
  metrics::SparseCategoricalAccuracy sparse;
  CHECK(sparse.name() == "sparse_categorical_accuracy");
  // Batch 1: labels [2, 1]; predicted argmax [2, 0] -> 1 of 2
  sparse.update_state(at::tensor({2, 1}, at::kLong), rows({0.1f, 0.2f, 0.7f, 0.5f, 0.4f, 0.1f}, 3));
  CHECK(result(sparse) == Approx(0.5));
  // Batch 2 with labels shaped (B, 1): [[0]] vs argmax 0 -> 1 of 1; running 2 of 3
  sparse.update_state(at::tensor({0}, at::kLong).reshape({1, 1}), rows({0.6f, 0.3f, 0.1f}, 3));
  CHECK(result(sparse) == Approx(2.0 / 3.0));
  // Float labels work too: [1.0] vs argmax 0 -> 0 of 1; running 2 of 4
  sparse.update_state(at::tensor({1.0f}), rows({0.6f, 0.3f, 0.1f}, 3));
  CHECK(result(sparse) == Approx(0.5));
  sparse.reset_state();
  CHECK(result(sparse) == 0.0);
}

TEST_CASE("accuracy metrics honour sample weights", "[metrics][accuracy]") {
  metrics::SparseCategoricalAccuracy sparse;
  // Matches [1, 0, 1] with weights [1, 3, 1] -> (1 + 0 + 1) / 5 = 0.4
  sparse.update_state(at::tensor({0, 1, 2}, at::kLong),
                      rows({0.9f, 0.1f, 0.0f, 0.9f, 0.1f, 0.0f, 0.0f, 0.1f, 0.9f}, 3),
                      at::tensor({1.0f, 3.0f, 1.0f}));
  CHECK(result(sparse) == Approx(0.4));
}

TEST_CASE("metrics::get resolves Keras names", "[metrics][registry]") {
  CHECK(metrics::get("sparse_categorical_accuracy")->class_name() == "SparseCategoricalAccuracy");
  CHECK(metrics::get("categorical_accuracy")->class_name() == "CategoricalAccuracy");
  CHECK(metrics::get("binary_accuracy")->class_name() == "BinaryAccuracy");
  CHECK_THROWS_AS(metrics::get("precision_at_7"), ValueError);
}
