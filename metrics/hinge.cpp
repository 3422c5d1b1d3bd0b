#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/metrics/hinge.h>

namespace strata::metrics {
namespace {

// Keras' convert_binary_labels_to_hinge: when every target is 0 or 1, map them to -1 and 1. Decided on
// the device (at::where), so the batch path never waits for the host.
at::Tensor hinge_targets(const at::Tensor& y_true) {
  at::Tensor binary = ((y_true == 0) | (y_true == 1)).all();
  return at::where(binary, 2.0 * y_true - 1.0, y_true);
}

at::Tensor hinge_margins(const at::Tensor& y_true, const at::Tensor& y_pred) {
  auto [truth, pred] = same_rank(y_true, y_pred);
  return at::clamp_min(1.0 - hinge_targets(truth) * pred, 0.0);
}

}  // namespace

Hinge::Hinge(std::string name)
    : MeanMetricWrapper("Hinge", std::move(name), [](const at::Tensor& y_true, const at::Tensor& y_pred) {
        return hinge_margins(y_true, y_pred).mean(-1);
      }) {}

Hinge Hinge::from_config(const nlohmann::json& config) { return Hinge(config.value("name", std::string("hinge"))); }

SquaredHinge::SquaredHinge(std::string name)
    : MeanMetricWrapper("SquaredHinge", std::move(name), [](const at::Tensor& y_true, const at::Tensor& y_pred) {
        return hinge_margins(y_true, y_pred).square().mean(-1);
      }) {}

SquaredHinge SquaredHinge::from_config(const nlohmann::json& config) {
  return SquaredHinge(config.value("name", std::string("squared_hinge")));
}

CategoricalHinge::CategoricalHinge(std::string name)
    : MeanMetricWrapper("CategoricalHinge", std::move(name), [](const at::Tensor& y_true, const at::Tensor& y_pred) {
        auto [truth, pred] = same_rank(y_true, y_pred);
        at::Tensor positive = (truth * pred).sum(-1);
        at::Tensor negative = std::get<0>(((1.0 - truth) * pred).max(-1));
        return at::clamp_min(negative - positive + 1.0, 0.0);
      }) {}

CategoricalHinge CategoricalHinge::from_config(const nlohmann::json& config) {
  return CategoricalHinge(config.value("name", std::string("categorical_hinge")));
}

}  // namespace strata::metrics
