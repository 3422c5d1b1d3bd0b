#pragma once
// Mean: the (weighted) average of every value it has been given since the last reset.

#include <strata/metrics/metric.h>

namespace strata::metrics {

class Mean : public Metric {
 public:
  explicit Mean(std::string name = "mean");

  // Adds sum(values * sample_weight) to the total and sum(sample_weight) (or the count) to the count.
  void update_state(const at::Tensor& values, const at::Tensor& sample_weight = {});
  // Adds an already summed `total` and its `count` (e.g. a batch-mean loss times the batch size).
  void add(const at::Tensor& total, double count);
  at::Tensor result() const override;
  void reset_state() override;
  std::vector<at::Tensor> variables() const override { return {total_, count_}; }

 private:
  at::Tensor total_;
  at::Tensor count_;
};

}  // namespace strata::metrics
