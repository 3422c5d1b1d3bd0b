#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/probabilistic.h>

namespace strata::losses {
namespace {

std::string resolved_name(const std::string& given, const char* fallback) { return given.empty() ? fallback : given; }

void check_label_smoothing(double ls, const std::string& who) {
  if (!(ls >= 0.0 && ls <= 1.0))
    throw ValueError(who + ": expected label_smoothing in [0, 1], got " + std::to_string(ls));
}

// Throws naming the first target outside [low, high] (or not an integer, when `integral`).
void check_target_values(const at::Tensor& y_true, double low, double high, bool integral, const std::string& who,
                         const std::string& what) {
  at::NoGradGuard no_grad;
  at::Tensor values = y_true.detach().reshape({-1});
  if (!values.is_floating_point() && !values.is_complex()) values = values.to(at::kDouble);
  at::Tensor bad = (values < low) | (values > high) | at::isnan(values);
  if (integral && values.is_floating_point()) bad = bad | (values != at::floor(values));
  at::Tensor bad_index = at::nonzero(bad);
  if (bad_index.numel() == 0) return;
  const int64_t index = bad_index[0].item<int64_t>();
  throw ValueError(who + ": expected " + what + ", got " + std::to_string(values[index].item<double>()) +
                   " at flat index " + std::to_string(index) + " (" + std::to_string(bad_index.size(0)) +
                   " bad values in all)");
}

at::Tensor log_probabilities(const at::Tensor& y_pred, bool from_logits) {
  if (from_logits) return at::log_softmax(y_pred, -1);
  // Keras renormalises probabilities before clipping, so rows that do not sum to one still work.
  at::Tensor probs = y_pred / y_pred.sum(-1, true);
  return at::log(at::clamp(probs, kEpsilon, 1.0 - kEpsilon));
}

nlohmann::json crossentropy_config(const Loss& loss, bool from_logits, double label_smoothing) {
  nlohmann::json config = loss.Loss::get_config();
  config["from_logits"] = from_logits;
  config["label_smoothing"] = label_smoothing;
  config["axis"] = -1;
  return config;
}

}  // namespace

BinaryCrossentropy::BinaryCrossentropy(CrossentropyOptions options)
    : Loss("BinaryCrossentropy", resolved_name(options.name, "binary_crossentropy"), options.reduction),
      options_(std::move(options)) {
  check_label_smoothing(options_.label_smoothing, describe());
}

void BinaryCrossentropy::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  Loss::validate_targets(y_true, y_pred_shape);
  check_target_values(y_true, 0.0, 1.0, false, describe(), "targets in [0, 1]");
}

at::Tensor BinaryCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  at::Tensor targets = y_true.to(y_pred.scalar_type());
  if (targets.dim() + 1 == y_pred.dim()) targets = targets.unsqueeze(-1);
  if (options_.label_smoothing > 0.0)
    targets = targets * (1.0 - options_.label_smoothing) + 0.5 * options_.label_smoothing;
  if (options_.from_logits)
    return at::binary_cross_entropy_with_logits(y_pred, targets, {}, {}, at::Reduction::None).mean(-1);
  at::Tensor p = at::clamp(y_pred, kEpsilon, 1.0 - kEpsilon);
  return -(targets * at::log(p) + (1.0 - targets) * at::log1p(-p)).mean(-1);
}

nlohmann::json BinaryCrossentropy::get_config() const {
  return crossentropy_config(*this, options_.from_logits, options_.label_smoothing);
}

CategoricalCrossentropy::CategoricalCrossentropy(CrossentropyOptions options)
    : Loss("CategoricalCrossentropy", resolved_name(options.name, "categorical_crossentropy"), options.reduction),
      options_(std::move(options)) {
  check_label_smoothing(options_.label_smoothing, describe());
}

void CategoricalCrossentropy::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  Loss::validate_targets(y_true, y_pred_shape);
  if (y_true.dim() != static_cast<int64_t>(y_pred_shape.size()))
    throw ShapeError(describe() + ": expected one-hot targets of shape " + format_shape(y_pred_shape) + ", got " +
                     format_dims(y_true.sizes()) + " (use SparseCategoricalCrossentropy for integer labels)");
  check_target_values(y_true, 0.0, 1.0, false, describe(), "one-hot targets in [0, 1]");
}

at::Tensor CategoricalCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  at::Tensor targets = y_true.to(y_pred.scalar_type());
  if (options_.label_smoothing > 0.0) {
    const double num_classes = static_cast<double>(y_pred.size(-1));
    targets = targets * (1.0 - options_.label_smoothing) + options_.label_smoothing / num_classes;
  }
  return -(targets * log_probabilities(y_pred, options_.from_logits)).sum(-1);
}

nlohmann::json CategoricalCrossentropy::get_config() const {
  return crossentropy_config(*this, options_.from_logits, options_.label_smoothing);
}

SparseCategoricalCrossentropy::SparseCategoricalCrossentropy(SparseCrossentropyOptions options)
    : Loss("SparseCategoricalCrossentropy", resolved_name(options.name, "sparse_categorical_crossentropy"),
           options.reduction),
      options_(std::move(options)) {}

void SparseCategoricalCrossentropy::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  Shape labels = with_batch_none(shape_of(y_true));
  if (labels.size() == y_pred_shape.size() && labels.back() == 1) labels.pop_back();
  Shape expected(y_pred_shape.begin(), y_pred_shape.end() - 1);
  bool match = labels.size() == expected.size();
  for (size_t i = 1; match && i < labels.size(); ++i) match = expected[i] == kNone || labels[i] == expected[i];
  if (!match)
    throw ShapeError(describe() + ": expected integer labels of shape " + format_shape(expected) +
                     " for predictions of shape " + format_shape(y_pred_shape) + ", got " + format_dims(y_true.sizes()));
  const int64_t num_classes = y_pred_shape.back();
  if (num_classes == kNone) return;
  check_target_values(y_true, 0.0, static_cast<double>(num_classes - 1), true, describe(),
                      "integer labels in [0, " + std::to_string(num_classes) + ")");
}

at::Tensor SparseCategoricalCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  at::Tensor labels = y_true;
  if (labels.dim() == y_pred.dim() && labels.size(-1) == 1) labels = labels.squeeze(-1);
  labels = labels.to(at::kLong);
  at::Tensor log_probs = log_probabilities(y_pred, options_.from_logits);
  if (log_probs.dim() == 2) return at::nll_loss(log_probs, labels, {}, at::Reduction::None);
  return -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1);
}

nlohmann::json SparseCategoricalCrossentropy::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["from_logits"] = options_.from_logits;
  config["ignore_class"] = nullptr;
  config["axis"] = -1;
  return config;
}

}  // namespace strata::losses
