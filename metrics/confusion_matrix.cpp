#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/metrics/confusion_matrix.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace strata::metrics {
namespace {

// Keras' squeeze_or_expand_to_same_rank: a trailing size-1 axis is dropped (or, with expand_rank_1, a rank-1
// partner gains one) so (B,) and (B, 1) line up.
std::pair<at::Tensor, at::Tensor> same_rank(at::Tensor x1, at::Tensor x2, bool expand_rank_1) {
  const int64_t r1 = x1.dim();
  const int64_t r2 = x2.dim();
  if (r1 == r2 + 1 && x1.size(-1) == 1) {
    if (r2 == 1 && expand_rank_1)
      x2 = x2.unsqueeze(-1);
    else
      x1 = x1.squeeze(-1);
  }
  if (r2 == r1 + 1 && x2.size(-1) == 1) {
    if (r1 == 1 && expand_rank_1)
      x1 = x1.unsqueeze(-1);
    else
      x2 = x2.squeeze(-1);
  }
  return {x1, x2};
}

// Keras' _filter_top_k: the k largest values of the last axis stay, the rest become NEG_INF.
at::Tensor filter_top_k(const at::Tensor& x, int64_t k) {
  const at::Tensor indices = std::get<1>(x.topk(k, -1));
  const at::Tensor mask = at::zeros_like(x).scatter_(-1, indices, 1.0);
  return x * mask + kNegInf * (1 - mask);
}

}  // namespace

ThresholdSet::ThresholdSet(std::vector<double> values, bool distributed_evenly)
    : values_(std::move(values)), evenly_(distributed_evenly) {
  if (values_.empty()) throw ValueError("a confusion-matrix metric needs at least one threshold");
  if (evenly_) {
    // Keras checks the first and last threshold for the epsilon endpoints AUC adds.
    with_epsilon_ = values_.front() < 0.0 || values_.back() > 1.0;
    return;
  }
  std::vector<int64_t> order(values_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return values_[a] < values_[b]; });
  for (int64_t i : order) sorted_.push_back(static_cast<float>(values_[i]));
  if (!std::is_sorted(values_.begin(), values_.end())) {
    inverse_order_.resize(order.size());
    for (size_t j = 0; j < order.size(); ++j) inverse_order_[order[j]] = static_cast<int64_t>(j);
  }
}

at::Tensor ThresholdSet::exceeded(const at::Tensor& predictions) const {
  if (evenly_) {
    // Bucket b = ceil(p * (T - 1)) - 1 holds predictions in (t_b, t_{b+1}]; such a prediction exceeds b + 1
    // thresholds. With epsilon endpoints, p == 0 still exceeds the first threshold (-epsilon).
    at::Tensor count = at::ceil(predictions.clamp(0.0, 1.0) * static_cast<float>(size() - 1));
    if (with_epsilon_) count = count.clamp_min(1.0);
    return count.to(at::kLong);
  }
  const at::Tensor sorted = at::tensor(sorted_, predictions.options().dtype(at::kFloat));
  // searchsorted(side="left") = the number of thresholds strictly below p, i.e. those p is greater than.
  return at::searchsorted(sorted, predictions.contiguous());
}

at::Tensor ThresholdSet::unsort(const at::Tensor& counts) const {
  if (inverse_order_.empty()) return counts;
  return counts.index_select(0, at::tensor(inverse_order_, counts.options().dtype(at::kLong)));
}

