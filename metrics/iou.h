#pragma once
// Intersection-over-union metrics (Keras 3): a weighted (num_classes x num_classes) confusion matrix of
// true (rows) against predicted (columns) classes; IoU_c = tp_c / (tp_c + fp_c + fn_c), averaged over the
// target classes that have appeared.

#include <strata/metrics/metric.h>

#include <optional>

namespace strata::metrics {

struct IoUOptions {
  // A class id (e.g. a "void" label such as 255) whose pixels are left out.
  std::optional<int64_t> ignore_class = std::nullopt;
  bool sparse_y_true = true;  // false: labels are one-hot / scores and argmax over `axis` picks the class
  bool sparse_y_pred = true;  // false: predictions are scores and argmax over `axis` picks the class
  int64_t axis = -1;
  std::string name = "";
};

class IoU : public PredictionMetric {
 public:
  IoU(int64_t num_classes, std::vector<int64_t> target_class_ids, IoUOptions options = {});
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;
  void reset_state() override { total_cm_.zero_(); }
  std::vector<at::Tensor> variables() const override { return {total_cm_}; }  // total_confusion_matrix
  nlohmann::json get_config() const override;
  static IoU from_config(const nlohmann::json& config);

  int64_t num_classes() const { return num_classes_; }
  const std::vector<int64_t>& target_class_ids() const { return target_class_ids_; }

 protected:
  IoU(std::string class_name, std::string default_name, int64_t num_classes, std::vector<int64_t> target_class_ids,
      IoUOptions options);
  const IoUOptions& options() const { return options_; }

 private:
  int64_t num_classes_;
  std::vector<int64_t> target_class_ids_;
  IoUOptions options_;
  at::Tensor total_cm_;
};

// The IoU averaged over all classes.
class MeanIoU : public IoU {
 public:
  explicit MeanIoU(int64_t num_classes, IoUOptions options = {});
  nlohmann::json get_config() const override;
  static MeanIoU from_config(const nlohmann::json& config);
};

struct BinaryIoUOptions {
  std::vector<int64_t> target_class_ids = {0, 1};
  double threshold = 0.5;  // predictions >= threshold are class 1
  std::string name = "";
};

// IoU of classes 0 and/or 1 after thresholding the predictions.
class BinaryIoU : public IoU {
 public:
  explicit BinaryIoU(BinaryIoUOptions options = {});
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  nlohmann::json get_config() const override;
  static BinaryIoU from_config(const nlohmann::json& config);

 private:
  double threshold_;
};

struct OneHotIoUOptions {
  std::optional<int64_t> ignore_class = std::nullopt;
  bool sparse_y_pred = false;
  int64_t axis = -1;
  std::string name = "";
};

// IoU with one-hot labels.
class OneHotIoU : public IoU {
 public:
  OneHotIoU(int64_t num_classes, std::vector<int64_t> target_class_ids, OneHotIoUOptions options = {});
  nlohmann::json get_config() const override;
  static OneHotIoU from_config(const nlohmann::json& config);
};

// MeanIoU with one-hot labels.
class OneHotMeanIoU : public IoU {
 public:
  explicit OneHotMeanIoU(int64_t num_classes, OneHotIoUOptions options = {});
  nlohmann::json get_config() const override;
  static OneHotMeanIoU from_config(const nlohmann::json& config);
};

}  // namespace strata::metrics
