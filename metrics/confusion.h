#pragma once
// Metrics built on a thresholded confusion matrix, as Keras 3 defines them: TruePositives, FalsePositives,
// TrueNegatives, FalseNegatives, Precision, Recall, AUC, PrecisionAtRecall, RecallAtPrecision,
// SensitivityAtSpecificity and SpecificityAtSensitivity. A prediction counts as positive at threshold t
// when it is strictly greater than t; labels are positive when non-zero.

#include <strata/metrics/confusion_matrix.h>
#include <strata/metrics/metric.h>

namespace strata::metrics {

struct ConfusionCountOptions {
  // One value in [0, 1] or several (the result then has one entry per threshold); unset means 0.5.
  std::optional<std::vector<double>> thresholds = std::nullopt;
  std::string name = "";
};

// The (weighted) number of one confusion-matrix cell per threshold; state `accumulator` of shape (T,).
class ConfusionCount : public PredictionMetric {
 public:
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;  // a scalar for one threshold
  void reset_state() override { accumulator_.zero_(); }
  std::vector<at::Tensor> variables() const override { return {accumulator_}; }
  nlohmann::json get_config() const override;

 protected:
  // `cell`: 0 tp, 1 fp, 2 tn, 3 fn (the order confusion_counts returns).
  ConfusionCount(std::string class_name, std::string default_name, int cell, ConfusionCountOptions options);

 private:
  int cell_;
  std::optional<std::vector<double>> init_thresholds_ = std::nullopt;
  ThresholdSet thresholds_;
  at::Tensor accumulator_;
};

class TruePositives : public ConfusionCount {
 public:
  explicit TruePositives(ConfusionCountOptions options = {});
  static TruePositives from_config(const nlohmann::json& config);
};
class FalsePositives : public ConfusionCount {
 public:
  explicit FalsePositives(ConfusionCountOptions options = {});
  static FalsePositives from_config(const nlohmann::json& config);
};
class TrueNegatives : public ConfusionCount {
 public:
  explicit TrueNegatives(ConfusionCountOptions options = {});
  static TrueNegatives from_config(const nlohmann::json& config);
};
class FalseNegatives : public ConfusionCount {
 public:
  explicit FalseNegatives(ConfusionCountOptions options = {});
  static FalseNegatives from_config(const nlohmann::json& config);
};

struct PrecisionRecallOptions {
  // Unset: 0.5, or (with top_k) every top-k prediction counts as positive.
  std::optional<std::vector<double>> thresholds = std::nullopt;
  // Only the k largest predictions of each sample can be positive.
  std::optional<int64_t> top_k = std::nullopt;
  // Only this class (last axis of y_pred) is scored, as a binary problem.
  std::optional<int64_t> class_id = std::nullopt;
  std::string name = "";
};

// tp / (tp + fp) (Precision) or tp / (tp + fn) (Recall), per threshold; 0 where the denominator is 0.
class PrecisionRecallBase : public PredictionMetric {
 public:
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;
  void reset_state() override;
  std::vector<at::Tensor> variables() const override { return {true_positives_, other_}; }
  nlohmann::json get_config() const override;

 protected:
  PrecisionRecallBase(std::string class_name, std::string default_name, bool precision, PrecisionRecallOptions options);
  static PrecisionRecallOptions options_from_config(const nlohmann::json& config);

