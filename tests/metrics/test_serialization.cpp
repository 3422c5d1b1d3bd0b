// metrics::serialize / deserialize: every built-in metric class round-trips in both Keras dialects (same config,
// same result on the same data), JSON that real Keras wrote loads, custom metrics register once.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/losses/regression.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/confusion.h>
#include <strata/metrics/f_score.h>
#include <strata/metrics/hinge.h>
#include <strata/metrics/iou.h>
#include <strata/metrics/mean.h>
#include <strata/metrics/probabilistic.h>
#include <strata/metrics/regression.h>
#include <strata/metrics/serialization.h>

#include <catch2/catch.hpp>

using namespace strata;
using namespace strata::metrics;
using Catch::Matchers::Contains;

namespace {

std::vector<std::shared_ptr<Metric>> every_metric_class() {
  return {std::make_shared<Accuracy>(),
          std::make_shared<BinaryAccuracy>("ba", 0.3),
          std::make_shared<CategoricalAccuracy>(),
          std::make_shared<SparseCategoricalAccuracy>(),
          std::make_shared<TopKCategoricalAccuracy>(TopKOptions{.k = 2}),
          std::make_shared<SparseTopKCategoricalAccuracy>(SparseTopKOptions{.k = 2}),
          std::make_shared<TruePositives>(ConfusionCountOptions{.thresholds = std::vector<double>{0.3, 0.6}}),
          std::make_shared<FalsePositives>(),
          std::make_shared<TrueNegatives>(),
          std::make_shared<FalseNegatives>(),
          std::make_shared<Precision>(PrecisionRecallOptions{.top_k = 1}),
          std::make_shared<Recall>(PrecisionRecallOptions{.class_id = 1}),
          std::make_shared<AUC>(AUCOptions{.num_thresholds = 50, .curve = "PR"}),
          std::make_shared<PrecisionAtRecall>(0.5),
          std::make_shared<RecallAtPrecision>(0.7, AtOptions{.num_thresholds = 20}),
          std::make_shared<SensitivityAtSpecificity>(0.4),
          std::make_shared<SpecificityAtSensitivity>(0.6),
          std::make_shared<FBetaScore>(FBetaScoreOptions{.average = "macro", .beta = 2.0}),
          std::make_shared<F1Score>(F1ScoreOptions{.threshold = 0.4}),
          std::make_shared<Hinge>(),
          std::make_shared<SquaredHinge>(),
          std::make_shared<CategoricalHinge>(),
          std::make_shared<IoU>(3, std::vector<int64_t>{0, 2}),
          std::make_shared<MeanIoU>(3),
          std::make_shared<BinaryIoU>(BinaryIoUOptions{.threshold = 0.4}),
          std::make_shared<OneHotIoU>(3, std::vector<int64_t>{1}),
          std::make_shared<OneHotMeanIoU>(3),
          std::make_shared<Mean>("m"),
          std::make_shared<Sum>(),
          std::make_shared<MeanMetricWrapper>(losses::MeanSquaredError(), "mse_of_loss"),
          std::make_shared<KLDivergence>(),
          std::make_shared<Poisson>(),
          std::make_shared<BinaryCrossentropy>(),
          std::make_shared<CategoricalCrossentropy>(),
          std::make_shared<SparseCategoricalCrossentropy>(),
          std::make_shared<MeanSquaredError>(),
          std::make_shared<MeanAbsoluteError>(),
          std::make_shared<MeanAbsolutePercentageError>(),
          std::make_shared<MeanSquaredLogarithmicError>(),
          std::make_shared<LogCoshError>(),
          std::make_shared<CosineSimilarity>(),
          std::make_shared<RootMeanSquaredError>(),
          std::make_shared<R2Score>()};
}

// One-hot targets and softmax predictions; integer labels where the metric takes them.
std::pair<at::Tensor, at::Tensor> inputs_for(const Metric& metric) {
  const at::Tensor labels = at::tensor({1, 0, 2, 1}, at::kLong);
  const at::Tensor y_pred =
      at::softmax(at::tensor({0.2, 1.1, -0.4, 0.7, -1.2, 0.3, 0.0, 0.5, 1.5, -0.3, 0.9, 0.1}).reshape({4, 3}), -1)
          .to(at::kFloat);
  const std::string& name = metric.class_name();
  if (name == "IoU" || name == "MeanIoU") return {labels, at::tensor({1, 2, 2, 0}, at::kLong)};
  if (name.rfind("Sparse", 0) == 0) return {labels, y_pred};
  return {at::eye(3, at::kFloat).index({labels}), y_pred};
}

}  // namespace

