// Confusion-matrix metrics on hand-worked batches (the counts are worked out in the comments), Keras' own
// docstring examples, and a few values computed offline with tf.keras 2.15.1 where the arithmetic is long.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/metrics/confusion.h>
#include <strata/models/sequential.h>

#include <catch2/catch.hpp>
#include <cmath>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

at::Tensor vec(std::vector<float> values) { return at::tensor(values, at::kFloat); }

at::Tensor rows(std::vector<float> values, int64_t cols) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kFloat).reshape({n / cols, cols});
}

double scalar(const metrics::Metric& metric) { return metric.result().item<double>(); }

std::vector<double> values(const metrics::Metric& metric) {
  const at::Tensor r = metric.result().to(at::kDouble).contiguous();
  return {r.data_ptr<double>(), r.data_ptr<double>() + r.numel()};
}

// The 8-sample set the tf.keras reference values below were computed on.
const std::vector<float> kTrue = {0, 0, 1, 1, 0, 1, 1, 0};
const std::vector<float> kPred = {0.1f, 0.4f, 0.35f, 0.8f, 0.65f, 0.9f, 0.2f, 0.55f};
const std::vector<float> kWeight = {1, 2, 1, 0.5f, 1, 1, 3, 1};

// The 6-sample set of the hand-worked AUC cases with num_thresholds = 4, thresholds {-eps, 1/3, 2/3, 1+eps}:
// positives predict 0.5, 0.9, 0.7 and negatives 0.2, 0.1, 0.8, so per threshold
// tp = [3, 3, 2, 0], fp = [3, 1, 1, 0], fn = [0, 0, 1, 3], tn = [0, 2, 2, 3].
const std::vector<float> kHandTrue = {0, 1, 0, 1, 1, 0};
const std::vector<float> kHandPred = {0.2f, 0.5f, 0.1f, 0.9f, 0.7f, 0.8f};

}  // namespace

TEST_CASE("TruePositives/FalsePositives/TrueNegatives/FalseNegatives count cells, weighted", "[metrics][confusion]") {
  // Keras' docstring examples.
  metrics::TruePositives tp;
  CHECK(tp.name() == "true_positives");
  tp.update_state(vec({0, 1, 1, 1}), vec({1, 0, 1, 1}));
  CHECK(scalar(tp) == 2.0);
  tp.reset_state();
  tp.update_state(vec({0, 1, 1, 1}), vec({1, 0, 1, 1}), vec({0, 0, 1, 0}));
  CHECK(scalar(tp) == 1.0);

  metrics::FalsePositives fp;
  fp.update_state(vec({0, 1, 0, 0}), vec({0, 0, 1, 1}));
  CHECK(scalar(fp) == 2.0);
  fp.update_state(vec({0, 1, 0, 0}), vec({0, 0, 1, 1}), vec({0, 0, 1, 0}));
  CHECK(scalar(fp) == 3.0);  // streaming: 2 + 1

  metrics::TrueNegatives tn;
  tn.update_state(vec({0, 1, 0, 0}), vec({1, 1, 0, 0}));
  CHECK(scalar(tn) == 2.0);
  metrics::FalseNegatives fn;
  fn.update_state(vec({0, 1, 1, 1}), vec({0, 1, 0, 0}), vec({0, 0, 1, 0}));
  CHECK(scalar(fn) == 1.0);

  // Several thresholds: positives predict 0.2, 0.6, 0.9 and negatives 0.1, 0.7.
  // > 0.15: tp 3, fp 1; > 0.5: tp 2, fp 1; > 0.85: tp 1, fp 0.
  const at::Tensor y = vec({0, 1, 1, 1, 0});
  const at::Tensor p = vec({0.1f, 0.2f, 0.6f, 0.9f, 0.7f});
  metrics::TruePositives tp3({.thresholds = std::vector<double>{0.15, 0.5, 0.85}});
  tp3.update_state(y, p);
  CHECK(values(tp3) == std::vector<double>{3, 2, 1});
  metrics::FalseNegatives fn3({.thresholds = std::vector<double>{0.15, 0.5, 0.85}});
  fn3.update_state(y, p);
  CHECK(values(fn3) == std::vector<double>{0, 1, 2});
  metrics::TrueNegatives tn3({.thresholds = std::vector<double>{0.15, 0.5, 0.85}});
  tn3.update_state(y, p);
  CHECK(values(tn3) == std::vector<double>{1, 1, 2});
  // Thresholds in any order: results follow the given order.
  metrics::TruePositives unsorted({.thresholds = std::vector<double>{0.85, 0.15}});
  unsorted.update_state(y, p);
  CHECK(values(unsorted) == std::vector<double>{1, 3});

  // "Strictly greater": 0.5 is not above 0.5 and 0 is not above 0, both with evenly spaced thresholds
  // (Keras' bucket formula) and with others (direct comparison).
  metrics::TruePositives even({.thresholds = std::vector<double>{0.0, 0.5, 1.0}});
  even.update_state(vec({1, 1, 1}), vec({0.5f, 0.0f, 1.0f}));
  CHECK(values(even) == std::vector<double>{2, 1, 0});
  metrics::TruePositives uneven({.thresholds = std::vector<double>{0.0, 0.5}});
  uneven.update_state(vec({1, 1, 1}), vec({0.5f, 0.0f, 1.0f}));
  CHECK(values(uneven) == std::vector<double>{2, 1});

  // Labels are positive when non-zero; (B, 1) labels go with (B,) predictions.
  metrics::TruePositives shapes;
  shapes.update_state(rows({2, 0, 1}, 1), vec({0.9f, 0.9f, 0.7f}));
  CHECK(scalar(shapes) == 2.0);

  CHECK_THROWS_WITH(metrics::TruePositives({.thresholds = std::vector<double>{1.5}}),
                    Contains("Threshold values must be in [0, 1]"));
}

