#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/hinge.h>
#include <strata/metrics/probabilistic.h>
#include <strata/metrics/regression.h>
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
      // Keras 3 knows each metric by its class name, its snake_case name, and a few short aliases.
      {"mean_squared_error", [] { return std::make_shared<MeanSquaredError>(); }},
      {"MeanSquaredError", [] { return std::make_shared<MeanSquaredError>(); }},
      {"mse", [] { return std::make_shared<MeanSquaredError>(); }},
      {"MSE", [] { return std::make_shared<MeanSquaredError>(); }},
      {"root_mean_squared_error", [] { return std::make_shared<RootMeanSquaredError>(); }},
      {"RootMeanSquaredError", [] { return std::make_shared<RootMeanSquaredError>(); }},
      {"mean_absolute_error", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"MeanAbsoluteError", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"mae", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"MAE", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"mean_absolute_percentage_error", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"MeanAbsolutePercentageError", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"mape", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"MAPE", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"mean_squared_logarithmic_error", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"MeanSquaredLogarithmicError", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"msle", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"MSLE", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"cosine_similarity", [] { return std::make_shared<CosineSimilarity>(); }},
      {"CosineSimilarity", [] { return std::make_shared<CosineSimilarity>(); }},
      {"log_cosh_error", [] { return std::make_shared<LogCoshError>(); }},
      {"LogCoshError", [] { return std::make_shared<LogCoshError>(); }},
      {"r2_score", [] { return std::make_shared<R2Score>(); }},
      {"R2Score", [] { return std::make_shared<R2Score>(); }},
      {"hinge", [] { return std::make_shared<Hinge>(); }},
      {"Hinge", [] { return std::make_shared<Hinge>(); }},
      {"squared_hinge", [] { return std::make_shared<SquaredHinge>(); }},
      {"SquaredHinge", [] { return std::make_shared<SquaredHinge>(); }},
      {"categorical_hinge", [] { return std::make_shared<CategoricalHinge>(); }},
      {"CategoricalHinge", [] { return std::make_shared<CategoricalHinge>(); }},
      {"kl_divergence", [] { return std::make_shared<KLDivergence>(); }},
      {"KLDivergence", [] { return std::make_shared<KLDivergence>(); }},
      {"poisson", [] { return std::make_shared<Poisson>(); }},
      {"Poisson", [] { return std::make_shared<Poisson>(); }},
      {"binary_crossentropy", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"BinaryCrossentropy", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"bce", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"BCE", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"categorical_crossentropy", [] { return std::make_shared<CategoricalCrossentropy>(); }},
      {"CategoricalCrossentropy", [] { return std::make_shared<CategoricalCrossentropy>(); }},
      {"sparse_categorical_crossentropy", [] { return std::make_shared<SparseCategoricalCrossentropy>(); }},
      {"SparseCategoricalCrossentropy", [] { return std::make_shared<SparseCategoricalCrossentropy>(); }},
      {"top_k_categorical_accuracy", [] { return std::make_shared<TopKCategoricalAccuracy>(); }},
      {"TopKCategoricalAccuracy", [] { return std::make_shared<TopKCategoricalAccuracy>(); }},
      {"sparse_top_k_categorical_accuracy", [] { return std::make_shared<SparseTopKCategoricalAccuracy>(); }},
      {"SparseTopKCategoricalAccuracy", [] { return std::make_shared<SparseTopKCategoricalAccuracy>(); }},
  };
  if (!factories.contains(name))
    throw ValueError("unknown metric '" + name + "'; expected one of: accuracy, acc, " + joined_keys(factories));
  return create(factories, "metric", name);
}

}  // namespace strata::metrics