TEST_CASE("every built-in metric round-trips through serialize/deserialize", "[serialization][metrics]") {
  for (const auto dialect : {KerasDialect::kKeras3, KerasDialect::kKeras2}) {
    for (const auto& original : every_metric_class()) {
      INFO(original->class_name());
      const nlohmann::json spec = metrics::serialize(*original, dialect);
      CHECK(spec.at("class_name") == original->class_name());
      if (dialect == KerasDialect::kKeras3) CHECK(spec.at("module") == "keras.metrics");
      const auto restored = metrics::deserialize(spec);
      CHECK(restored->class_name() == original->class_name());
      CHECK(restored->get_config() == original->get_config());
      auto* a = dynamic_cast<PredictionMetric*>(original.get());
      auto* b = dynamic_cast<PredictionMetric*>(restored.get());
      REQUIRE((a == nullptr) == (b == nullptr));
      if (!a) continue;
      const auto [y_true, y_pred] = inputs_for(*original);
      a->update_state(y_true, y_pred);
      b->update_state(y_true, y_pred);
      CHECK(at::equal(a->result(), b->result()));
      a->reset_state();
    }
  }
}

TEST_CASE("metrics that real Keras serialized load", "[serialization][metrics]") {
  // keras.metrics.serialize(keras.metrics.AUC()) in Keras 3.15.
  const auto auc = metrics::deserialize(nlohmann::json::parse(
      R"({"module": "keras.metrics", "class_name": "AUC", "config": {"name": "auc", "dtype": "float32",
          "num_thresholds": 200, "curve": "ROC", "summation_method": "interpolation", "multi_label": false,
          "num_labels": null, "label_weights": null, "from_logits": false}, "registered_name": null})"));
  CHECK(auc->class_name() == "AUC");
  CHECK(auc->get_config().at("num_thresholds") == 200);
  // tf.keras 2.15's training_config entry for SparseTopKCategoricalAccuracy(k=1) on output "a".
  const auto top_k = metrics::deserialize(nlohmann::json::parse(
      R"({"class_name": "SparseTopKCategoricalAccuracy",
          "config": {"name": "a_sparse_top_k_categorical_accuracy", "dtype": "float32", "k": 1}})"));
  CHECK(top_k->name() == "a_sparse_top_k_categorical_accuracy");
  CHECK(top_k->get_config().at("k") == 1);
  // ... and for "mae": a MeanMetricWrapper around the loss function.
  const auto mae = metrics::deserialize(nlohmann::json::parse(
      R"({"class_name": "MeanMetricWrapper", "config": {"name": "b_mae", "dtype": "float32", "fn": "mean_absolute_error"}})"));
  CHECK(mae->name() == "b_mae");
}

TEST_CASE("unknown metric classes fail with the known ones listed", "[serialization][metrics]") {
  CHECK_THROWS_WITH(metrics::deserialize(nlohmann::json::parse(R"({"class_name": "Nope", "config": {}})")),
                    Contains("unknown metric class 'Nope'") && Contains("BinaryAccuracy"));
  CHECK_THROWS_AS(metrics::deserialize(nlohmann::json::parse("[1, 2]")), ValueError);
}

namespace {

// A user metric: the largest prediction seen.
class MaxPrediction : public PredictionMetric {
 public:
  explicit MaxPrediction(std::string name = "max_prediction")
      : PredictionMetric("MaxPrediction", std::move(name)), max_(at::full({}, -1e30)) {}
  void update_state(const at::Tensor&, const at::Tensor& y_pred, const at::Tensor& = {}) override {
    max_ = at::maximum(max_, y_pred.max().to(at::kDouble));
  }
  at::Tensor result() const override { return max_; }
  void reset_state() override { max_.fill_(-1e30); }
  std::vector<at::Tensor> variables() const override { return {max_}; }
  static MaxPrediction from_config(const nlohmann::json& config) {
    return MaxPrediction(config.at("name").get<std::string>());
  }

 private:
  at::Tensor max_;
};

}  // namespace

TEST_CASE("a registered custom metric round-trips", "[serialization][metrics]") {
  metrics::register_metric<MaxPrediction>("MaxPrediction");
  const MaxPrediction metric("biggest");
  const nlohmann::json spec = metrics::serialize(metric);
  CHECK(spec.at("registered_name") == "Custom>MaxPrediction");
  CHECK(metrics::deserialize(spec)->name() == "biggest");
}
