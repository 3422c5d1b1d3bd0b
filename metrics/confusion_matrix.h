#pragma once
// The shared confusion-matrix update behind TruePositives ... AUC (Keras' metrics_utils.
// update_confusion_matrix_variables): every prediction is bucketed against all thresholds at once, the
// weighted positives and negatives are histogrammed per bucket, and a reversed cumulative sum turns the
// histogram into tp/fp per threshold. No loop over thresholds, no host sync.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::metrics {

// Keras' NEG_INF: the threshold Precision/Recall use with top_k, and the value top_k gives the other classes.
inline constexpr double kNegInf = -1e10;

// Thresholds as Keras compares them: in float32, strictly greater means positive.
class ThresholdSet {
 public:
  // `distributed_evenly` selects Keras' bucket formula ceil(p * (T - 1)) (predictions clipped to [0, 1]);
  // otherwise each prediction counts the thresholds strictly below it, in any threshold order.
  ThresholdSet(std::vector<double> values, bool distributed_evenly);
  const std::vector<double>& values() const { return values_; }
  int64_t size() const { return static_cast<int64_t>(values_.size()); }
  bool distributed_evenly() const { return evenly_; }
  // Per prediction, how many of the (sorted) thresholds it exceeds.
  at::Tensor exceeded(const at::Tensor& predictions) const;
  // Puts per-threshold counts computed in sorted order back into the order the thresholds were given in.
  at::Tensor unsort(const at::Tensor& counts) const;

 private:
  std::vector<double> values_;
  bool evenly_;
  bool with_epsilon_ = false;
  std::vector<int64_t> inverse_order_;  // empty when already sorted
  std::vector<float> sorted_;
};

struct ConfusionOptions {
  std::optional<int64_t> top_k = std::nullopt;
  std::optional<int64_t> class_id = std::nullopt;
  bool multi_label = false;
  at::Tensor label_weights = {};  // (L,), only without multi_label
};

// {tp, fp, tn, fn} of this batch, float64, shape (T,) or (T, L) with multi_label.
std::array<at::Tensor, 4> confusion_counts(const at::Tensor& y_true, const at::Tensor& y_pred,
                                           const at::Tensor& sample_weight, const ThresholdSet& thresholds,
                                           const ConfusionOptions& options = {});

// numpy.allclose(values, arange(n) / (n - 1), atol=1e-7) for n >= 3, Keras' is_evenly_distributed_thresholds.
bool evenly_distributed(const std::vector<double>& values);

// a / b where b != 0, else 0 (Keras' divide_no_nan).
at::Tensor divide_no_nan(const at::Tensor& a, const at::Tensor& b);

// Moves state tensors to `device` when a batch arrives on another one (state starts on the CPU).
void follow_device(std::vector<at::Tensor*> state, const at::Device& device);

// Thresholds in a config: null when unset, a number for one, a list otherwise (as the user gave them).
nlohmann::json thresholds_to_json(const std::optional<std::vector<double>>& thresholds);
std::optional<std::vector<double>> thresholds_from_json(const nlohmann::json& value);

}  // namespace strata::metrics