 private:
  bool precision_;
  PrecisionRecallOptions options_;
  ThresholdSet thresholds_;
  at::Tensor true_positives_;
  at::Tensor other_;  // false_positives (Precision) or false_negatives (Recall)
};

class Precision : public PrecisionRecallBase {
 public:
  explicit Precision(PrecisionRecallOptions options = {});
  static Precision from_config(const nlohmann::json& config);
};

class Recall : public PrecisionRecallBase {
 public:
  explicit Recall(PrecisionRecallOptions options = {});
  static Recall from_config(const nlohmann::json& config);
};

struct AUCOptions {
  // Thresholds {-eps, 1/(n-1), ..., (n-2)/(n-1), 1+eps}; must be > 1. Ignored when `thresholds` is given.
  int64_t num_thresholds = 200;
  std::string curve = "ROC";                     // "ROC" or "PR"
  std::string summation_method = "interpolation";  // "interpolation", "minoring" or "majoring"
  // Explicit thresholds in [0, 1]; {-eps, 1+eps} are added around them.
  std::optional<std::vector<double>> thresholds = std::nullopt;
  // Per-label AUCs averaged (weighted by label_weights) instead of flattening all labels into one.
  bool multi_label = false;
  // With multi_label: the number of labels, else taken from the first batch.
  std::optional<int64_t> num_labels = std::nullopt;
  std::optional<std::vector<double>> label_weights = std::nullopt;
  bool from_logits = false;  // apply a sigmoid to y_pred first
  std::string name = "";
};

// Area under the ROC or precision-recall curve, a Riemann sum over the thresholds (Keras' AUC).
class AUC : public PredictionMetric {
 public:
  explicit AUC(AUCOptions options = {});
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;
  void reset_state() override;
  // tp, fp, tn, fn; empty for a multi-label AUC that has not seen a batch nor been given num_labels.
  std::vector<at::Tensor> variables() const override;
  nlohmann::json get_config() const override;
  static AUC from_config(const nlohmann::json& config);
  // The thresholds including the epsilon endpoints.
  const std::vector<double>& thresholds() const { return thresholds_.values(); }

 private:
  void build(int64_t num_labels);
  at::Tensor interpolate_pr_auc() const;
  at::Tensor average_over_labels(const at::Tensor& by_label) const;

  AUCOptions options_;
  int64_t num_thresholds_;
  ThresholdSet thresholds_;
  at::Tensor label_weights_;
  at::Tensor tp_, fp_, tn_, fn_;
};

struct AtOptions {
  int64_t num_thresholds = 200;  // thresholds {0, 1/(n-1), ..., 1}; {0.5} for 1
  std::optional<int64_t> class_id = std::nullopt;
  std::string name = "";
};

// The best of one rate among the thresholds where another rate reaches `value` (0 if none does).
class SensitivitySpecificityBase : public PredictionMetric {
 public:
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;
  void reset_state() override;
  std::vector<at::Tensor> variables() const override { return {tp_, fp_, tn_, fn_}; }
  nlohmann::json get_config() const override;

 protected:
  enum class Rate { kPrecision, kRecall, kSpecificity };  // recall is sensitivity
  SensitivitySpecificityBase(std::string class_name, std::string default_name, std::string value_key, double value,
                             Rate constrained, Rate maximised, AtOptions options);
  static AtOptions options_from_config(const nlohmann::json& config);

 private:
  at::Tensor rate(Rate which) const;

  std::string value_key_;
  double value_;
  Rate constrained_, maximised_;
  AtOptions options_;
  ThresholdSet thresholds_;
  at::Tensor tp_, fp_, tn_, fn_;
};

// Best precision where recall >= `recall`.
class PrecisionAtRecall : public SensitivitySpecificityBase {
 public:
  explicit PrecisionAtRecall(double recall, AtOptions options = {});
  static PrecisionAtRecall from_config(const nlohmann::json& config);
};
// Best recall where precision >= `precision`.
class RecallAtPrecision : public SensitivitySpecificityBase {
 public:
  explicit RecallAtPrecision(double precision, AtOptions options = {});
  static RecallAtPrecision from_config(const nlohmann::json& config);
};
// Best sensitivity (recall) where specificity >= `specificity`.
class SensitivityAtSpecificity : public SensitivitySpecificityBase {
 public:
  explicit SensitivityAtSpecificity(double specificity, AtOptions options = {});
  static SensitivityAtSpecificity from_config(const nlohmann::json& config);
};
// Best specificity where sensitivity (recall) >= `sensitivity`.
class SpecificityAtSensitivity : public SensitivitySpecificityBase {
 public:
  explicit SpecificityAtSensitivity(double sensitivity, AtOptions options = {});
  static SpecificityAtSensitivity from_config(const nlohmann::json& config);
};

}  // namespace strata::metrics
