#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/metrics/confusion.h>

#include <sstream>

namespace strata::metrics {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras' backend.epsilon()

at::Tensor zeros_state(at::IntArrayRef shape) { return at::zeros(shape, at::kDouble); }

std::string pick_name(const std::string& name, const std::string& fallback) { return name.empty() ? fallback : name; }

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Keras' assert_thresholds_range.
std::vector<double> checked_thresholds(const std::string& who, const std::vector<double>& thresholds) {
  for (double t : thresholds)
    if (!(t >= 0.0 && t <= 1.0))
      throw ValueError(who + ": Threshold values must be in [0, 1]. Received: " + number(t));
  return thresholds;
}

ThresholdSet parse_thresholds(const std::string& who, const std::optional<std::vector<double>>& given, double fallback) {
  std::vector<double> values = given ? checked_thresholds(who, *given) : std::vector<double>{fallback};
  const bool evenly = evenly_distributed(values);
  return ThresholdSet(std::move(values), evenly);
}

std::optional<int64_t> optional_int(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || config.at(key).is_null()) return std::nullopt;
  return config.at(key).get<int64_t>();
}

nlohmann::json optional_to_json(const std::optional<int64_t>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::string config_name(const nlohmann::json& config) { return config.value("name", std::string()); }

// Result of per-threshold state: a scalar when there is one threshold, as Keras returns result[0].
at::Tensor per_threshold(const at::Tensor& values) { return values.size(0) == 1 ? values[0] : values; }

}  // namespace

// ---- TruePositives / FalsePositives / TrueNegatives / FalseNegatives ----

ConfusionCount::ConfusionCount(std::string class_name, std::string default_name, int cell, ConfusionCountOptions options)
    : PredictionMetric(class_name, pick_name(options.name, default_name)),
      cell_(cell),
      init_thresholds_(options.thresholds),
      thresholds_(parse_thresholds(class_name + " '" + pick_name(options.name, default_name) + "'", options.thresholds, 0.5)),
      accumulator_(zeros_state({thresholds_.size()})) {}

void ConfusionCount::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  follow_device({&accumulator_}, y_pred.device());
  accumulator_.add_(confusion_counts(y_true, y_pred, sample_weight, thresholds_)[cell_]);
}

at::Tensor ConfusionCount::result() const { return per_threshold(accumulator_.clone()); }

nlohmann::json ConfusionCount::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  config["thresholds"] = thresholds_to_json(init_thresholds_);
  return config;
}

namespace {
ConfusionCountOptions count_options(const nlohmann::json& config) {
  return {.thresholds = thresholds_from_json(config.value("thresholds", nlohmann::json())), .name = config_name(config)};
}
}  // namespace

TruePositives::TruePositives(ConfusionCountOptions options)
    : ConfusionCount("TruePositives", "true_positives", 0, std::move(options)) {}
FalsePositives::FalsePositives(ConfusionCountOptions options)
    : ConfusionCount("FalsePositives", "false_positives", 1, std::move(options)) {}
TrueNegatives::TrueNegatives(ConfusionCountOptions options)
    : ConfusionCount("TrueNegatives", "true_negatives", 2, std::move(options)) {}
FalseNegatives::FalseNegatives(ConfusionCountOptions options)
    : ConfusionCount("FalseNegatives", "false_negatives", 3, std::move(options)) {}
TruePositives TruePositives::from_config(const nlohmann::json& config) { return TruePositives(count_options(config)); }
FalsePositives FalsePositives::from_config(const nlohmann::json& config) { return FalsePositives(count_options(config)); }
TrueNegatives TrueNegatives::from_config(const nlohmann::json& config) { return TrueNegatives(count_options(config)); }
FalseNegatives FalseNegatives::from_config(const nlohmann::json& config) { return FalseNegatives(count_options(config)); }

// ---- Precision / Recall ----

