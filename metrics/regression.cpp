#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/losses/regression.h>
#include <strata/metrics/regression.h>

namespace strata::metrics {
namespace {

std::string config_name(const nlohmann::json& config, const std::string& fallback) {
  return config.value("name", fallback);
}

}  // namespace

MeanSquaredError::MeanSquaredError(std::string name)
    : MeanMetricWrapper("MeanSquaredError", std::move(name), per_sample_loss(losses::MeanSquaredError())) {}

MeanSquaredError MeanSquaredError::from_config(const nlohmann::json& config) {
  return MeanSquaredError(config_name(config, "mean_squared_error"));
}

MeanAbsoluteError::MeanAbsoluteError(std::string name)
    : MeanMetricWrapper("MeanAbsoluteError", std::move(name), per_sample_loss(losses::MeanAbsoluteError())) {}

MeanAbsoluteError MeanAbsoluteError::from_config(const nlohmann::json& config) {
  return MeanAbsoluteError(config_name(config, "mean_absolute_error"));
}

MeanAbsolutePercentageError::MeanAbsolutePercentageError(std::string name)
    : MeanMetricWrapper("MeanAbsolutePercentageError", std::move(name),
                        per_sample_loss(losses::MeanAbsolutePercentageError())) {}

MeanAbsolutePercentageError MeanAbsolutePercentageError::from_config(const nlohmann::json& config) {
  return MeanAbsolutePercentageError(config_name(config, "mean_absolute_percentage_error"));
}

MeanSquaredLogarithmicError::MeanSquaredLogarithmicError(std::string name)
    : MeanMetricWrapper("MeanSquaredLogarithmicError", std::move(name),
                        per_sample_loss(losses::MeanSquaredLogarithmicError())) {}

MeanSquaredLogarithmicError MeanSquaredLogarithmicError::from_config(const nlohmann::json& config) {
  return MeanSquaredLogarithmicError(config_name(config, "mean_squared_logarithmic_error"));
}

LogCoshError::LogCoshError(std::string name)
    : MeanMetricWrapper("LogCoshError", std::move(name), per_sample_loss(losses::LogCosh())) {}

LogCoshError LogCoshError::from_config(const nlohmann::json& config) {
  return LogCoshError(config_name(config, "logcosh"));
}

// Keras' metric is the loss negated: +1 when y_true and y_pred point the same way.
CosineSimilarity::CosineSimilarity(CosineSimilarityOptions options)
    : MeanMetricWrapper("CosineSimilarity", std::move(options.name),
                        [fn = per_sample_loss(losses::CosineSimilarity({.axis = options.axis}))](
                            const at::Tensor& y_true, const at::Tensor& y_pred) { return -fn(y_true, y_pred); }),
      axis_(options.axis) {}

nlohmann::json CosineSimilarity::get_config() const {
  nlohmann::json config = MeanMetricWrapper::get_config();
  config["axis"] = axis_;
  return config;
}

CosineSimilarity CosineSimilarity::from_config(const nlohmann::json& config) {
  return CosineSimilarity({.axis = config.value("axis", int64_t{-1}), .name = config_name(config, "cosine_similarity")});
}

RootMeanSquaredError::RootMeanSquaredError(std::string name)
    : PredictionMetric("RootMeanSquaredError", name), mean_(name) {}

void RootMeanSquaredError::update_state(const at::Tensor& y_true, const at::Tensor& y_pred,
                                        const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  auto [truth, pred] = same_rank(y_true.detach(), y_pred.detach());
  mean_.update_state((pred - truth).square(), sample_weight);
}

at::Tensor RootMeanSquaredError::result() const { return at::sqrt(mean_.result()); }

RootMeanSquaredError RootMeanSquaredError::from_config(const nlohmann::json& config) {
  return RootMeanSquaredError(config_name(config, "root_mean_squared_error"));
}

R2Score::R2Score(R2ScoreOptions options) : PredictionMetric("R2Score", options.name), options_(std::move(options)) {
  const auto& aggregation = options_.class_aggregation;
  if (aggregation && *aggregation != "uniform_average" && *aggregation != "variance_weighted_average")
    throw ValueError(describe() + ": expected class_aggregation \"uniform_average\", \"variance_weighted_average\" or "
                     "none, got \"" + *aggregation + "\"");
  if (options_.num_regressors < 0)
    throw ValueError(describe() + ": expected num_regressors >= 0, got " + std::to_string(options_.num_regressors));
}

void R2Score::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  auto [truth, pred] = same_rank(y_true.detach().to(at::kDouble), y_pred.detach().to(at::kDouble));
  if (truth.dim() != 2 || pred.dim() != 2 || truth.sizes() != pred.sizes())
    throw ShapeError(describe() + ": expected y_true and y_pred of the same shape (batch_size, output_dim), got " +
                     format_dims(y_true.sizes()) + " and " + format_dims(y_pred.sizes()));
  const int64_t outputs = pred.size(1);
  if (!sum_.defined()) {
    for (at::Tensor* t : {&squared_sum_, &sum_, &residual_, &count_}) *t = at::zeros({outputs}, at::kDouble);
    num_samples_ = at::zeros({}, at::kLong);
  } else if (sum_.size(0) != outputs) {
    throw ShapeError(describe() + ": built for " + std::to_string(sum_.size(0)) + " outputs, got y_pred of shape " +
                     format_dims(y_pred.sizes()));
  }
  at::Tensor weight = sample_weight.defined() ? sample_weight.detach().to(at::kDouble) : at::ones({}, at::kDouble);
  if (weight.dim() == 1) weight = weight.unsqueeze(1);
  if (!at::is_expandable_to(weight.sizes(), truth.sizes()))
    throw ShapeError(describe() + ": sample_weight of shape " + format_dims(sample_weight.sizes()) +
                     " does not broadcast to y_true of shape " + format_dims(y_true.sizes()));
  weight = weight.expand_as(truth);
  at::Tensor weighted_truth = truth * weight;
  sum_.add_(weighted_truth.sum(0));
  squared_sum_.add_((truth * weighted_truth).sum(0));
  residual_.add_(((truth - pred).square() * weight).sum(0));
  count_.add_(weight.sum(0));
  num_samples_.add_(truth.numel());  // Keras counts elements, not rows
}

