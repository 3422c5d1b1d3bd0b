#include <nlohmann/json.hpp>
#include <strata/metrics/accuracy.h>
#include <strata/metrics/confusion.h>
#include <strata/metrics/f_score.h>
#include <strata/metrics/hinge.h>
#include <strata/metrics/iou.h>
#include <strata/metrics/mean.h>
#include <strata/metrics/probabilistic.h>
#include <strata/metrics/regression.h>
#include <strata/metrics/serialization.h>

namespace strata::metrics {
namespace {

ClassRegistry<Metric>& registry() {
  static ClassRegistry<Metric> table(
      "metric", {
                    {"Accuracy", from_config_factory<Metric, Accuracy>()},
                    {"BinaryAccuracy", from_config_factory<Metric, BinaryAccuracy>()},
                    {"CategoricalAccuracy", from_config_factory<Metric, CategoricalAccuracy>()},
                    {"SparseCategoricalAccuracy", from_config_factory<Metric, SparseCategoricalAccuracy>()},
                    {"TopKCategoricalAccuracy", from_config_factory<Metric, TopKCategoricalAccuracy>()},
                    {"SparseTopKCategoricalAccuracy", from_config_factory<Metric, SparseTopKCategoricalAccuracy>()},
                    {"TruePositives", from_config_factory<Metric, TruePositives>()},
                    {"FalsePositives", from_config_factory<Metric, FalsePositives>()},
                    {"TrueNegatives", from_config_factory<Metric, TrueNegatives>()},
                    {"FalseNegatives", from_config_factory<Metric, FalseNegatives>()},
                    {"Precision", from_config_factory<Metric, Precision>()},
                    {"Recall", from_config_factory<Metric, Recall>()},
                    {"AUC", from_config_factory<Metric, AUC>()},
                    {"PrecisionAtRecall", from_config_factory<Metric, PrecisionAtRecall>()},
                    {"RecallAtPrecision", from_config_factory<Metric, RecallAtPrecision>()},
                    {"SensitivityAtSpecificity", from_config_factory<Metric, SensitivityAtSpecificity>()},
                    {"SpecificityAtSensitivity", from_config_factory<Metric, SpecificityAtSensitivity>()},
                    {"FBetaScore", from_config_factory<Metric, FBetaScore>()},
                    {"F1Score", from_config_factory<Metric, F1Score>()},
                    {"Hinge", from_config_factory<Metric, Hinge>()},
                    {"SquaredHinge", from_config_factory<Metric, SquaredHinge>()},
                    {"CategoricalHinge", from_config_factory<Metric, CategoricalHinge>()},
                    {"IoU", from_config_factory<Metric, IoU>()},
                    {"MeanIoU", from_config_factory<Metric, MeanIoU>()},
                    {"BinaryIoU", from_config_factory<Metric, BinaryIoU>()},
                    {"OneHotIoU", from_config_factory<Metric, OneHotIoU>()},
                    {"OneHotMeanIoU", from_config_factory<Metric, OneHotMeanIoU>()},
                    {"Mean", from_config_factory<Metric, Mean>()},
                    {"Sum", from_config_factory<Metric, Sum>()},
                    {"MeanMetricWrapper", from_config_factory<Metric, MeanMetricWrapper>()},
                    {"KLDivergence", from_config_factory<Metric, KLDivergence>()},
                    {"Poisson", from_config_factory<Metric, Poisson>()},
                    {"BinaryCrossentropy", from_config_factory<Metric, BinaryCrossentropy>()},
                    {"CategoricalCrossentropy", from_config_factory<Metric, CategoricalCrossentropy>()},
                    {"SparseCategoricalCrossentropy", from_config_factory<Metric, SparseCategoricalCrossentropy>()},
                    {"MeanSquaredError", from_config_factory<Metric, MeanSquaredError>()},
                    {"MeanAbsoluteError", from_config_factory<Metric, MeanAbsoluteError>()},
                    {"MeanAbsolutePercentageError", from_config_factory<Metric, MeanAbsolutePercentageError>()},
                    {"MeanSquaredLogarithmicError", from_config_factory<Metric, MeanSquaredLogarithmicError>()},
                    {"LogCoshError", from_config_factory<Metric, LogCoshError>()},
                    {"CosineSimilarity", from_config_factory<Metric, CosineSimilarity>()},
                    {"RootMeanSquaredError", from_config_factory<Metric, RootMeanSquaredError>()},
                    {"R2Score", from_config_factory<Metric, R2Score>()},
                });
  return table;
}

}  // namespace

nlohmann::json serialize(const Metric& metric, KerasDialect dialect) {
  return write_serialized_class("keras.metrics", metric.class_name(), metric.get_config(),
                                registry().is_custom(metric.class_name()), dialect);
}

std::shared_ptr<Metric> deserialize(const nlohmann::json& spec) {
  if (spec.is_string()) return get(spec.get<std::string>());
  return registry().deserialize(spec);
}

void register_metric(const std::string& class_name, MetricFactory factory) {
  registry().add(class_name, std::move(factory));
}

}  // namespace strata::metrics