PrecisionRecallBase::PrecisionRecallBase(std::string class_name, std::string default_name, bool precision,
                                         PrecisionRecallOptions options)
    : PredictionMetric(class_name, pick_name(options.name, default_name)),
      precision_(precision),
      options_(options),
      thresholds_(parse_thresholds(class_name + " '" + pick_name(options.name, default_name) + "'", options.thresholds,
                                   options.top_k ? kNegInf : 0.5)),
      true_positives_(zeros_state({thresholds_.size()})),
      other_(zeros_state({thresholds_.size()})) {
  if (options_.top_k && *options_.top_k < 1) throw ValueError(describe() + ": top_k must be >= 1, got " + std::to_string(*options_.top_k));
}

void PrecisionRecallBase::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  follow_device({&true_positives_, &other_}, y_pred.device());
  const auto counts = confusion_counts(y_true, y_pred, sample_weight, thresholds_,
                                       {.top_k = options_.top_k, .class_id = options_.class_id});
  true_positives_.add_(counts[0]);
  other_.add_(precision_ ? counts[1] : counts[3]);
}

at::Tensor PrecisionRecallBase::result() const {
  return per_threshold(divide_no_nan(true_positives_, true_positives_ + other_));
}

void PrecisionRecallBase::reset_state() {
  true_positives_.zero_();
  other_.zero_();
}

nlohmann::json PrecisionRecallBase::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  config["thresholds"] = thresholds_to_json(options_.thresholds);
  config["top_k"] = optional_to_json(options_.top_k);
  config["class_id"] = optional_to_json(options_.class_id);
  return config;
}

PrecisionRecallOptions PrecisionRecallBase::options_from_config(const nlohmann::json& config) {
  return {.thresholds = thresholds_from_json(config.value("thresholds", nlohmann::json())),
          .top_k = optional_int(config, "top_k"),
          .class_id = optional_int(config, "class_id"),
          .name = config_name(config)};
}

Precision::Precision(PrecisionRecallOptions options)
    : PrecisionRecallBase("Precision", "precision", true, std::move(options)) {}
Recall::Recall(PrecisionRecallOptions options) : PrecisionRecallBase("Recall", "recall", false, std::move(options)) {}
Precision Precision::from_config(const nlohmann::json& config) { return Precision(options_from_config(config)); }
Recall Recall::from_config(const nlohmann::json& config) { return Recall(options_from_config(config)); }

// ---- AUC ----

namespace {

std::string auc_curve(const std::string& curve) {
  if (curve == "ROC" || curve == "roc") return "ROC";
  if (curve == "PR" || curve == "pr") return "PR";
  throw ValueError("Invalid AUC curve value: \"" + curve + "\". Expected values are [\"PR\", \"ROC\"]");
}

std::string auc_summation(const std::string& method) {
  for (const char* known : {"interpolation", "majoring", "minoring"}) {
    std::string capitalised = known;
    capitalised[0] = static_cast<char>(capitalised[0] - 'a' + 'A');
    if (method == known || method == capitalised) return known;
  }
  throw ValueError("Invalid AUC summation method value: \"" + method +
                   "\". Expected values are [\"interpolation\", \"majoring\", \"minoring\"]");
}

// Keras' AUC thresholds: the given ones sorted, or (n - 2) evenly spaced inside (0, 1); then -eps and 1 + eps.
ThresholdSet auc_thresholds(AUCOptions& options, int64_t& num_thresholds) {
  std::vector<double> inner;
  bool evenly = true;
  if (options.thresholds) {
    inner = checked_thresholds("AUC", *options.thresholds);
    std::sort(inner.begin(), inner.end());
    num_thresholds = static_cast<int64_t>(inner.size()) + 2;
    std::vector<double> with_ends = {0.0};
    with_ends.insert(with_ends.end(), inner.begin(), inner.end());
    with_ends.push_back(1.0);
    evenly = evenly_distributed(with_ends);
  } else {
    if (options.num_thresholds <= 1)
      throw ValueError("Argument `num_thresholds` must be an integer > 1. Received: num_thresholds=" +
                       std::to_string(options.num_thresholds));
    num_thresholds = options.num_thresholds;
    for (int64_t i = 0; i < num_thresholds - 2; ++i) inner.push_back((i + 1) * 1.0 / static_cast<double>(num_thresholds - 1));
  }
  std::vector<double> values = {0.0 - kEpsilon};
  values.insert(values.end(), inner.begin(), inner.end());
  values.push_back(1.0 + kEpsilon);
  return ThresholdSet(std::move(values), evenly);
}

}  // namespace

