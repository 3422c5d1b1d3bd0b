#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/losses/segmentation.h>

namespace strata::losses {
namespace {

std::string resolved_name(const std::string& given, const char* fallback) { return given.empty() ? fallback : given; }

// Sum over `axis`, or over everything when there is none.
at::Tensor sum_over(const at::Tensor& x, const std::optional<std::vector<int64_t>>& axis) {
  return axis ? x.sum(*axis) : x.sum();
}

std::optional<std::vector<int64_t>> axis_from_config(const nlohmann::json& config) {
  if (!config.contains("axis") || config.at("axis").is_null()) return std::nullopt;
  const nlohmann::json& axis = config.at("axis");
  return axis.is_array() ? axis.get<std::vector<int64_t>>() : std::vector<int64_t>{axis.get<int64_t>()};
}

nlohmann::json axis_to_config(const std::optional<std::vector<int64_t>>& axis) {
  return axis ? nlohmann::json(*axis) : nlohmann::json(nullptr);
}

}  // namespace

Dice::Dice(DiceOptions options)
    : Loss("Dice", resolved_name(options.name, "dice"), options.reduction), options_(std::move(options)) {}

Dice Dice::from_config(const nlohmann::json& config) {
  return Dice({.axis = axis_from_config(config),
               .reduction = reduction_from_config(config),
               .name = name_from_config(config, "dice")});
}

at::Tensor Dice::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [t, p] = same_rank(y_true, y_pred);
  const at::Tensor intersection = sum_over(t * p, options_.axis);
  return 1.0 - 2.0 * intersection / (sum_over(t, options_.axis) + sum_over(p, options_.axis) + kEpsilon);
}

nlohmann::json Dice::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["axis"] = axis_to_config(options_.axis);
  return config;
}

Tversky::Tversky(TverskyOptions options)
    : Loss("Tversky", resolved_name(options.name, "tversky"), options.reduction), options_(std::move(options)) {}

Tversky Tversky::from_config(const nlohmann::json& config) {
  return Tversky({.alpha = config.value("alpha", 0.5),
                  .beta = config.value("beta", 0.5),
                  .axis = axis_from_config(config),
                  .reduction = reduction_from_config(config),
                  .name = name_from_config(config, "tversky")});
}

at::Tensor Tversky::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  auto [t, p] = same_rank(y_true, y_pred);
  const at::Tensor intersection = sum_over(t * p, options_.axis);
  const at::Tensor missed = sum_over((1.0 - p) * t, options_.axis);
  const at::Tensor extra = sum_over(p * (1.0 - t), options_.axis);
  return 1.0 - intersection / (intersection + options_.alpha * missed + options_.beta * extra + kEpsilon);
}

nlohmann::json Tversky::get_config() const {
  nlohmann::json config = Loss::get_config();
  config["alpha"] = options_.alpha;
  config["beta"] = options_.beta;
  config["axis"] = axis_to_config(options_.axis);
  return config;
}

}  // namespace strata::losses
