#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/losses/loss.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>
#include <strata/losses/ctc.h>
#include <strata/losses/focal.h>
#include <strata/losses/hinge.h>
#include <strata/losses/segmentation.h>


namespace strata::losses {

Reduction parse_reduction(const std::string& name) {
  if (name == "sum_over_batch_size" || name == "auto") return Reduction::kSumOverBatchSize;
  if (name == "sum") return Reduction::kSum;
  if (name == "none") return Reduction::kNone;
  if (name == "mean") return Reduction::kMean;
  if (name == "mean_with_sample_weight") return Reduction::kMeanWithSampleWeight;
  throw ValueError("unknown loss reduction '" + name +
                   "'; expected sum_over_batch_size, sum, none, mean or mean_with_sample_weight");
}

std::string reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::kSumOverBatchSize: return "sum_over_batch_size";
    case Reduction::kSum: return "sum";
    case Reduction::kNone: return "none";
    case Reduction::kMean: return "mean";
    case Reduction::kMeanWithSampleWeight: return "mean_with_sample_weight";
  }
  return "none";
}

Loss::Loss(std::string class_name, std::string name, Reduction reduction)
    : class_name_(std::move(class_name)), name_(std::move(name)), reduction_(reduction) {}

void Loss::validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  Shape targets = with_batch_none(shape_of(y_true));
  // Keras aligns ranks that differ by a trailing 1, e.g. targets (batch,) against predictions (batch, 1).
  if (targets.size() + 1 == y_pred_shape.size() && y_pred_shape.back() == 1) targets.push_back(1);
  if (targets.size() == y_pred_shape.size() + 1 && targets.back() == 1) targets.pop_back();
  bool match = targets.size() == y_pred_shape.size();
  for (size_t i = 1; match && i < targets.size(); ++i)
    match = y_pred_shape[i] == kNone || targets[i] == y_pred_shape[i];
  if (!match)
    throw ShapeError(describe() + ": expected targets of shape " + format_shape(y_pred_shape) +
                     " to match the predictions, got " + format_dims(y_true.sizes()));
}

void Loss::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  validate_call(y_true, y_pred_shape);
}

at::Tensor Loss::loss_mask(const at::Tensor&, const at::Tensor&) const { return {}; }

at::Tensor Loss::operator()(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight,
                            const at::Tensor& mask) const {
  if (!y_true.defined() || !y_pred.defined()) throw ValueError(describe() + ": y_true and y_pred must be defined tensors");
  if (y_pred.dim() == 0 || y_true.dim() == 0 || y_true.size(0) != y_pred.size(0))
    throw ShapeError(describe() + ": y_true and y_pred must have the same batch size, got " +
                     format_dims(y_true.sizes()) + " and " + format_dims(y_pred.sizes()));
  if (sample_weight.defined() && (sample_weight.dim() == 0 || sample_weight.size(0) != y_pred.size(0)))
    throw ShapeError(describe() + ": sample_weight must have one entry per sample (" + std::to_string(y_pred.size(0)) +
                     "), got " + format_dims(sample_weight.sizes()));
  validate_call(y_true, with_batch_none(shape_of(y_pred)));
  at::Tensor losses = call(y_true, y_pred);
  if (mask.defined() && (mask.dim() > losses.dim() || mask.sizes() != losses.sizes().slice(0, mask.dim())))
    throw ShapeError(describe() + ": mask of shape " + format_dims(mask.sizes()) +
                     " does not match the per-entry losses of shape " + format_dims(losses.sizes()));
  return reduce(losses, sample_weight, mask, loss_mask(y_true, y_pred));
}

at::Tensor Loss::compute(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight,
                         const at::Tensor& mask) const {
  at::Tensor losses = call(y_true, y_pred);
  return reduce(losses, sample_weight, mask, loss_mask(y_true, y_pred));
}

namespace {

// Keras' divide_no_nan: 0 where the divisor is 0, with a gradient that stays finite there.
at::Tensor divide_no_nan(const at::Tensor& numerator, const at::Tensor& divisor) {
  const at::Tensor zero = divisor == 0;
  return at::where(zero, at::zeros_like(numerator), numerator / at::where(zero, at::ones_like(divisor), divisor));
}

}  // namespace