AUC::AUC(AUCOptions options)
    : PredictionMetric("AUC", pick_name(options.name, "auc")),
      options_(std::move(options)),
      num_thresholds_(0),
      thresholds_(auc_thresholds(options_, num_thresholds_)) {
  options_.curve = auc_curve(options_.curve);
  options_.summation_method = auc_summation(options_.summation_method);
  if (options_.label_weights) label_weights_ = at::tensor(*options_.label_weights, at::kDouble);
  if (!options_.multi_label) {
    if (options_.num_labels) throw ValueError(describe() + ": `num_labels` is needed only when `multi_label` is True.");
    build(1);
  } else if (options_.num_labels) {
    build(*options_.num_labels);
  }
}

void AUC::build(int64_t num_labels) {
  const std::vector<int64_t> shape = options_.multi_label ? std::vector<int64_t>{num_thresholds_, num_labels}
                                                          : std::vector<int64_t>{num_thresholds_};
  tp_ = zeros_state(shape);
  fp_ = zeros_state(shape);
  tn_ = zeros_state(shape);
  fn_ = zeros_state(shape);
}

void AUC::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  if (options_.multi_label) {
    if (y_pred.dim() != 2)
      throw ShapeError(describe() + ": `y_pred` must have rank 2 when `multi_label=True`. Found rank " +
                       std::to_string(y_pred.dim()) + ". Full shape received for `y_pred`: " + format_dims(y_pred.sizes()));
    if (!tp_.defined()) build(y_pred.size(1));
    if (y_pred.size(1) != tp_.size(1))
      throw ShapeError(describe() + ": expected " + std::to_string(tp_.size(1)) + " labels, got y_pred of shape " +
                       format_dims(y_pred.sizes()));
  }
  follow_device({&tp_, &fp_, &tn_, &fn_, &label_weights_}, y_pred.device());
  at::Tensor pred = y_pred.detach();
  if (options_.from_logits) pred = at::sigmoid(pred);
  // Multi-label AUC applies label_weights when averaging the per-label areas, not to the counts.
  const auto counts = confusion_counts(y_true, pred, sample_weight, thresholds_,
                                       {.multi_label = options_.multi_label,
                                        .label_weights = options_.multi_label ? at::Tensor() : label_weights_});
  tp_.add_(counts[0]);
  fp_.add_(counts[1]);
  tn_.add_(counts[2]);
  fn_.add_(counts[3]);
}

at::Tensor AUC::average_over_labels(const at::Tensor& by_label) const {
  if (!options_.multi_label) return by_label.sum();
  const at::Tensor per_label = by_label.sum(0);
  if (!label_weights_.defined()) return per_label.mean();
  return divide_no_nan((per_label * label_weights_).sum(), label_weights_.sum());
}

// Davis & Goadrich's interpolation, in Keras' closed form: within each bucket tp and p = tp + fp vary linearly,
// so precision integrates to slope * (dtp + intercept * log(p_a / p_b)), divided by the positives.
at::Tensor AUC::interpolate_pr_auc() const {
  const int64_t n = num_thresholds_;
  const at::Tensor p = tp_ + fp_;
  const at::Tensor dtp = tp_.slice(0, 0, n - 1) - tp_.slice(0, 1);
  const at::Tensor p_a = p.slice(0, 0, n - 1);
  const at::Tensor p_b = p.slice(0, 1);
  const at::Tensor slope = divide_no_nan(dtp, (p_a - p_b).clamp_min(0));
  const at::Tensor intercept = tp_.slice(0, 1) - slope * p_b;
  const at::Tensor ratio = at::where((p_a > 0).logical_and(p_b > 0), divide_no_nan(p_a, p_b.clamp_min(0)), at::ones_like(p_b));
  const at::Tensor increment =
      divide_no_nan(slope * (dtp + intercept * at::log(ratio)), (tp_.slice(0, 1) + fn_.slice(0, 1)).clamp_min(0));
  return average_over_labels(increment);
}