TEST_CASE("Precision and Recall: thresholds, weights, top_k, class_id", "[metrics][confusion][precision]") {
  // Keras' docstring: tp 2, fp 1 -> 2/3; with weights [0, 0, 1, 0] only the third sample counts -> 1.
  metrics::Precision precision;
  CHECK(precision.name() == "precision");
  CHECK(scalar(precision) == 0.0);  // nothing seen: divide_no_nan
  precision.update_state(vec({0, 1, 1, 1}), vec({1, 0, 1, 1}));
  CHECK(scalar(precision) == Approx(2.0 / 3.0));
  precision.reset_state();
  precision.update_state(vec({0, 1, 1, 1}), vec({1, 0, 1, 1}), vec({0, 0, 1, 0}));
  CHECK(scalar(precision) == 1.0);

  // Recall on the same: tp 2, fn 1 -> 2/3; weights [1, 3, 1, 1]: tp 2, fn 3 -> 2/5.
  metrics::Recall recall;
  recall.update_state(vec({0, 1, 1, 1}), vec({1, 0, 1, 1}));
  CHECK(scalar(recall) == Approx(2.0 / 3.0));
  recall.reset_state();
  recall.update_state(vec({0, 1, 1, 1}), vec({1, 0, 1, 1}), vec({1, 3, 1, 1}));
  CHECK(scalar(recall) == Approx(0.4));

  // Several thresholds give one value each. Positives 0.2, 0.6, 0.9; negatives 0.1, 0.7.
  // Precision: > 0.15: 3/4; > 0.65: 1/2 (0.9 and 0.7). Recall: 3/3, 1/3.
  metrics::Precision p2({.thresholds = std::vector<double>{0.15, 0.65}});
  metrics::Recall r2({.thresholds = std::vector<double>{0.15, 0.65}});
  p2.update_state(vec({0, 1, 1, 1, 0}), vec({0.1f, 0.2f, 0.6f, 0.9f, 0.7f}));
  r2.update_state(vec({0, 1, 1, 1, 0}), vec({0.1f, 0.2f, 0.6f, 0.9f, 0.7f}));
  CHECK(values(p2) == std::vector<double>{0.75, 0.5});
  CHECK(values(r2)[0] == 1.0);
  CHECK(values(r2)[1] == Approx(1.0 / 3.0));

  // top_k = 2: row 0 keeps classes 1 and 2 (labels 1, 1) -> tp 2; row 1 keeps 0 and 2 (labels 0, 1) -> tp 1,
  // fp 1. Precision 3/4; every positive label is in the top 2 -> recall 1.
  const at::Tensor y = rows({0, 1, 1, 0, 0, 1}, 3);
  const at::Tensor p = rows({0.2f, 0.5f, 0.3f, 0.6f, 0.1f, 0.3f}, 3);
  metrics::Precision top2({.top_k = 2});
  metrics::Recall recall_top2({.top_k = 2});
  top2.update_state(y, p);
  recall_top2.update_state(y, p);
  CHECK(scalar(top2) == Approx(0.75));
  CHECK(scalar(recall_top2) == 1.0);
  // top_k = 1: row 0 keeps class 1 (label 1), row 1 class 0 (label 0) -> precision 1/2, recall 1/3.
  metrics::Precision top1({.top_k = 1});
  metrics::Recall recall_top1({.top_k = 1});
  top1.update_state(y, p);
  recall_top1.update_state(y, p);
  CHECK(scalar(top1) == Approx(0.5));
  CHECK(scalar(recall_top1) == Approx(1.0 / 3.0));

  // class_id = 2 with top_k = 2: class 2 is in both rows' top 2 and labelled 1 in both -> precision 1.
  metrics::Precision class2({.top_k = 2, .class_id = 2});
  class2.update_state(y, p);
  CHECK(scalar(class2) == 1.0);
  // class_id = 0 with top_k = 2: only row 1 keeps class 0, labelled 0 -> precision 0; no positives -> recall 0.
  metrics::Precision class0({.top_k = 2, .class_id = 0});
  metrics::Recall recall0({.top_k = 2, .class_id = 0});
  class0.update_state(y, p);
  recall0.update_state(y, p);
  CHECK(scalar(class0) == 0.0);
  CHECK(scalar(recall0) == 0.0);
  // class_id = 1 with threshold 0.4: predictions [0.5, 0.1] against labels [1, 0] -> tp 1, fp 0, fn 0.
  metrics::Recall class1({.thresholds = std::vector<double>{0.4}, .class_id = 1});
  class1.update_state(y, p);
  CHECK(scalar(class1) == 1.0);
  CHECK_THROWS_WITH(class1.update_state(vec({1, 0}), vec({0.3f, 0.2f})), Contains("class_id is provided"));
}

