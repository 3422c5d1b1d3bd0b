#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/metric.h>
#include <strata/metrics/confusion.h>
#include <strata/metrics/f_score.h>
#include <strata/metrics/iou.h>


namespace strata::metrics {

Metric::Metric(std::string class_name, std::string name) : class_name_(std::move(class_name)), name_(std::move(name)) {}

nlohmann::json Metric::get_config() const { return {{"name", name_}, {"dtype", "float32"}}; }

std::shared_ptr<PredictionMetric> get(const std::string& name) {
  // "accuracy" and "acc" are not here: which accuracy they mean depends on the loss (Model::compile).
  static const Factories<PredictionMetric> factories = {
      {"binary_accuracy", [] { return std::make_shared<BinaryAccuracy>(); }},
      {"categorical_accuracy", [] { return std::make_shared<CategoricalAccuracy>(); }},
      {"sparse_categorical_accuracy", [] { return std::make_shared<SparseCategoricalAccuracy>(); }},
      {"true_positives", [] { return std::make_shared<TruePositives>(); }},
      {"false_positives", [] { return std::make_shared<FalsePositives>(); }},
      {"true_negatives", [] { return std::make_shared<TrueNegatives>(); }},
      {"false_negatives", [] { return std::make_shared<FalseNegatives>(); }},
      {"precision", [] { return std::make_shared<Precision>(); }},
      {"recall", [] { return std::make_shared<Recall>(); }},
      {"auc", [] { return std::make_shared<AUC>(); }},
      {"f1_score", [] { return std::make_shared<F1Score>(); }},
      {"fbeta_score", [] { return std::make_shared<FBetaScore>(); }},
      {"binary_io_u", [] { return std::make_shared<BinaryIoU>(); }},
      {"TruePositives", [] { return std::make_shared<TruePositives>(); }},
      {"FalsePositives", [] { return std::make_shared<FalsePositives>(); }},
      {"TrueNegatives", [] { return std::make_shared<TrueNegatives>(); }},
      {"FalseNegatives", [] { return std::make_shared<FalseNegatives>(); }},
      {"Precision", [] { return std::make_shared<Precision>(); }},
      {"Recall", [] { return std::make_shared<Recall>(); }},
      {"AUC", [] { return std::make_shared<AUC>(); }},
      {"F1Score", [] { return std::make_shared<F1Score>(); }},
      {"FBetaScore", [] { return std::make_shared<FBetaScore>(); }},
      {"BinaryIoU", [] { return std::make_shared<BinaryIoU>(); }},
  };
  if (!factories.contains(name))
    throw ValueError("unknown metric '" + name + "'; expected one of: accuracy, acc, " + joined_keys(factories));
  return create(factories, "metric", name);
}

}  // namespace strata::metrics