at::Tensor Loss::reduce(at::Tensor losses, const at::Tensor& sample_weight, at::Tensor mask,
                        const at::Tensor& own_mask) const {
  if (mask.defined()) mask = broadcast_weights(mask, losses);
  if (own_mask.defined()) {
    const at::Tensor own = broadcast_weights(own_mask, losses);
    mask = mask.defined() ? mask * own : own;
  }
  // The mask and the sample weights merge into one weight per entry, as Keras' apply_mask does.
  at::Tensor weights = mask;
  if (sample_weight.defined()) {
    const at::Tensor per_sample = broadcast_weights(sample_weight, losses);
    weights = weights.defined() ? weights * per_sample : per_sample;
  }
  if (weights.defined()) losses = losses * weights;
  switch (reduction_) {
    case Reduction::kNone: return losses;
    case Reduction::kSum: return losses.sum();
    case Reduction::kMeanWithSampleWeight:
      if (weights.defined()) return divide_no_nan(losses.sum(), weights.expand_as(losses).sum());
      break;
    case Reduction::kSumOverBatchSize:
    case Reduction::kMean:
      // Keras rescales the mask so the mean runs over the entries it keeps.
      if (mask.defined()) return divide_no_nan(losses.sum(), mask.expand_as(losses).sum());
      break;
  }
  // An empty batch reduces to 0 rather than 0 / 0.
  return losses.numel() == 0 ? losses.sum() : losses.sum() / static_cast<double>(losses.numel());
}

at::Tensor Loss::broadcast_weights(const at::Tensor& sample_weight, const at::Tensor& losses) {
  at::Tensor weights = sample_weight.to(losses.scalar_type());
  // Keras squeezes a trailing 1 the losses lack ((samples, 1) weights for (samples,) losses); broadcasting it
  // would weigh every sample's loss by every weight.
  while (weights.dim() > losses.dim() && weights.size(-1) == 1) weights = weights.squeeze(-1);
  while (weights.dim() < losses.dim()) weights = weights.unsqueeze(-1);
  return weights;
}

nlohmann::json Loss::get_config() const { return {{"name", name_}, {"reduction", reduction_name(reduction_)}}; }

Reduction reduction_from_config(const nlohmann::json& config) {
  if (!config.contains("reduction")) return Reduction::kSumOverBatchSize;
  const nlohmann::json& reduction = config.at("reduction");
  return reduction.is_null() ? Reduction::kNone : parse_reduction(reduction.get<std::string>());
}

std::string name_from_config(const nlohmann::json& config, const std::string& fallback) {
  return config.contains("name") && config.at("name").is_string() ? config.at("name").get<std::string>() : fallback;
}

std::pair<at::Tensor, at::Tensor> same_rank(const at::Tensor& y_true, const at::Tensor& y_pred) {
  at::Tensor targets = y_true.to(y_pred.scalar_type());
  at::Tensor predictions = y_pred;
  if (targets.dim() == predictions.dim() + 1 && targets.size(-1) == 1) {
    if (predictions.dim() == 1) predictions = predictions.unsqueeze(-1);
    else targets = targets.squeeze(-1);
  } else if (predictions.dim() == targets.dim() + 1 && predictions.size(-1) == 1) {
    if (targets.dim() == 1) targets = targets.unsqueeze(-1);
    else predictions = predictions.squeeze(-1);
  }
  return {targets, predictions};
}

void check_target_values(const at::Tensor& y_true, double low, double high, bool integral, const std::string& who,
                         const std::string& what, std::optional<double> skip) {
  at::NoGradGuard no_grad;
  at::Tensor values = y_true.detach().reshape({-1});
  if (!values.is_floating_point()) values = values.to(at::kDouble);
  at::Tensor bad = (values < low) | (values > high) | at::isnan(values);
  if (integral) bad = bad | (values != at::floor(values));
  if (skip) bad = bad & (values != *skip);
  at::Tensor bad_index = at::nonzero(bad);
  if (bad_index.numel() == 0) return;
  const int64_t index = bad_index[0].item<int64_t>();
  throw ValueError(who + ": expected " + what + ", got " + std::to_string(values[index].item<double>()) +
                   " at flat index " + std::to_string(index) + " (" + std::to_string(bad_index.size(0)) +
                   " bad values in all)");
}