TEST_CASE("AUC: Keras' examples, separable and reversed sets, hand-worked ROC and PR", "[metrics][confusion][auc]") {
  // Keras' docstring: num_thresholds 3 -> 0.75; weights [1, 0, 0, 1] -> 1.
  metrics::AUC three({.num_thresholds = 3});
  CHECK(three.name() == "auc");
  three.update_state(vec({0, 0, 1, 1}), vec({0, 0.5f, 0.3f, 0.9f}));
  CHECK(scalar(three) == Approx(0.75));
  three.reset_state();
  three.update_state(vec({0, 0, 1, 1}), vec({0, 0.5f, 0.3f, 0.9f}), vec({1, 0, 0, 1}));
  CHECK(scalar(three) == Approx(1.0));

  // Thresholds as Keras places them: -eps, i / (n - 1), 1 + eps.
  metrics::AUC five({.num_thresholds = 5});
  const std::vector<double> expected_thresholds = {-1e-7, 0.25, 0.5, 0.75, 1 + 1e-7};
  REQUIRE(five.thresholds().size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(five.thresholds()[i] == Approx(expected_thresholds[i]).margin(1e-12));

  // A perfectly separable set has AUC 1 (ROC and PR); the reversed set has ROC AUC 0.
  metrics::AUC separable;
  separable.update_state(vec({0, 0, 1, 1}), vec({0.1f, 0.2f, 0.8f, 0.9f}));
  CHECK(scalar(separable) == Approx(1.0));
  metrics::AUC reversed;
  reversed.update_state(vec({1, 1, 0, 0}), vec({0.1f, 0.2f, 0.8f, 0.9f}));
  CHECK(scalar(reversed) == Approx(0.0).margin(1e-12));

  // Hand-worked ROC with 4 thresholds (counts at kHandTrue): TPR = [1, 1, 2/3, 0], FPR = [1, 1/3, 1/3, 0].
  // interpolation: (2/3)(1 + 1)/2 + 0 + (1/3)(2/3 + 0)/2 = 7/9; minoring: 2/3 + 0 + 0; majoring: 2/3 + 2/9.
  const auto roc = [&](const std::string& method) {
    metrics::AUC auc({.num_thresholds = 4, .summation_method = method});
    auc.update_state(vec(kHandTrue), vec(kHandPred));
    return scalar(auc);
  };
  CHECK(roc("interpolation") == Approx(7.0 / 9.0));
  CHECK(roc("minoring") == Approx(2.0 / 3.0));
  CHECK(roc("majoring") == Approx(8.0 / 9.0));
  // PR, Riemann sums: recall x = [1, 1, 2/3, 0], precision y = [1/2, 3/4, 2/3, 0];
  // minoring: (1/3)(2/3) = 2/9; majoring: (1/3)(3/4) + (2/3)(2/3) = 1/4 + 4/9.
  const auto pr = [&](const std::string& method) {
    metrics::AUC auc({.num_thresholds = 4, .curve = "PR", .summation_method = method});
    auc.update_state(vec(kHandTrue), vec(kHandPred));
    return scalar(auc);
  };
  CHECK(pr("minoring") == Approx(2.0 / 9.0));
  CHECK(pr("majoring") == Approx(0.25 + 4.0 / 9.0));
  // PR interpolation (Davis & Goadrich, Keras' closed form), p = tp + fp = [6, 4, 3, 0]:
  // bucket 0: dtp 0 -> 0; bucket 1: slope 1, intercept 2 - 3 = -1, (1 - log(4/3)) / 3;
  // bucket 2: slope 2/3, intercept 0, p_b = 0 so the log term drops: (2/3)(2) / 3 = 4/9.
  CHECK(pr("interpolation") == Approx((1 - std::log(4.0 / 3.0)) / 3 + 4.0 / 9.0));

  // Explicit thresholds {0.3, 0.6} become {-eps, 0.3, 0.6, 1+eps} (not evenly spaced: direct comparison).
  // At kHandTrue: > 0.3: tp 3, fp 1; > 0.6: tp 2, fp 1. TPR [1, 1, 2/3, 0], FPR [1, 1/3, 1/3, 0] -> 7/9 again.
  metrics::AUC explicit_thresholds({.thresholds = std::vector<double>{0.6, 0.3}});
  CHECK(explicit_thresholds.thresholds().size() == 4);
  CHECK(explicit_thresholds.thresholds()[1] == 0.3);
  explicit_thresholds.update_state(vec(kHandTrue), vec(kHandPred));
  CHECK(scalar(explicit_thresholds) == Approx(7.0 / 9.0));

  CHECK_THROWS_WITH(metrics::AUC({.num_thresholds = 1}), Contains("must be an integer > 1"));
  CHECK_THROWS_WITH(metrics::AUC({.curve = "PRGAIN"}), Contains("Invalid AUC curve value"));
  CHECK_THROWS_WITH(metrics::AUC({.summation_method = "midpoint"}), Contains("Invalid AUC summation method"));
  CHECK_THROWS_WITH(metrics::AUC({.num_labels = 3}), Contains("`num_labels` is needed only when `multi_label` is True"));
}

TEST_CASE("AUC against tf.keras 2.15: PR interpolation, weights, multi-label, one-class sets", "[metrics][confusion][auc]") {
  // Reference values: tf.keras.metrics.AUC(...) in tf 2.15.1 on kTrue / kPred (/ kWeight), float32 results.
  const auto auc_of = [&](metrics::AUCOptions options, bool weighted) {
    metrics::AUC auc(std::move(options));
    auc.update_state(vec(kTrue), vec(kPred), weighted ? vec(kWeight) : at::Tensor());
    return scalar(auc);
  };
  CHECK(auc_of({.num_thresholds = 5, .curve = "PR"}, false) == Approx(0.75).epsilon(1e-5));
  CHECK(auc_of({.curve = "PR"}, false) == Approx(0.7476458549499512).epsilon(1e-5));
  CHECK(auc_of({.curve = "PR"}, true) == Approx(0.6025137305259705).epsilon(1e-5));
  CHECK(auc_of({}, false) == Approx(0.625).epsilon(1e-5));
  CHECK(auc_of({}, true) == Approx(0.418181836605072).epsilon(1e-5));
  CHECK(auc_of({.num_thresholds = 5, .curve = "PR", .summation_method = "minoring"}, false) == Approx(0.25).epsilon(1e-5));
  CHECK(auc_of({.num_thresholds = 5, .curve = "PR", .summation_method = "majoring"}, false) == Approx(0.75).epsilon(1e-5));
  CHECK(auc_of({.thresholds = std::vector<double>{0.3, 0.6}}, false) == Approx(0.59375).epsilon(1e-5));

  // Multi-label: per-label AUCs averaged (or weighted by label_weights); without multi_label the labels are
  // flattened and label_weights weigh the entries.
  const at::Tensor y = rows({0, 1, 1, 0, 1, 1, 0, 0, 1, 0}, 2);
  const at::Tensor p = rows({0.2f, 0.7f, 0.6f, 0.4f, 0.9f, 0.3f, 0.3f, 0.8f, 0.45f, 0.1f}, 2);
  metrics::AUC multi({.multi_label = true});
  multi.update_state(y, p);
  CHECK(scalar(multi) == Approx(0.75).epsilon(1e-5));
  CHECK(multi.variables().at(0).sizes() == at::IntArrayRef({200, 2}));
  metrics::AUC multi_weighted({.multi_label = true, .label_weights = std::vector<double>{0.25, 0.75}});
  multi_weighted.update_state(y, p);
  CHECK(scalar(multi_weighted) == Approx(0.625).epsilon(1e-5));
  metrics::AUC multi_pr({.curve = "PR", .multi_label = true, .num_labels = 2});
  CHECK(multi_pr.variables().size() == 4);  // built from num_labels before any batch
  multi_pr.update_state(y, p);
  CHECK(scalar(multi_pr) == Approx(0.6828721761703491).epsilon(1e-5));
  metrics::AUC flat_weighted({.label_weights = std::vector<double>{0.25, 0.75}});
  flat_weighted.update_state(y, p);
  CHECK(scalar(flat_weighted) == Approx(0.6515151262283325).epsilon(1e-5));
  // The multi-label value is the mean of the single-label AUCs of each column.
  metrics::AUC col0, col1;
  col0.update_state(y.select(1, 0), p.select(1, 0));
  col1.update_state(y.select(1, 1), p.select(1, 1));
  CHECK(scalar(multi) == Approx((scalar(col0) + scalar(col1)) / 2));
  CHECK_THROWS_WITH(multi.update_state(vec({1, 0}), vec({0.3f, 0.2f})), Contains("must have rank 2 when `multi_label=True`"));

  // All one class: Keras' divide_no_nan makes the missing rate 0 everywhere.
  const auto one_class = [&](float label, const std::string& curve) {
    metrics::AUC auc({.curve = curve});
    auc.update_state(vec({label, label, label}), vec({0.2f, 0.6f, 0.9f}));
    return scalar(auc);
  };
  CHECK(one_class(1, "ROC") == Approx(0.0).margin(1e-6));
  CHECK(one_class(1, "PR") == Approx(1.0).margin(1e-6));
  CHECK(one_class(0, "ROC") == Approx(0.0).margin(1e-6));
  CHECK(one_class(0, "PR") == Approx(0.0).margin(1e-6));
}

TEST_CASE("AUC streams, resets, handles empty batches and logits", "[metrics][confusion][auc]") {
  for (const std::string curve : {"ROC", "PR"}) {
    metrics::AUC streamed({.curve = curve});
    metrics::AUC whole({.curve = curve});
    const at::Tensor y = vec(kTrue);
    const at::Tensor p = vec(kPred);
    const at::Tensor w = vec(kWeight);
    streamed.update_state(y.slice(0, 0, 3), p.slice(0, 0, 3), w.slice(0, 0, 3));
    streamed.update_state(y.slice(0, 3, 3), p.slice(0, 3, 3), w.slice(0, 3, 3));  // an empty batch
    streamed.update_state(y.slice(0, 3), p.slice(0, 3), w.slice(0, 3));
    whole.update_state(y, p, w);
    for (size_t i = 0; i < 4; ++i) CHECK(at::equal(streamed.variables()[i], whole.variables()[i]));
    CHECK(scalar(streamed) == scalar(whole));
    streamed.reset_state();
    CHECK(scalar(streamed) == 0.0);
    for (const auto& v : streamed.variables()) CHECK(v.sum().item<double>() == 0.0);
  }
  // from_logits applies a sigmoid first.
  const at::Tensor logits = vec({-2.0f, 0.3f, -0.1f, 1.5f, 0.2f, 2.2f, -1.0f, 0.4f});
  metrics::AUC from_logits({.from_logits = true});
  metrics::AUC on_probabilities;
  from_logits.update_state(vec(kTrue), logits);
  on_probabilities.update_state(vec(kTrue), at::sigmoid(logits));
  CHECK(scalar(from_logits) == scalar(on_probabilities));
}

TEST_CASE("PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity",
          "[metrics][confusion][at]") {
  // Keras' docstring examples.
  const at::Tensor y5 = vec({0, 0, 0, 1, 1});
  const at::Tensor p5 = vec({0, 0.3f, 0.8f, 0.3f, 0.8f});
  metrics::SensitivityAtSpecificity sens(0.5);
  CHECK(sens.name() == "sensitivity_at_specificity");
  sens.update_state(y5, p5);
  CHECK(scalar(sens) == Approx(0.5));
  sens.reset_state();
  sens.update_state(y5, p5, vec({1, 1, 2, 2, 1}));
  CHECK(scalar(sens) == Approx(1.0 / 3.0));

  metrics::SpecificityAtSensitivity spec(0.5);
  spec.update_state(y5, p5);
  CHECK(scalar(spec) == Approx(2.0 / 3.0));
  spec.reset_state();
  spec.update_state(y5, p5, vec({1, 1, 2, 2, 2}));
  CHECK(scalar(spec) == Approx(0.5));

  metrics::PrecisionAtRecall precision_at(0.5);
  precision_at.update_state(y5, p5);
  CHECK(scalar(precision_at) == Approx(0.5));
  precision_at.reset_state();
  precision_at.update_state(y5, p5, vec({2, 2, 2, 1, 1}));
  CHECK(scalar(precision_at) == Approx(1.0 / 3.0));

  metrics::RecallAtPrecision recall_at(0.8);
  recall_at.update_state(vec({0, 0, 1, 1}), vec({0, 0.5f, 0.3f, 0.9f}));
  CHECK(scalar(recall_at) == Approx(0.5));
  recall_at.reset_state();
  recall_at.update_state(vec({0, 0, 1, 1}), vec({0, 0.5f, 0.3f, 0.9f}), vec({1, 0, 0, 1}));
  CHECK(scalar(recall_at) == Approx(1.0));
  // Unreachable precision: the only positive scores below the only negative -> 0.
  metrics::RecallAtPrecision unreachable(1.0);
  unreachable.update_state(vec({0, 1}), vec({0.9f, 0.1f}));
  CHECK(scalar(unreachable) == 0.0);

  // tf.keras 2.15.1 on the 8-sample weighted set.
  const auto at_value = [&](metrics::SensitivitySpecificityBase&& metric) {
    metric.update_state(vec(kTrue), vec(kPred), vec(kWeight));
    return scalar(metric);
  };
  CHECK(at_value(metrics::PrecisionAtRecall(0.7)) == Approx(0.5789473652839661).epsilon(1e-5));
  CHECK(at_value(metrics::RecallAtPrecision(0.6)) == Approx(0.27272728085517883).epsilon(1e-5));
  CHECK(at_value(metrics::SensitivityAtSpecificity(0.6)) == Approx(0.27272728085517883).epsilon(1e-5));
  CHECK(at_value(metrics::SpecificityAtSensitivity(0.6)) == Approx(0.20000000298023224).epsilon(1e-5));

  // class_id scores one column as a binary problem.
  metrics::PrecisionAtRecall by_class(0.5, {.class_id = 1});
  metrics::PrecisionAtRecall column(0.5);
  const at::Tensor y2 = at::stack({1 - y5, y5}, 1);
  const at::Tensor p2 = at::stack({1 - p5, p5}, 1);
  by_class.update_state(y2, p2);
  column.update_state(y5, p5);
  CHECK(scalar(by_class) == scalar(column));

  // num_thresholds = 1 uses the single threshold 0.5.
  metrics::SensitivityAtSpecificity single(0.5, {.num_thresholds = 1});
  single.update_state(y5, p5);  // > 0.5: tp 1 of 2, tn 2 of 3 -> specificity 2/3 >= 0.5 -> sensitivity 1/2
  CHECK(scalar(single) == Approx(0.5));
  CHECK_THROWS_WITH(metrics::PrecisionAtRecall(1.5), Contains("Argument `recall` must be in the range [0, 1]"));
  CHECK_THROWS_WITH(metrics::RecallAtPrecision(0.5, {.num_thresholds = 0}), Contains("must be an integer > 0"));
}

TEST_CASE("Confusion metrics stream like one update and round-trip their config", "[metrics][confusion][config]") {
  const at::Tensor y = vec(kTrue);
  const at::Tensor p = vec(kPred);
  const at::Tensor w = vec(kWeight);
  const auto check_round_trip = [&](auto&& metric, auto&& rebuilt) {
    metric.update_state(y.slice(0, 0, 5), p.slice(0, 0, 5), w.slice(0, 0, 5));
    metric.update_state(y.slice(0, 5), p.slice(0, 5), w.slice(0, 5));
    rebuilt.update_state(y, p, w);  // the rebuilt copy sees the concatenated data in one update
    CHECK(rebuilt.get_config() == metric.get_config());
    CHECK(at::allclose(rebuilt.result(), metric.result()));
  };
  metrics::TruePositives tp({.thresholds = std::vector<double>{0.3, 0.7}, .name = "tp"});
  check_round_trip(tp, metrics::TruePositives::from_config(tp.get_config()));
  CHECK(tp.get_config()["thresholds"] == nlohmann::json({0.3, 0.7}));
  metrics::FalsePositives fp;
  check_round_trip(fp, metrics::FalsePositives::from_config(fp.get_config()));
  CHECK(fp.get_config()["thresholds"].is_null());
  metrics::TrueNegatives tn({.thresholds = std::vector<double>{0.4}});
  check_round_trip(tn, metrics::TrueNegatives::from_config(tn.get_config()));
  CHECK(tn.get_config()["thresholds"] == 0.4);
  metrics::FalseNegatives fn;
  check_round_trip(fn, metrics::FalseNegatives::from_config(fn.get_config()));
  metrics::Precision precision({.thresholds = std::vector<double>{0.5, 0.6}, .name = "prec"});
  check_round_trip(precision, metrics::Precision::from_config(precision.get_config()));
  const nlohmann::json precision_config = precision.get_config();
  CHECK(precision_config["name"] == "prec");
  CHECK(precision_config["top_k"].is_null());
  CHECK(precision_config["class_id"].is_null());
  metrics::Recall recall;
  check_round_trip(recall, metrics::Recall::from_config(recall.get_config()));
  metrics::AUC auc({.num_thresholds = 50, .curve = "pr", .summation_method = "Majoring", .from_logits = false});
  check_round_trip(auc, metrics::AUC::from_config(auc.get_config()));
  const nlohmann::json auc_config = auc.get_config();
  CHECK(auc_config["curve"] == "PR");
  CHECK(auc_config["summation_method"] == "majoring");
  CHECK(auc_config["num_thresholds"] == 50);
  CHECK(!auc_config.contains("thresholds"));
  metrics::AUC explicit_auc({.thresholds = std::vector<double>{0.7, 0.2}});
  check_round_trip(explicit_auc, metrics::AUC::from_config(explicit_auc.get_config()));
  CHECK(explicit_auc.get_config()["thresholds"] == nlohmann::json({0.2, 0.7}));
  CHECK(explicit_auc.get_config()["num_thresholds"] == 4);
  metrics::PrecisionAtRecall par(0.6, {.num_thresholds = 20});
  check_round_trip(par, metrics::PrecisionAtRecall::from_config(par.get_config()));
  CHECK(par.get_config()["recall"] == 0.6);
  metrics::RecallAtPrecision rap(0.6);
  check_round_trip(rap, metrics::RecallAtPrecision::from_config(rap.get_config()));
  metrics::SensitivityAtSpecificity sas(0.4);
  check_round_trip(sas, metrics::SensitivityAtSpecificity::from_config(sas.get_config()));
  metrics::SpecificityAtSensitivity sps(0.4);
  check_round_trip(sps, metrics::SpecificityAtSensitivity::from_config(sps.get_config()));
  CHECK(sps.get_config()["sensitivity"] == 0.4);

  // Registered names.
  CHECK(metrics::get("auc")->name() == "auc");
  CHECK(metrics::get("precision")->class_name() == "Precision");
  CHECK(metrics::get("recall")->class_name() == "Recall");
  CHECK(metrics::get("true_positives")->class_name() == "TruePositives");
  CHECK(metrics::get("AUC")->class_name() == "AUC");
}

TEST_CASE("compile() takes \"auc\" and a Precision object and reports their values", "[metrics][confusion][compile]") {
  Sequential model({layers::Input({3}), layers::Dense(1, {.activation = "sigmoid"})});
  model.compile({.optimizer = "sgd", .loss = "binary_crossentropy", .metrics = {"auc", metrics::Precision()}});
  const at::Tensor x = rows({0.5f, -1.0f, 2.0f, 1.5f, 0.2f, -0.3f, -0.7f, 0.9f, 0.1f, 1.1f, -1.2f, 0.4f,
                             0.3f, 0.3f, -0.8f, -1.5f, 1.0f, 0.6f, 0.8f, -0.2f, 0.7f, -0.4f, 0.5f, 1.3f},
                            3);
  const at::Tensor y = rows({1, 0, 1, 0, 1, 0, 1, 1}, 1);
  const Logs logs = model.evaluate(x, y, {.batch_size = 3, .verbose = 0});
  CHECK(model.metrics_names() == std::vector<std::string>{"loss", "auc", "precision"});
  const at::Tensor predictions = model.predict(x, {.verbose = 0});
  metrics::AUC auc;
  metrics::Precision precision;
  auc.update_state(y, predictions);
  precision.update_state(y, predictions);
  CHECK(logs.at("auc") == Approx(scalar(auc)));
  CHECK(logs.at("precision") == Approx(scalar(precision)));
}
