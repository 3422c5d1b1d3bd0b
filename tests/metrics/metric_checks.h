#pragma once
// Checks every PredictionMetric test runs: streaming updates over row slices equal one update over the whole
// batch, reset_state starts over, and get_config -> from_config gives the same config and the same result.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/metrics/metric.h>

#include <catch2/catch.hpp>

#include <functional>
#include <vector>

namespace metric_checks {

inline double value(const strata::metrics::Metric& metric) { return metric.result().item<double>(); }

// (n, cols) float tensor from row-major values.
inline at::Tensor rows(std::vector<double> values, int64_t cols) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kDouble).reshape({n / cols, cols}).to(at::kFloat);
}

// Feeds rows [0, cut_1), [cut_1, cut_2), ... [cut_k, n) one update each; returns the result.
inline at::Tensor streamed(strata::metrics::PredictionMetric& metric, const at::Tensor& y_true, const at::Tensor& y_pred,
                           const at::Tensor& weights, const std::vector<int64_t>& cuts) {
  std::vector<int64_t> bounds = {0};
  bounds.insert(bounds.end(), cuts.begin(), cuts.end());
  bounds.push_back(y_pred.size(0));
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    const int64_t start = bounds[i], length = bounds[i + 1] - bounds[i];
    metric.update_state(y_true.narrow(0, start, length), y_pred.narrow(0, start, length),
                        weights.defined() ? weights.narrow(0, start, length) : at::Tensor());
  }
  return metric.result();
}

// `make` builds a fresh metric. Checks streaming == one update, reset, and the config round trip (via
// `from_config`), each with and without weights.
template <class M>
void check_streaming_reset_and_config(const std::function<M()>& make, const std::function<M(const nlohmann::json&)>& from_config,
                                      const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& weights,
                                      const std::vector<int64_t>& cuts) {
  for (const at::Tensor& w : {at::Tensor(), weights}) {
    M whole = make();
    whole.update_state(y_true, y_pred, w);
    const at::Tensor expected = whole.result();
    M parts = make();
    CHECK(at::allclose(streamed(parts, y_true, y_pred, w, cuts).to(at::kDouble), expected.to(at::kDouble), 1e-6, 1e-9));

    parts.reset_state();
    for (const at::Tensor& v : parts.variables()) CHECK(v.abs().sum().item<double>() == 0.0);
    parts.update_state(y_true, y_pred, w);
    CHECK(at::allclose(parts.result().to(at::kDouble), expected.to(at::kDouble), 1e-6, 1e-9));

    M restored = from_config(whole.get_config());
    CHECK(restored.get_config() == whole.get_config());
    CHECK(restored.name() == whole.name());
    restored.update_state(y_true, y_pred, w);
    CHECK(at::allclose(restored.result().to(at::kDouble), expected.to(at::kDouble), 1e-6, 1e-9));
  }
}

}  // namespace metric_checks
