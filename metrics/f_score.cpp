#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/metrics/confusion_matrix.h>
#include <strata/metrics/f_score.h>

#include <sstream>

namespace strata::metrics {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras' backend.epsilon()

std::optional<std::string> optional_string(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || config.at(key).is_null()) return std::nullopt;
  return config.at(key).get<std::string>();
}

std::optional<double> optional_double(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || config.at(key).is_null()) return std::nullopt;
  return config.at(key).get<double>();
}

}  // namespace

FBetaScore::FBetaScore(FBetaScoreOptions options) : FBetaScore("FBetaScore", std::move(options)) {}

FBetaScore::FBetaScore(std::string class_name, FBetaScoreOptions options)
    : PredictionMetric(std::move(class_name), options.name), options_(std::move(options)) {
  const auto& average = options_.average;
  if (average && *average != "micro" && *average != "macro" && *average != "weighted")
    throw ValueError(describe() + ": Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                     "'weighted'}. Received: average=" + *average);
  if (!(options_.beta > 0.0)) {
    std::ostringstream out;
    out << options_.beta;
    throw ValueError(describe() + ": Invalid `beta` argument value. It should be > 0. Received: beta=" + out.str());
  }
  if (options_.threshold && (*options_.threshold > 1.0 || *options_.threshold <= 0.0)) {
    std::ostringstream out;
    out << *options_.threshold;
    throw ValueError(describe() + ": Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                     "Received: threshold=" + out.str());
  }
}

void FBetaScore::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  if (y_pred.dim() != 2 || y_true.dim() != 2)
    throw ShapeError(describe() + ": FBetaScore expects 2D inputs with shape (batch_size, output_dim). Received input "
                     "shapes: y_pred.shape=" + format_dims(y_pred.sizes()) + " and y_true.shape=" +
                     format_dims(y_true.sizes()) + ".");
  const bool micro = options_.average == "micro";
  if (!tp_.defined()) {
    const std::vector<int64_t> shape = micro ? std::vector<int64_t>{} : std::vector<int64_t>{y_pred.size(-1)};
    for (at::Tensor* t : {&tp_, &fp_, &fn_, &weights_}) *t = at::zeros(shape, at::kDouble);
  }
  follow_device({&tp_, &fp_, &fn_, &weights_}, y_pred.device());
  const at::Tensor pred_values = y_pred.detach().to(at::kFloat);
  at::Tensor pred;
  if (options_.threshold) {
    pred = pred_values > *options_.threshold;
  } else {
    // The largest prediction of each sample is positive, unless it is zero (so [0, 0, 0] stays negative).
    const at::Tensor largest = std::get<0>(pred_values.max(-1, true));
    pred = (pred_values >= largest).logical_and(pred_values.abs() > 1e-9);
  }
  const at::Tensor p = pred.to(at::kDouble);
  const at::Tensor t = y_true.detach().to(p.device(), at::kDouble);
  const at::Tensor w = sample_weight.defined() ? sample_weight.detach().to(p.device(), at::kDouble).unsqueeze(1) : at::Tensor();
  const auto weighted_sum = [&](const at::Tensor& value) {
    const at::Tensor v = w.defined() ? value * w : value;
    return micro ? v.sum() : v.sum(0);
  };
  tp_.add_(weighted_sum(p * t));
  fp_.add_(weighted_sum(p * (1 - t)));
  fn_.add_(weighted_sum((1 - p) * t));
  weights_.add_(weighted_sum(t));
}

at::Tensor FBetaScore::result() const {
  if (!tp_.defined()) return at::zeros({}, at::kDouble);
  const at::Tensor precision = tp_ / (tp_ + fp_ + kEpsilon);
  const at::Tensor recall = tp_ / (tp_ + fn_ + kEpsilon);
  const double beta2 = options_.beta * options_.beta;
  const at::Tensor f = precision * recall / (beta2 * precision + recall + kEpsilon) * (1 + beta2);
  if (options_.average == "weighted") return (f * (weights_ / (weights_.sum() + kEpsilon))).sum();
  if (options_.average) return f.mean();
  return f.clone();
}

void FBetaScore::reset_state() {
  for (at::Tensor* t : {&tp_, &fp_, &fn_, &weights_})
    if (t->defined()) t->zero_();
}

std::vector<at::Tensor> FBetaScore::variables() const {
  if (!tp_.defined()) return {};
  return {tp_, fp_, fn_, weights_};
}

nlohmann::json FBetaScore::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  config["average"] = options_.average ? nlohmann::json(*options_.average) : nlohmann::json(nullptr);
  config["beta"] = options_.beta;
  config["threshold"] = options_.threshold ? nlohmann::json(*options_.threshold) : nlohmann::json(nullptr);
  return config;
}

FBetaScore FBetaScore::from_config(const nlohmann::json& config) {
  return FBetaScore({.average = optional_string(config, "average"),
                     .beta = config.value("beta", 1.0),
                     .threshold = optional_double(config, "threshold"),
                     .name = config.value("name", std::string("fbeta_score"))});
}

F1Score::F1Score(F1ScoreOptions options)
    : FBetaScore("F1Score", {.average = options.average, .beta = 1.0, .threshold = options.threshold, .name = options.name}) {}

nlohmann::json F1Score::get_config() const {
  nlohmann::json config = FBetaScore::get_config();
  config.erase("beta");
  return config;
}

F1Score F1Score::from_config(const nlohmann::json& config) {
  return F1Score({.average = optional_string(config, "average"),
                  .threshold = optional_double(config, "threshold"),
                  .name = config.value("name", std::string("f1_score"))});
}

}  // namespace strata::metrics