std::shared_ptr<Loss> get(const std::string& name) {
  static const Factories<Loss> factories = {
      {"mean_squared_error", [] { return std::make_shared<MeanSquaredError>(); }},
      {"mse", [] { return std::make_shared<MeanSquaredError>(); }},
      {"mean_absolute_error", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"mae", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"binary_crossentropy", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"bce", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"categorical_crossentropy", [] { return std::make_shared<CategoricalCrossentropy>(); }},
      {"sparse_categorical_crossentropy", [] { return std::make_shared<SparseCategoricalCrossentropy>(); }},
      {"huber", [] { return std::make_shared<Huber>(); }},
      {"log_cosh", [] { return std::make_shared<LogCosh>(); }},
      {"logcosh", [] { return std::make_shared<LogCosh>(); }},
      {"mean_absolute_percentage_error", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"mape", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"MAPE", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"mean_squared_logarithmic_error", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"msle", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"MSLE", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"kl_divergence", [] { return std::make_shared<KLDivergence>(); }},
      {"kld", [] { return std::make_shared<KLDivergence>(); }},
      {"KLD", [] { return std::make_shared<KLDivergence>(); }},
      {"kullback_leibler_divergence", [] { return std::make_shared<KLDivergence>(); }},
      {"poisson", [] { return std::make_shared<Poisson>(); }},
      {"cosine_similarity", [] { return std::make_shared<CosineSimilarity>(); }},
      {"hinge", [] { return std::make_shared<Hinge>(); }},
      {"squared_hinge", [] { return std::make_shared<SquaredHinge>(); }},
      {"categorical_hinge", [] { return std::make_shared<CategoricalHinge>(); }},
      {"binary_focal_crossentropy", [] { return std::make_shared<BinaryFocalCrossentropy>(); }},
      {"categorical_focal_crossentropy", [] { return std::make_shared<CategoricalFocalCrossentropy>(); }},
      {"dice", [] { return std::make_shared<Dice>(); }},
      {"tversky", [] { return std::make_shared<Tversky>(); }},
      {"ctc", [] { return std::make_shared<CTC>(); }},
      {"MSE", [] { return std::make_shared<MeanSquaredError>(); }},
      {"MAE", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"BCE", [] { return std::make_shared<BinaryCrossentropy>(); }},
      // Class names, as Keras 3 resolves them too.
      {"MeanSquaredError", [] { return std::make_shared<MeanSquaredError>(); }},
      {"MeanAbsoluteError", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"MeanAbsolutePercentageError", [] { return std::make_shared<MeanAbsolutePercentageError>(); }},
      {"MeanSquaredLogarithmicError", [] { return std::make_shared<MeanSquaredLogarithmicError>(); }},
      {"Huber", [] { return std::make_shared<Huber>(); }},
      {"LogCosh", [] { return std::make_shared<LogCosh>(); }},
      {"CosineSimilarity", [] { return std::make_shared<CosineSimilarity>(); }},
      {"BinaryCrossentropy", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"CategoricalCrossentropy", [] { return std::make_shared<CategoricalCrossentropy>(); }},
      {"SparseCategoricalCrossentropy", [] { return std::make_shared<SparseCategoricalCrossentropy>(); }},
      {"KLDivergence", [] { return std::make_shared<KLDivergence>(); }},
      {"Poisson", [] { return std::make_shared<Poisson>(); }},
      {"Hinge", [] { return std::make_shared<Hinge>(); }},
      {"SquaredHinge", [] { return std::make_shared<SquaredHinge>(); }},
      {"CategoricalHinge", [] { return std::make_shared<CategoricalHinge>(); }},
      {"BinaryFocalCrossentropy", [] { return std::make_shared<BinaryFocalCrossentropy>(); }},
      {"CategoricalFocalCrossentropy", [] { return std::make_shared<CategoricalFocalCrossentropy>(); }},
      {"Dice", [] { return std::make_shared<Dice>(); }},
      {"Tversky", [] { return std::make_shared<Tversky>(); }},
      {"CTC", [] { return std::make_shared<CTC>(); }},
  };
  return create(factories, "loss", name);
}

}  // namespace strata::losses