std::array<at::Tensor, 4> confusion_counts(const at::Tensor& y_true, const at::Tensor& y_pred,
                                           const at::Tensor& sample_weight, const ThresholdSet& thresholds,
                                           const ConfusionOptions& options) {
  at::NoGradGuard no_grad;
  auto [pred, truth] = same_rank(y_pred.detach().to(at::kFloat), y_true.detach().to(y_pred.device(), at::kFloat), true);
  at::Tensor weight;
  if (sample_weight.defined()) {
    // Keras appends an axis to the weights, then drops it again if that made them outrank the labels:
    // (B,) weights go with (B,) labels and broadcast over the classes of (B, C) labels.
    weight = sample_weight.detach().to(pred.device(), at::kDouble).unsqueeze(-1);
    if (weight.dim() == truth.dim() + 1 && weight.size(-1) == 1) weight = weight.squeeze(-1);
  }
  if (options.top_k) pred = filter_top_k(pred, *options.top_k);
  if (options.class_id) {
    if (pred.dim() == 1)
      throw ValueError("When class_id is provided, y_pred must be a 2D array with shape (num_samples, num_classes), "
                       "found shape: [" + std::to_string(pred.size(0)) + "]");
    truth = truth.select(-1, *options.class_id).unsqueeze(-1);
    pred = pred.select(-1, *options.class_id).unsqueeze(-1);
  }
  if (truth.sizes() != pred.sizes())
    throw ShapeError("confusion-matrix metric: y_true of shape " + format_dims(truth.sizes()) +
                     " does not match y_pred of shape " + format_dims(pred.sizes()));
  if (options.multi_label && pred.dim() != 2)
    throw ShapeError("confusion-matrix metric: multi_label needs y_pred of rank 2 (samples, labels), got shape " +
                     format_dims(pred.sizes()));

  at::Tensor w = weight.defined() ? weight.expand(pred.sizes()) : at::ones(pred.sizes(), pred.options().dtype(at::kDouble));
  if (options.label_weights.defined() && !options.multi_label)
    w = w * options.label_weights.to(pred.device(), at::kDouble).unsqueeze(0).expand(pred.sizes());
  const at::Tensor positive = (truth != 0).to(at::kDouble);
  const at::Tensor pos_weight = positive * w;
  const at::Tensor neg_weight = (1 - positive) * w;

  const int64_t T = thresholds.size();
  const int64_t L = options.multi_label ? pred.size(1) : 1;
  at::Tensor bucket = thresholds.exceeded(pred);
  if (options.multi_label) bucket = bucket * L + at::arange(L, bucket.options());
  bucket = bucket.reshape(-1);
  // hist[k] = weight of predictions exceeding exactly k thresholds; the reversed cumulative sum from k = j + 1
  // is the weight above threshold j.
  const auto above = [&](const at::Tensor& values) {
    const at::Tensor hist =
        at::zeros({(T + 1) * L}, values.options()).index_add_(0, bucket, values.reshape(-1)).view({T + 1, L});
    return hist.flip(0).cumsum(0).flip(0);  // row 0 is the total
  };
  const at::Tensor pos_above = above(pos_weight);
  const at::Tensor neg_above = above(neg_weight);
  at::Tensor tp = pos_above.slice(0, 1);
  at::Tensor fp = neg_above.slice(0, 1);
  at::Tensor fn = pos_above.slice(0, 0, 1) - tp;
  at::Tensor tn = neg_above.slice(0, 0, 1) - fp;
  std::array<at::Tensor, 4> out = {tp, fp, tn, fn};
  for (auto& t : out) t = thresholds.unsort(options.multi_label ? t : t.squeeze(1));
  return out;
}

bool evenly_distributed(const std::vector<double>& values) {
  const auto n = values.size();
  if (n < 3) return false;
  for (size_t i = 0; i < n; ++i) {
    const double even = static_cast<float>(static_cast<float>(i) / static_cast<float>(n - 1));
    if (std::abs(values[i] - even) > 1e-7 + 1e-5 * std::abs(even)) return false;
  }
  return true;
}

at::Tensor divide_no_nan(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor nonzero = b != 0;
  return at::where(nonzero, a / at::where(nonzero, b, at::ones_like(b)), at::zeros_like(a));
}

void follow_device(std::vector<at::Tensor*> state, const at::Device& device) {
  for (at::Tensor* t : state)
    if (t->defined() && t->device() != device) *t = t->to(device);
}

nlohmann::json thresholds_to_json(const std::optional<std::vector<double>>& thresholds) {
  if (!thresholds) return nullptr;
  if (thresholds->size() == 1) return thresholds->front();
  return *thresholds;
}

std::optional<std::vector<double>> thresholds_from_json(const nlohmann::json& value) {
  if (value.is_null()) return std::nullopt;
  if (value.is_number()) return std::vector<double>{value.get<double>()};
  return value.get<std::vector<double>>();
}

}  // namespace strata::metrics
