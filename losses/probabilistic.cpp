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

// `t` with its `axis` moved last, where the cross-entropies reduce.
at::Tensor axis_last(const at::Tensor& t, int64_t axis) {
  return axis == -1 || axis == t.dim() - 1 ? t : t.movedim(axis, -1);
}

at::Tensor log_probabilities(const at::Tensor& y_pred, bool from_logits) {
  if (from_logits) return at::log_softmax(y_pred, -1);
  // Keras renormalises probabilities before clipping, so rows that do not sum to one still work.
  at::Tensor probs = y_pred / y_pred.sum(-1, true);
  return at::log(at::clamp(probs, kEpsilon, 1.0 - kEpsilon));
}

nlohmann::json crossentropy_config(const Loss& loss, const CrossentropyOptions& options) {
  nlohmann::json config = loss.Loss::get_config();
  config["from_logits"] = options.from_logits;
  config["label_smoothing"] = options.label_smoothing;
  config["axis"] = options.axis;
  return config;
}

CrossentropyOptions crossentropy_options(const nlohmann::json& config, const char* default_name) {
  return {.from_logits = config.value("from_logits", false),
          .label_smoothing = config.value("label_smoothing", 0.0),
          .axis = config.value("axis", int64_t{-1}),
          .reduction = reduction_from_config(config),
          .name = name_from_config(config, default_name)};
}

}  // namespace

BinaryCrossentropy::BinaryCrossentropy(CrossentropyOptions options)
    : Loss("BinaryCrossentropy", resolved_name(options.name, "binary_crossentropy"), options.reduction),
      options_(std::move(options)) {
  check_label_smoothing(options_.label_smoothing, describe());
}

BinaryCrossentropy BinaryCrossentropy::from_config(const nlohmann::json& config) {
  return BinaryCrossentropy(crossentropy_options(config, "binary_crossentropy"));
}

void BinaryCrossentropy::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  validate_call(y_true, y_pred_shape);
  check_target_values(y_true, 0.0, 1.0, false, describe(), "targets in [0, 1]");
}

at::Tensor BinaryCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  if (options_.label_smoothing > 0.0)
    targets = targets * (1.0 - options_.label_smoothing) + 0.5 * options_.label_smoothing;
  at::Tensor losses;
  if (options_.from_logits) {
    losses = at::binary_cross_entropy_with_logits(predictions, targets, {}, {}, at::Reduction::None);
  } else {
    at::Tensor p = at::clamp(predictions, kEpsilon, 1.0 - kEpsilon);
    losses = -(targets * at::log(p) + (1.0 - targets) * at::log1p(-p));
  }
  return losses.mean(options_.axis);
}

nlohmann::json BinaryCrossentropy::get_config() const { return crossentropy_config(*this, options_); }

CategoricalCrossentropy::CategoricalCrossentropy(CrossentropyOptions options)
    : Loss("CategoricalCrossentropy", resolved_name(options.name, "categorical_crossentropy"), options.reduction),
      options_(std::move(options)) {
  check_label_smoothing(options_.label_smoothing, describe());
}

CategoricalCrossentropy CategoricalCrossentropy::from_config(const nlohmann::json& config) {
  return CategoricalCrossentropy(crossentropy_options(config, "categorical_crossentropy"));
}

void CategoricalCrossentropy::validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  Loss::validate_call(y_true, y_pred_shape);
  if (y_true.dim() != static_cast<int64_t>(y_pred_shape.size()))
    throw ShapeError(describe() + ": expected one-hot targets of shape " + format_shape(y_pred_shape) + ", got " +
                     format_dims(y_true.sizes()) + " (use SparseCategoricalCrossentropy for integer labels)");
}

void CategoricalCrossentropy::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  validate_call(y_true, y_pred_shape);
  check_target_values(y_true, 0.0, 1.0, false, describe(), "one-hot targets in [0, 1]");
}

