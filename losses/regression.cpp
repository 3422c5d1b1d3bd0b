#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/regression.h>

#include <cmath>

namespace strata::losses {
namespace {

std::string resolved_name(const std::string& given, const char* fallback) { return given.empty() ? fallback : given; }

RegressionOptions regression_options(const nlohmann::json& config, const char* default_name) {
  return {.reduction = reduction_from_config(config), .name = name_from_config(config, default_name)};
}

// y_pred - y_true with the ranks aligned as Keras aligns them.
at::Tensor error(const at::Tensor& y_true, const at::Tensor& y_pred) {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  return predictions - targets;
}

// log(1 + e^x) without overflow for large x.
at::Tensor stable_softplus(const at::Tensor& x) { return at::clamp_min(x, 0.0) + at::log1p(at::exp(-x.abs())); }

}  // namespace

MeanSquaredError::MeanSquaredError(RegressionOptions options)
    : Loss("MeanSquaredError", resolved_name(options.name, "mean_squared_error"), options.reduction) {}

MeanSquaredError MeanSquaredError::from_config(const nlohmann::json& config) {
  return MeanSquaredError(regression_options(config, "mean_squared_error"));
}

at::Tensor MeanSquaredError::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  return error(y_true, y_pred).square().mean(-1);
}

MeanAbsoluteError::MeanAbsoluteError(RegressionOptions options)
    : Loss("MeanAbsoluteError", resolved_name(options.name, "mean_absolute_error"), options.reduction) {}

MeanAbsoluteError MeanAbsoluteError::from_config(const nlohmann::json& config) {
  return MeanAbsoluteError(regression_options(config, "mean_absolute_error"));
}

at::Tensor MeanAbsoluteError::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  return error(y_true, y_pred).abs().mean(-1);
}

MeanAbsolutePercentageError::MeanAbsolutePercentageError(RegressionOptions options)
    : Loss("MeanAbsolutePercentageError", resolved_name(options.name, "mean_absolute_percentage_error"),
           options.reduction) {}

MeanAbsolutePercentageError MeanAbsolutePercentageError::from_config(const nlohmann::json& config) {
  return MeanAbsolutePercentageError(regression_options(config, "mean_absolute_percentage_error"));
}

at::Tensor MeanAbsolutePercentageError::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  return 100.0 * ((targets - predictions) / at::clamp_min(targets.abs(), kEpsilon)).abs().mean(-1);
}

MeanSquaredLogarithmicError::MeanSquaredLogarithmicError(RegressionOptions options)
    : Loss("MeanSquaredLogarithmicError", resolved_name(options.name, "mean_squared_logarithmic_error"),
           options.reduction) {}

MeanSquaredLogarithmicError MeanSquaredLogarithmicError::from_config(const nlohmann::json& config) {
  return MeanSquaredLogarithmicError(regression_options(config, "mean_squared_logarithmic_error"));
}

at::Tensor MeanSquaredLogarithmicError::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  const at::Tensor first = at::log1p(at::clamp_min(predictions, kEpsilon));
  const at::Tensor second = at::log1p(at::clamp_min(targets, kEpsilon));
  return (first - second).square().mean(-1);
}

LogCosh::LogCosh(RegressionOptions options) : Loss("LogCosh", resolved_name(options.name, "log_cosh"), options.reduction) {}

LogCosh LogCosh::from_config(const nlohmann::json& config) { return LogCosh(regression_options(config, "log_cosh")); }

at::Tensor LogCosh::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  const at::Tensor x = error(y_true, y_pred);
  return (x + stable_softplus(-2.0 * x) - std::log(2.0)).mean(-1);
}

Huber::Huber(HuberOptions options)
    : Loss("Huber", resolved_name(options.name, "huber_loss"), options.reduction), options_(std::move(options)) {
  if (!(options_.delta >= 0.0)) throw ValueError(describe() + ": expected delta >= 0, got " + std::to_string(options_.delta));
}

Huber Huber::from_config(const nlohmann::json& config) {
  return Huber({.delta = config.value("delta", 1.0),
                .reduction = reduction_from_config(config),
                .name = name_from_config(config, "huber_loss")});
}

at::Tensor Huber::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  const at::Tensor x = error(y_true, y_pred);
  const at::Tensor abs_error = x.abs();
  const double delta = options_.delta;
  return at::where(abs_error <= delta, 0.5 * x.square(), delta * abs_error - 0.5 * delta * delta).mean(-1);
}

nlohmann::json Huber::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["delta"] = options_.delta;
  return config;
}

CosineSimilarity::CosineSimilarity(CosineSimilarityOptions options)
    : Loss("CosineSimilarity", resolved_name(options.name, "cosine_similarity"), options.reduction),
      options_(std::move(options)) {}

CosineSimilarity CosineSimilarity::from_config(const nlohmann::json& config) {
  return CosineSimilarity({.axis = config.value("axis", int64_t{-1}),
                           .reduction = reduction_from_config(config),
                           .name = name_from_config(config, "cosine_similarity")});
}

at::Tensor CosineSimilarity::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  const int64_t axis = options_.axis;
  // x / max(||x||, eps) written as x * rsqrt(max(||x||^2, eps^2)): a zero vector gets a zero gradient, not NaN.
  auto normalize = [axis](const at::Tensor& x) {
    return x * at::rsqrt(at::clamp_min(x.square().sum(axis, true), kEpsilon * kEpsilon));
  };
  return -(normalize(targets) * normalize(predictions)).sum(axis);
}

nlohmann::json CosineSimilarity::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["axis"] = options_.axis;
  return config;
}

}  // namespace strata::losses
