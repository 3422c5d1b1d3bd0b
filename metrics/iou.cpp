#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/confusion_matrix.h>
#include <strata/metrics/iou.h>

#include <algorithm>
#include <numeric>

namespace strata::metrics {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras' backend.epsilon()

std::vector<int64_t> all_classes(int64_t num_classes) {
  std::vector<int64_t> ids(static_cast<size_t>(std::max<int64_t>(num_classes, 0)));
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

std::optional<int64_t> optional_int(const nlohmann::json& config, const char* key) {
  if (!config.contains(key) || config.at(key).is_null()) return std::nullopt;
  return config.at(key).get<int64_t>();
}

IoUOptions iou_options(const nlohmann::json& config) {
  return {.ignore_class = optional_int(config, "ignore_class"),
          .sparse_y_true = config.value("sparse_y_true", true),
          .sparse_y_pred = config.value("sparse_y_pred", true),
          .axis = config.value("axis", int64_t{-1}),
          .name = config.value("name", std::string())};
}

OneHotIoUOptions one_hot_options(const nlohmann::json& config) {
  return {.ignore_class = optional_int(config, "ignore_class"),
          .sparse_y_pred = config.value("sparse_y_pred", false),
          .axis = config.value("axis", int64_t{-1}),
          .name = config.value("name", std::string())};
}

IoUOptions from_one_hot(const OneHotIoUOptions& options) {
  return {.ignore_class = options.ignore_class,
          .sparse_y_true = false,
          .sparse_y_pred = options.sparse_y_pred,
          .axis = options.axis,
          .name = options.name};
}

}  // namespace

IoU::IoU(int64_t num_classes, std::vector<int64_t> target_class_ids, IoUOptions options)
    : IoU("IoU", "io_u", num_classes, std::move(target_class_ids), std::move(options)) {}

IoU::IoU(std::string class_name, std::string default_name, int64_t num_classes, std::vector<int64_t> target_class_ids,
         IoUOptions options)
    : PredictionMetric(std::move(class_name), options.name.empty() ? default_name : options.name),
      num_classes_(num_classes),
      target_class_ids_(std::move(target_class_ids)),
      options_(std::move(options)) {
  if (num_classes_ < 1) throw ValueError(describe() + ": num_classes must be >= 1, got " + std::to_string(num_classes_));
  if (target_class_ids_.empty()) throw ValueError(describe() + ": target_class_ids must not be empty");
  const int64_t largest = *std::max_element(target_class_ids_.begin(), target_class_ids_.end());
  if (largest >= num_classes_ || *std::min_element(target_class_ids_.begin(), target_class_ids_.end()) < 0)
    throw ValueError(describe() + ": Target class id " + std::to_string(largest) + " is out of range, which is [0, " +
                     std::to_string(num_classes_) + ").");
  total_cm_ = at::zeros({num_classes_, num_classes_}, at::kDouble);
}

void IoU::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  follow_device({&total_cm_}, y_pred.device());
  at::Tensor truth = y_true.detach().to(y_pred.device());
  at::Tensor pred = y_pred.detach();
  if (!options_.sparse_y_true) truth = truth.argmax(options_.axis);
  if (!options_.sparse_y_pred) pred = pred.argmax(options_.axis);
  // Keras goes through float32 and then truncates to integer class ids.
  truth = truth.to(at::kFloat).reshape(-1);
  pred = pred.to(at::kFloat).reshape(-1);
  if (truth.numel() != pred.numel())
    throw ShapeError(describe() + ": y_true has " + std::to_string(truth.numel()) + " class ids but y_pred has " +
                     std::to_string(pred.numel()));
  at::Tensor weight = sample_weight.defined() ? sample_weight.detach().to(pred.device(), at::kDouble)
                                              : at::ones({}, pred.options().dtype(at::kDouble));
  if (weight.dim() > 1) weight = weight.reshape(-1);
  weight = weight.expand(truth.sizes());
  if (options_.ignore_class) {
    // Ignored entries become (0, 0) pairs of weight 0, as in Keras.
    const at::Tensor valid = truth != static_cast<float>(*options_.ignore_class);
    truth = truth * valid;
    pred = pred * valid;
    weight = weight * valid;
  }
  const at::Tensor index = truth.to(at::kLong) * num_classes_ + pred.to(at::kLong);
  total_cm_.view(-1).index_add_(0, index, weight.contiguous());
}

