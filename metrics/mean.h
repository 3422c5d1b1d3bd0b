#pragma once
// Reduction metrics (Keras' reduction_metrics): Sum, Mean, and MeanMetricWrapper, the mean of a per-sample
// function of (y_true, y_pred) that most metrics are made of.

#include <strata/losses/loss.h>
#include <strata/metrics/metric.h>

#include <concepts>
#include <functional>
#include <utility>

namespace strata::metrics {

// Keras' reduce_to_samplewise_values: ranks of values and weights aligned (a trailing 1 squeezed or added),
// values reduced with `reduce` (mean or sum) over the axes the weights lack, weights broadcast and applied,
// then both reduced to one entry per sample. Returns {values, weights}; weights stay undefined without any.
// Keras' squeeze_or_expand_to_same_rank for (y_true, y_pred): when the ranks differ by one and the larger
// ends in 1, a rank-1 partner gains a trailing 1, otherwise the 1 is squeezed. y_true is cast to y_pred's
// floating type.
std::pair<at::Tensor, at::Tensor> same_rank(const at::Tensor& y_true, const at::Tensor& y_pred);
// y_pred as the metrics compute with it: integer predictions become float32, floating ones stay as they are.
at::Tensor floating_predictions(const at::Tensor& y_pred);

struct SamplewiseValues {
  at::Tensor values;
  at::Tensor weights;
};
SamplewiseValues reduce_to_samplewise_values(const at::Tensor& values, const at::Tensor& sample_weight, bool sum,
                                             const std::string& who);

class Mean : public Metric {
 public:
  explicit Mean(std::string name = "mean");

  // Adds the per-sample (weighted) values to the total and the samples' weights (or their count) to the
  // count, as Keras' Mean: values of shape (batch, ...) count once per sample, as their mean.
  void update_state(const at::Tensor& values, const at::Tensor& sample_weight = {});
  // Adds an already summed `total` and its `count` (e.g. a batch-mean loss times the batch size).
  void add(const at::Tensor& total, double count);
  at::Tensor result() const override;
  void reset_state() override;
  std::vector<at::Tensor> variables() const override { return {total_, count_}; }
  static Mean from_config(const nlohmann::json& config);

 private:
  at::Tensor total_;
  at::Tensor count_;
};

// The (weighted) sum of every value given since the last reset.
class Sum : public Metric {
 public:
  explicit Sum(std::string name = "sum");

  void update_state(const at::Tensor& values, const at::Tensor& sample_weight = {});
  at::Tensor result() const override;
  void reset_state() override;
  std::vector<at::Tensor> variables() const override { return {total_}; }
  static Sum from_config(const nlohmann::json& config);

 private:
  at::Tensor total_;
};

// The mean of fn(y_true, y_pred) over samples. Any loss is a metric this way: its call() gives the
// per-sample values (its reduction is not used), e.g. `MeanMetricWrapper(losses::Huber())` or
// `MeanMetricWrapper("mse")`.
class MeanMetricWrapper : public PredictionMetric {
 public:
  using Fn = std::function<at::Tensor(const at::Tensor& y_true, const at::Tensor& y_pred)>;

  explicit MeanMetricWrapper(Fn fn, std::string name = "mean_metric_wrapper");
  // Named after the loss unless `name` is given.
  explicit MeanMetricWrapper(losses::Spec loss, std::string name = "");
  // A loss object is callable too; this picks the loss reading over the function one.
  template <class L>
    requires std::derived_from<std::decay_t<L>, losses::Loss>
  explicit MeanMetricWrapper(L&& loss, std::string name = "")
      : MeanMetricWrapper(losses::Spec(std::forward<L>(loss)), std::move(name)) {}
  // For the built-in metrics: `class_name` is what get_config reports the class as.
  MeanMetricWrapper(std::string class_name, std::string name, Fn fn);

  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override { return mean_.result(); }
  void reset_state() override { mean_.reset_state(); }
  std::vector<at::Tensor> variables() const override { return mean_.variables(); }
  // A wrapper over a loss adds Keras' "fn" key: the loss as {"class_name", "config"}.
  nlohmann::json get_config() const override;
  // "fn" is a loss name ("huber") or a serialized loss, found by its snake_case class name (its own config
  // options are not restored).
  static MeanMetricWrapper from_config(const nlohmann::json& config);

 private:
  Fn fn_;
  std::shared_ptr<losses::Loss> loss_;
  Mean mean_;
};

// The per-sample values of `loss` (its call(), no reduction) as a metric function, so a metric and the loss
// of the same name share one formula. Integer predictions are made floating first, as same_rank does.
template <class L>
  requires std::derived_from<L, losses::Loss>
MeanMetricWrapper::Fn per_sample_loss(L loss) {
  return [loss = std::move(loss)](const at::Tensor& y_true, const at::Tensor& y_pred) {
    return loss.call(y_true, floating_predictions(y_pred));
  };
}

}  // namespace strata::metrics
