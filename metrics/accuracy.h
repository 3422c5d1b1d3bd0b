#pragma once
// Accuracy metrics: each turns a batch into per-sample 0/1 matches and keeps their running mean.

#include <strata/metrics/mean.h>

namespace strata::metrics {

// Exact equality of y_true and y_pred.
class Accuracy : public MeanMetricWrapper {
 public:
  explicit Accuracy(std::string name = "accuracy");
  static Accuracy from_config(const nlohmann::json& config);
};

// Predictions above `threshold` count as 1.
class BinaryAccuracy : public MeanMetricWrapper {
 public:
  explicit BinaryAccuracy(std::string name = "binary_accuracy", double threshold = 0.5);
  nlohmann::json get_config() const override;
  static BinaryAccuracy from_config(const nlohmann::json& config);

 private:
  double threshold_;
};

// argmax of one-hot targets against argmax of predictions.
class CategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit CategoricalAccuracy(std::string name = "categorical_accuracy");
  static CategoricalAccuracy from_config(const nlohmann::json& config);
};

// Integer labels against argmax of predictions.
class SparseCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy");
  static SparseCategoricalAccuracy from_config(const nlohmann::json& config);
};

struct TopKOptions {
  int64_t k = 5;
  std::string name = "";
};

// Whether the target class (argmax of one-hot targets) is among the k highest predictions; a tie with the
// k-th highest counts as in, as Keras' in_top_k.
class TopKCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit TopKCategoricalAccuracy(TopKOptions options = {});
  nlohmann::json get_config() const override;
  static TopKCategoricalAccuracy from_config(const nlohmann::json& config);

 private:
  int64_t k_;
};

struct SparseTopKOptions {
  int64_t k = 5;
  // y_pred holds class ids sorted by score (e.g. from a top-k search) rather than scores.
  bool from_sorted_ids = false;
  std::string name = "";
};

// TopKCategoricalAccuracy for integer labels of shape (batch,) or (batch, 1).
class SparseTopKCategoricalAccuracy : public MeanMetricWrapper {
 public:
  explicit SparseTopKCategoricalAccuracy(SparseTopKOptions options = {});
  nlohmann::json get_config() const override;
  static SparseTopKCategoricalAccuracy from_config(const nlohmann::json& config);

 private:
  SparseTopKOptions options_;
};

}  // namespace strata::metrics