at::Tensor IoU::result() const {
  const at::Tensor predicted = total_cm_.sum(0);
  const at::Tensor actual = total_cm_.sum(1);
  const at::Tensor tp = total_cm_.diagonal();
  const at::Tensor ids = at::tensor(target_class_ids_, total_cm_.options().dtype(at::kLong));
  const at::Tensor denominator = (predicted + actual - tp).index_select(0, ids);
  // Classes that never appeared (denominator 0) are left out of the mean.
  const at::Tensor valid = (denominator > 1e-9).to(at::kDouble).sum();
  const at::Tensor iou = tp.index_select(0, ids) / (denominator + kEpsilon);
  return iou.sum() / (valid + kEpsilon);
}

nlohmann::json IoU::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  config["num_classes"] = num_classes_;
  config["target_class_ids"] = target_class_ids_;
  config["ignore_class"] = options_.ignore_class ? nlohmann::json(*options_.ignore_class) : nlohmann::json(nullptr);
  config["sparse_y_true"] = options_.sparse_y_true;
  config["sparse_y_pred"] = options_.sparse_y_pred;
  config["axis"] = options_.axis;
  return config;
}

IoU IoU::from_config(const nlohmann::json& config) {
  return IoU(config.at("num_classes").get<int64_t>(), config.at("target_class_ids").get<std::vector<int64_t>>(),
             iou_options(config));
}

MeanIoU::MeanIoU(int64_t num_classes, IoUOptions options)
    : IoU("MeanIoU", "mean_io_u", num_classes, all_classes(num_classes), std::move(options)) {}

nlohmann::json MeanIoU::get_config() const {
  nlohmann::json config = IoU::get_config();
  config.erase("target_class_ids");
  return config;
}

MeanIoU MeanIoU::from_config(const nlohmann::json& config) {
  return MeanIoU(config.at("num_classes").get<int64_t>(), iou_options(config));
}

BinaryIoU::BinaryIoU(BinaryIoUOptions options)
    : IoU("BinaryIoU", "binary_io_u", 2, std::move(options.target_class_ids), {.name = options.name}),
      threshold_(options.threshold) {}

void BinaryIoU::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  IoU::update_state(y_true, (y_pred.detach().to(at::kFloat) >= threshold_).to(at::kFloat), sample_weight);
}

nlohmann::json BinaryIoU::get_config() const {
  const nlohmann::json base = PredictionMetric::get_config();
  return {{"target_class_ids", target_class_ids()}, {"threshold", threshold_}, {"name", base.at("name")}, {"dtype", base.at("dtype")}};
}

BinaryIoU BinaryIoU::from_config(const nlohmann::json& config) {
  return BinaryIoU({.target_class_ids = config.value("target_class_ids", std::vector<int64_t>{0, 1}),
                    .threshold = config.value("threshold", 0.5),
                    .name = config.value("name", std::string())});
}

OneHotIoU::OneHotIoU(int64_t num_classes, std::vector<int64_t> target_class_ids, OneHotIoUOptions options)
    : IoU("OneHotIoU", "one_hot_io_u", num_classes, std::move(target_class_ids), from_one_hot(options)) {}

nlohmann::json OneHotIoU::get_config() const {
  nlohmann::json config = IoU::get_config();
  config.erase("sparse_y_true");
  return config;
}

OneHotIoU OneHotIoU::from_config(const nlohmann::json& config) {
  return OneHotIoU(config.at("num_classes").get<int64_t>(), config.at("target_class_ids").get<std::vector<int64_t>>(),
                   one_hot_options(config));
}

OneHotMeanIoU::OneHotMeanIoU(int64_t num_classes, OneHotIoUOptions options)
    : IoU("OneHotMeanIoU", "one_hot_mean_io_u", num_classes, all_classes(num_classes), from_one_hot(options)) {}

nlohmann::json OneHotMeanIoU::get_config() const {
  nlohmann::json config = IoU::get_config();
  config.erase("sparse_y_true");
  config.erase("target_class_ids");
  return config;
}

OneHotMeanIoU OneHotMeanIoU::from_config(const nlohmann::json& config) {
  return OneHotMeanIoU(config.at("num_classes").get<int64_t>(), one_hot_options(config));
}

}  // namespace strata::metrics