at::Tensor CategoricalCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  at::Tensor targets = axis_last(y_true.to(y_pred.scalar_type()), options_.axis);
  const at::Tensor predictions = axis_last(y_pred, options_.axis);
  if (options_.label_smoothing > 0.0) {
    const double num_classes = static_cast<double>(targets.size(-1));
    targets = targets * (1.0 - options_.label_smoothing) + options_.label_smoothing / num_classes;
  }
  return -(targets * log_probabilities(predictions, options_.from_logits)).sum(-1);
}

nlohmann::json CategoricalCrossentropy::get_config() const { return crossentropy_config(*this, options_); }

SparseCategoricalCrossentropy::SparseCategoricalCrossentropy(SparseCrossentropyOptions options)
    : Loss("SparseCategoricalCrossentropy", resolved_name(options.name, "sparse_categorical_crossentropy"),
           options.reduction),
      options_(std::move(options)) {}

SparseCategoricalCrossentropy SparseCategoricalCrossentropy::from_config(const nlohmann::json& config) {
  SparseCrossentropyOptions options{.from_logits = config.value("from_logits", false),
                                    .reduction = reduction_from_config(config),
                                    .name = name_from_config(config, "sparse_categorical_crossentropy")};
  if (config.contains("ignore_class") && !config.at("ignore_class").is_null())
    options.ignore_class = config.at("ignore_class").get<int64_t>();
  return SparseCategoricalCrossentropy(options);
}

void SparseCategoricalCrossentropy::validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const {
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
  std::optional<double> skip;
  if (options_.ignore_class) skip = static_cast<double>(*options_.ignore_class);
  check_target_values(y_true, 0.0, static_cast<double>(num_classes - 1), true, describe(),
                      "integer labels in [0, " + std::to_string(num_classes) + ")", skip);
}

at::Tensor SparseCategoricalCrossentropy::labels(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  at::Tensor labels = y_true;
  if (labels.dim() == y_pred.dim() && labels.size(-1) == 1) labels = labels.squeeze(-1);
  return labels.to(at::kLong);
}

at::Tensor SparseCategoricalCrossentropy::loss_mask(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  if (!options_.ignore_class) return {};
  return labels(y_true, y_pred) != *options_.ignore_class;
}

at::Tensor SparseCategoricalCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  at::Tensor ids = labels(y_true, y_pred);
  at::Tensor valid;
  if (options_.ignore_class) {
    valid = ids != *options_.ignore_class;
    ids = ids * valid;  // any id in range; its loss is zeroed below
  }
  at::Tensor log_probs = log_probabilities(y_pred, options_.from_logits);
  at::Tensor losses = log_probs.dim() == 2 ? at::nll_loss(log_probs, ids, {}, at::Reduction::None)
                                           : -log_probs.gather(-1, ids.unsqueeze(-1)).squeeze(-1);
  return valid.defined() ? at::where(valid, losses, at::zeros_like(losses)) : losses;
}

nlohmann::json SparseCategoricalCrossentropy::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["from_logits"] = options_.from_logits;
  config["ignore_class"] = options_.ignore_class ? nlohmann::json(*options_.ignore_class) : nlohmann::json(nullptr);
  return config;
}

KLDivergence::KLDivergence(DivergenceOptions options)
    : Loss("KLDivergence", resolved_name(options.name, "kl_divergence"), options.reduction) {}

KLDivergence KLDivergence::from_config(const nlohmann::json& config) {
  return KLDivergence({.reduction = reduction_from_config(config), .name = name_from_config(config, "kl_divergence")});
}

at::Tensor KLDivergence::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  targets = at::clamp(targets, kEpsilon, 1.0);
  predictions = at::clamp(predictions, kEpsilon, 1.0);
  return (targets * at::log(targets / predictions)).sum(-1);
}

Poisson::Poisson(DivergenceOptions options) : Loss("Poisson", resolved_name(options.name, "poisson"), options.reduction) {}

Poisson Poisson::from_config(const nlohmann::json& config) {
  return Poisson({.reduction = reduction_from_config(config), .name = name_from_config(config, "poisson")});
}

at::Tensor Poisson::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  return (predictions - targets * at::log(predictions + kEpsilon)).mean(-1);
}

}  // namespace strata::losses
