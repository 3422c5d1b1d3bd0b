#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/focal.h>

namespace strata::losses {
namespace {

std::string resolved_name(const std::string& given, const char* fallback) { return given.empty() ? fallback : given; }

void check_label_smoothing(double ls, const std::string& who) {
  if (!(ls >= 0.0 && ls <= 1.0))
    throw ValueError(who + ": expected label_smoothing in [0, 1], got " + std::to_string(ls));
}

}  // namespace

BinaryFocalCrossentropy::BinaryFocalCrossentropy(BinaryFocalCrossentropyOptions options)
    : Loss("BinaryFocalCrossentropy", resolved_name(options.name, "binary_focal_crossentropy"), options.reduction),
      options_(std::move(options)) {
  check_label_smoothing(options_.label_smoothing, describe());
}

BinaryFocalCrossentropy BinaryFocalCrossentropy::from_config(const nlohmann::json& config) {
  return BinaryFocalCrossentropy({.apply_class_balancing = config.value("apply_class_balancing", false),
                                  .alpha = config.value("alpha", 0.25),
                                  .gamma = config.value("gamma", 2.0),
                                  .from_logits = config.value("from_logits", false),
                                  .label_smoothing = config.value("label_smoothing", 0.0),
                                  .axis = config.value("axis", int64_t{-1}),
                                  .reduction = reduction_from_config(config),
                                  .name = name_from_config(config, "binary_focal_crossentropy")});
}

void BinaryFocalCrossentropy::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  validate_call(y_true, y_pred_shape);
  check_target_values(y_true, 0.0, 1.0, false, describe(), "targets in [0, 1]");
}

at::Tensor BinaryFocalCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [y, p] = same_rank(y_true, y_pred);
  if (options_.label_smoothing > 0.0) y = y * (1.0 - options_.label_smoothing) + 0.5 * options_.label_smoothing;
  if (options_.from_logits) p = at::sigmoid(p);
  const at::Tensor clipped = at::clamp(p, kEpsilon, 1.0 - kEpsilon);
  const at::Tensor bce = -(y * at::log(clipped) + (1.0 - y) * at::log1p(-clipped));
  const at::Tensor p_t = y * p + (1.0 - y) * (1.0 - p);
  at::Tensor focal = at::pow(1.0 - p_t, options_.gamma) * bce;
  if (options_.apply_class_balancing) focal = (y * options_.alpha + (1.0 - y) * (1.0 - options_.alpha)) * focal;
  return focal.mean(options_.axis);
}

nlohmann::json BinaryFocalCrossentropy::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["from_logits"] = options_.from_logits;
  config["label_smoothing"] = options_.label_smoothing;
  config["axis"] = options_.axis;
  config["apply_class_balancing"] = options_.apply_class_balancing;
  config["alpha"] = options_.alpha;
  config["gamma"] = options_.gamma;
  return config;
}

CategoricalFocalCrossentropy::CategoricalFocalCrossentropy(CategoricalFocalCrossentropyOptions options)
    : Loss("CategoricalFocalCrossentropy", resolved_name(options.name, "categorical_focal_crossentropy"),
           options.reduction),
      options_(std::move(options)) {
  check_label_smoothing(options_.label_smoothing, describe());
  if (options_.alpha.empty()) throw ValueError(describe() + ": alpha needs one value, or one per class");
}

CategoricalFocalCrossentropy CategoricalFocalCrossentropy::from_config(const nlohmann::json& config) {
  std::vector<double> alpha = {0.25};
  if (config.contains("alpha"))
    alpha = config.at("alpha").is_array() ? config.at("alpha").get<std::vector<double>>()
                                          : std::vector<double>{config.at("alpha").get<double>()};
  return CategoricalFocalCrossentropy({.alpha = alpha,
                                       .gamma = config.value("gamma", 2.0),
                                       .from_logits = config.value("from_logits", false),
                                       .label_smoothing = config.value("label_smoothing", 0.0),
                                       .axis = config.value("axis", int64_t{-1}),
                                       .reduction = reduction_from_config(config),
                                       .name = name_from_config(config, "categorical_focal_crossentropy")});
}

void CategoricalFocalCrossentropy::validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  Loss::validate_call(y_true, y_pred_shape);
  if (y_true.dim() != static_cast<int64_t>(y_pred_shape.size()))
    throw ShapeError(describe() + ": expected one-hot targets of shape " + format_shape(y_pred_shape) + ", got " +
                     format_dims(y_true.sizes()));
  const auto alphas = static_cast<int64_t>(options_.alpha.size());
  const int64_t axis = options_.axis < 0 ? options_.axis + static_cast<int64_t>(y_pred_shape.size()) : options_.axis;
  const int64_t classes = axis >= 0 && axis < static_cast<int64_t>(y_pred_shape.size()) ? y_pred_shape[axis] : kNone;
  if (alphas > 1 && classes != kNone && alphas != classes)
    throw ValueError(describe() + ": expected one alpha per class (" + std::to_string(classes) + "), got " +
                     std::to_string(alphas));
}

void CategoricalFocalCrossentropy::validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  validate_call(y_true, y_pred_shape);
  check_target_values(y_true, 0.0, 1.0, false, describe(), "one-hot targets in [0, 1]");
}

at::Tensor CategoricalFocalCrossentropy::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  const int64_t axis = options_.axis;
  at::Tensor y = y_true.to(y_pred.scalar_type());
  at::Tensor p = y_pred;
  if (axis != -1 && axis != p.dim() - 1) {
    y = y.movedim(axis, -1);
    p = p.movedim(axis, -1);
  }
  if (options_.label_smoothing > 0.0)
    y = y * (1.0 - options_.label_smoothing) + options_.label_smoothing / static_cast<double>(y.size(-1));
  if (options_.from_logits) p = at::softmax(p, -1);
  p = at::clamp(p / p.sum(-1, true), kEpsilon, 1.0 - kEpsilon);
  const at::Tensor alpha =
      options_.alpha.size() == 1 ? at::scalar_tensor(options_.alpha.front(), p.options())
                                 : at::tensor(options_.alpha, at::TensorOptions().dtype(at::kDouble)).to(p.options());
  return (alpha * at::pow(1.0 - p, options_.gamma) * -y * at::log(p)).sum(-1);
}

nlohmann::json CategoricalFocalCrossentropy::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["from_logits"] = options_.from_logits;
  config["label_smoothing"] = options_.label_smoothing;
  config["axis"] = options_.axis;
  config["alpha"] = options_.alpha.size() == 1 ? nlohmann::json(options_.alpha.front()) : nlohmann::json(options_.alpha);
  config["gamma"] = options_.gamma;
  return config;
}

}  // namespace strata::losses
