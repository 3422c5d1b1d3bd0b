#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/losses/hinge.h>

namespace strata::losses {
namespace {

std::string resolved_name(const std::string& given, const char* fallback) { return given.empty() ? fallback : given; }

HingeOptions hinge_options(const nlohmann::json& config, const char* default_name) {
  return {.reduction = reduction_from_config(config), .name = name_from_config(config, default_name)};
}

// max(1 - y * y_pred, 0) with 0/1 targets mapped to -1/1 when all of them are 0 or 1 (decided on the device,
// without a host sync).
at::Tensor margins(const at::Tensor& y_true, const at::Tensor& y_pred) {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  const at::Tensor binary = ((targets == 0) | (targets == 1)).all();
  targets = at::where(binary, 2.0 * targets - 1.0, targets);
  return at::clamp_min(1.0 - targets * predictions, 0.0);
}

}  // namespace

Hinge::Hinge(HingeOptions options) : Loss("Hinge", resolved_name(options.name, "hinge"), options.reduction) {}

Hinge Hinge::from_config(const nlohmann::json& config) { return Hinge(hinge_options(config, "hinge")); }

at::Tensor Hinge::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  return margins(y_true, y_pred).mean(-1);
}

SquaredHinge::SquaredHinge(HingeOptions options)
    : Loss("SquaredHinge", resolved_name(options.name, "squared_hinge"), options.reduction) {}

SquaredHinge SquaredHinge::from_config(const nlohmann::json& config) {
  return SquaredHinge(hinge_options(config, "squared_hinge"));
}

at::Tensor SquaredHinge::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  return margins(y_true, y_pred).square().mean(-1);
}

CategoricalHinge::CategoricalHinge(HingeOptions options)
    : Loss("CategoricalHinge", resolved_name(options.name, "categorical_hinge"), options.reduction) {}

CategoricalHinge CategoricalHinge::from_config(const nlohmann::json& config) {
  return CategoricalHinge(hinge_options(config, "categorical_hinge"));
}

at::Tensor CategoricalHinge::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [targets, predictions] = same_rank(y_true, y_pred);
  const at::Tensor pos = (targets * predictions).sum(-1);
  const at::Tensor neg = std::get<0>(((1.0 - targets) * predictions).max(-1));
  return at::clamp_min(neg - pos + 1.0, 0.0);
}

}  // namespace strata::losses
