#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/registry.h>
#include <strata/losses/loss.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>


namespace strata::losses {

Reduction parse_reduction(const std::string& name) {
  if (name == "sum_over_batch_size" || name == "auto") return Reduction::kSumOverBatchSize;
  if (name == "sum") return Reduction::kSum;
  if (name == "none") return Reduction::kNone;
  throw ValueError("unknown loss reduction '" + name + "'; expected sum_over_batch_size, sum or none");
}

std::string reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::kSumOverBatchSize: return "sum_over_batch_size";
    case Reduction::kSum: return "sum";
    case Reduction::kNone: return "none";
  }
  return "none";
}

Loss::Loss(std::string class_name, std::string name, Reduction reduction)
    : class_name_(std::move(class_name)), name_(std::move(name)), reduction_(reduction) {}

void Loss::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
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

at::Tensor Loss::operator()(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight,
                            const at::Tensor& mask) const {
  if (!y_true.defined() || !y_pred.defined()) throw ValueError(describe() + ": y_true and y_pred must be defined tensors");
  if (y_pred.dim() == 0 || y_true.dim() == 0 || y_true.size(0) != y_pred.size(0))
    throw ShapeError(describe() + ": y_true and y_pred must have the same batch size, got " +
                     format_dims(y_true.sizes()) + " and " + format_dims(y_pred.sizes()));
  if (sample_weight.defined() && (sample_weight.dim() == 0 || sample_weight.size(0) != y_pred.size(0)))
    throw ShapeError(describe() + ": sample_weight must have one entry per sample (" + std::to_string(y_pred.size(0)) +
                     "), got " + format_dims(sample_weight.sizes()));
  validate_targets(y_true, with_batch_none(shape_of(y_pred)));
  at::Tensor losses = call(y_true, y_pred);
  if (mask.defined() && (mask.dim() > losses.dim() || mask.sizes() != losses.sizes().slice(0, mask.dim())))
    throw ShapeError(describe() + ": mask of shape " + format_dims(mask.sizes()) +
                     " does not match the per-entry losses of shape " + format_dims(losses.sizes()));
  return reduce(losses, sample_weight, mask);
}

at::Tensor Loss::compute(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight,
                         const at::Tensor& mask) const {
  return reduce(call(y_true, y_pred), sample_weight, mask);
}

at::Tensor Loss::reduce(at::Tensor losses, const at::Tensor& sample_weight, const at::Tensor& mask) const {
  if (mask.defined()) losses = losses * broadcast_weights(mask, losses);
  if (sample_weight.defined()) losses = losses * broadcast_weights(sample_weight, losses);
  switch (reduction_) {
    case Reduction::kSum: return losses.sum();
    case Reduction::kNone: return losses;
    case Reduction::kSumOverBatchSize:
      if (!mask.defined()) return losses.mean();
      // Keras rescales the mask so the mean runs over the entries it keeps.
      return losses.sum() / at::clamp_min(broadcast_weights(mask, losses).expand_as(losses).sum(), 1.0);
  }
  return losses;
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
  };
  return create(factories, "loss", name);
}

}  // namespace strata::losses