at::Tensor R2Score::result() const {
  if (!sum_.defined()) return at::zeros({}, at::kDouble);
  at::Tensor mean = sum_ / count_;
  at::Tensor total = squared_sum_ - sum_ * mean;
  at::Tensor raw = 1.0 - residual_ / total;
  raw = at::where(at::isinf(raw), at::zeros_like(raw), raw);
  at::Tensor score = raw;
  if (options_.class_aggregation == "uniform_average") score = raw.mean();
  else if (options_.class_aggregation == "variance_weighted_average") score = (total * raw).sum() / total.sum();
  if (options_.num_regressors == 0) return score;
  // Adjusted R2 needs n - p - 1 > 0; Keras falls back to the plain score otherwise.
  at::Tensor n = num_samples_.to(at::kDouble);
  const double p = static_cast<double>(options_.num_regressors);
  at::Tensor adjusted = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0);
  return at::where(n - p - 1.0 > 0, adjusted, score);
}

void R2Score::reset_state() {
  for (at::Tensor* t : {&squared_sum_, &sum_, &residual_, &count_, &num_samples_})
    if (t->defined()) t->zero_();
}

std::vector<at::Tensor> R2Score::variables() const {
  if (!sum_.defined()) return {};
  return {num_samples_, squared_sum_, sum_, residual_, count_};
}

nlohmann::json R2Score::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  config["class_aggregation"] = options_.class_aggregation ? nlohmann::json(*options_.class_aggregation) : nullptr;
  config["num_regressors"] = options_.num_regressors;
  return config;
}

R2Score R2Score::from_config(const nlohmann::json& config) {
  R2ScoreOptions options{.num_regressors = config.value("num_regressors", int64_t{0}),
                         .name = config_name(config, "r2_score")};
  if (config.contains("class_aggregation")) {
    const auto& aggregation = config.at("class_aggregation");
    options.class_aggregation =
        aggregation.is_null() ? std::nullopt : std::optional<std::string>(aggregation.get<std::string>());
  }
  return R2Score(options);
}

}  // namespace strata::metrics