at::Tensor AUC::result() const {
  if (!tp_.defined()) return at::zeros({}, at::kDouble);
  if (options_.curve == "PR" && options_.summation_method == "interpolation") return interpolate_pr_auc();
  const int64_t n = num_thresholds_;
  const at::Tensor recall = divide_no_nan(tp_, tp_ + fn_);
  const at::Tensor x = options_.curve == "ROC" ? divide_no_nan(fp_, fp_ + tn_) : recall;
  const at::Tensor y = options_.curve == "ROC" ? recall : divide_no_nan(tp_, tp_ + fp_);
  const at::Tensor left = y.slice(0, 0, n - 1);
  const at::Tensor right = y.slice(0, 1);
  at::Tensor heights;
  if (options_.summation_method == "interpolation")
    heights = (left + right) / 2.0;
  else if (options_.summation_method == "minoring")
    heights = at::minimum(left, right);
  else
    heights = at::maximum(left, right);
  return average_over_labels((x.slice(0, 0, n - 1) - x.slice(0, 1)) * heights);
}

void AUC::reset_state() {
  for (at::Tensor* t : {&tp_, &fp_, &tn_, &fn_})
    if (t->defined()) t->zero_();
}

std::vector<at::Tensor> AUC::variables() const {
  if (!tp_.defined()) return {};
  return {tp_, fp_, tn_, fn_};
}

nlohmann::json AUC::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  config["num_thresholds"] = num_thresholds_;
  config["curve"] = options_.curve;
  config["summation_method"] = options_.summation_method;
  config["multi_label"] = options_.multi_label;
  config["num_labels"] = optional_to_json(options_.num_labels);
  config["label_weights"] = options_.label_weights ? nlohmann::json(*options_.label_weights) : nlohmann::json(nullptr);
  config["from_logits"] = options_.from_logits;
  // Only explicit thresholds are stored, without the epsilon endpoints, so from_config rebuilds the same set.
  if (options_.thresholds)
    config["thresholds"] = std::vector<double>(thresholds_.values().begin() + 1, thresholds_.values().end() - 1);
  return config;
}

AUC AUC::from_config(const nlohmann::json& config) {
  AUCOptions options;
  options.num_thresholds = config.value("num_thresholds", int64_t{200});
  options.curve = config.value("curve", std::string("ROC"));
  options.summation_method = config.value("summation_method", std::string("interpolation"));
  options.thresholds = thresholds_from_json(config.value("thresholds", nlohmann::json()));
  options.multi_label = config.value("multi_label", false);
  options.num_labels = optional_int(config, "num_labels");
  if (config.contains("label_weights") && !config.at("label_weights").is_null())
    options.label_weights = config.at("label_weights").get<std::vector<double>>();
  options.from_logits = config.value("from_logits", false);
  options.name = config_name(config);
  return AUC(options);
}

// ---- PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity ----

namespace {

// Keras' SensitivitySpecificityBase thresholds: {0.5} for one, else evenly spaced over [0, 1] (no epsilon).
ThresholdSet at_thresholds(int64_t num_thresholds) {
  if (num_thresholds <= 0)
    throw ValueError("Argument `num_thresholds` must be an integer > 0. Received: num_thresholds=" +
                     std::to_string(num_thresholds));
  if (num_thresholds == 1) return ThresholdSet({0.5}, false);
  std::vector<double> values = {0.0};
  for (int64_t i = 0; i < num_thresholds - 2; ++i) values.push_back((i + 1) * 1.0 / static_cast<double>(num_thresholds - 1));
  values.push_back(1.0);
  return ThresholdSet(std::move(values), true);
}

}  // namespace

SensitivitySpecificityBase::SensitivitySpecificityBase(std::string class_name, std::string default_name,
                                                       std::string value_key, double value, Rate constrained,
                                                       Rate maximised, AtOptions options)
    : PredictionMetric(std::move(class_name), pick_name(options.name, default_name)),
      value_key_(std::move(value_key)),
      value_(value),
      constrained_(constrained),
      maximised_(maximised),
      options_(options),
      thresholds_(at_thresholds(options.num_thresholds)),
      tp_(zeros_state({thresholds_.size()})),
      fp_(zeros_state({thresholds_.size()})),
      tn_(zeros_state({thresholds_.size()})),
      fn_(zeros_state({thresholds_.size()})) {
  if (value < 0 || value > 1)
    throw ValueError(describe() + ": Argument `" + value_key_ + "` must be in the range [0, 1]. Received: " +
                     value_key_ + "=" + number(value));
}

void SensitivitySpecificityBase::update_state(const at::Tensor& y_true, const at::Tensor& y_pred,
                                              const at::Tensor& sample_weight) {
  follow_device({&tp_, &fp_, &tn_, &fn_}, y_pred.device());
  const auto counts = confusion_counts(y_true, y_pred, sample_weight, thresholds_, {.class_id = options_.class_id});
  tp_.add_(counts[0]);
  fp_.add_(counts[1]);
  tn_.add_(counts[2]);
  fn_.add_(counts[3]);
}

at::Tensor SensitivitySpecificityBase::rate(Rate which) const {
  switch (which) {
    case Rate::kPrecision:
      return divide_no_nan(tp_, tp_ + fp_);
    case Rate::kRecall:
      return divide_no_nan(tp_, tp_ + fn_);
    case Rate::kSpecificity:
      return divide_no_nan(tn_, tn_ + fp_);
  }
  return {};
}

// Keras' _find_max_under_constraint: the largest dependent rate among feasible thresholds, 0 if none.
at::Tensor SensitivitySpecificityBase::result() const {
  const at::Tensor feasible = rate(constrained_) >= value_;
  return at::where(feasible, rate(maximised_), at::zeros_like(tp_)).max();
}

void SensitivitySpecificityBase::reset_state() {
  for (at::Tensor* t : {&tp_, &fp_, &tn_, &fn_}) t->zero_();
}

nlohmann::json SensitivitySpecificityBase::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  config["class_id"] = optional_to_json(options_.class_id);
  config["num_thresholds"] = options_.num_thresholds;
  config[value_key_] = value_;
  return config;
}

AtOptions SensitivitySpecificityBase::options_from_config(const nlohmann::json& config) {
  return {.num_thresholds = config.value("num_thresholds", int64_t{200}),
          .class_id = optional_int(config, "class_id"),
          .name = config_name(config)};
}

PrecisionAtRecall::PrecisionAtRecall(double recall, AtOptions options)
    : SensitivitySpecificityBase("PrecisionAtRecall", "precision_at_recall", "recall", recall, Rate::kRecall,
                                 Rate::kPrecision, std::move(options)) {}
RecallAtPrecision::RecallAtPrecision(double precision, AtOptions options)
    : SensitivitySpecificityBase("RecallAtPrecision", "recall_at_precision", "precision", precision, Rate::kPrecision,
                                 Rate::kRecall, std::move(options)) {}
SensitivityAtSpecificity::SensitivityAtSpecificity(double specificity, AtOptions options)
    : SensitivitySpecificityBase("SensitivityAtSpecificity", "sensitivity_at_specificity", "specificity", specificity,
                                 Rate::kSpecificity, Rate::kRecall, std::move(options)) {}
SpecificityAtSensitivity::SpecificityAtSensitivity(double sensitivity, AtOptions options)
    : SensitivitySpecificityBase("SpecificityAtSensitivity", "specificity_at_sensitivity", "sensitivity", sensitivity,
                                 Rate::kRecall, Rate::kSpecificity, std::move(options)) {}

PrecisionAtRecall PrecisionAtRecall::from_config(const nlohmann::json& config) {
  return PrecisionAtRecall(config.at("recall").get<double>(), options_from_config(config));
}
RecallAtPrecision RecallAtPrecision::from_config(const nlohmann::json& config) {
  return RecallAtPrecision(config.at("precision").get<double>(), options_from_config(config));
}
SensitivityAtSpecificity SensitivityAtSpecificity::from_config(const nlohmann::json& config) {
  return SensitivityAtSpecificity(config.at("specificity").get<double>(), options_from_config(config));
}
SpecificityAtSensitivity SpecificityAtSensitivity::from_config(const nlohmann::json& config) {
  return SpecificityAtSensitivity(config.at("sensitivity").get<double>(), options_from_config(config));
}

}  // namespace strata::metrics
