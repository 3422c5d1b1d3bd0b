#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/core/shape.h>
#include <strata/metrics/mean.h>

#include <numeric>

namespace strata::metrics {
namespace {

std::vector<int64_t> axes_from(int64_t first, int64_t rank) {
  std::vector<int64_t> axes(static_cast<size_t>(std::max<int64_t>(rank - first, 0)));
  std::iota(axes.begin(), axes.end(), first);
  return axes;
}

at::Tensor reduced(const at::Tensor& t, int64_t first_axis, bool sum) {
  if (t.dim() <= first_axis) return t;
  const auto axes = axes_from(first_axis, t.dim());
  return sum ? t.sum(axes) : t.mean(axes);
}

std::string config_name(const nlohmann::json& config, const char* fallback) {
  return config.contains("name") ? config.at("name").get<std::string>() : fallback;
}

}  // namespace

namespace {

void align_ranks(at::Tensor& a, at::Tensor& b) {
  if (a.dim() == b.dim() + 1 && a.size(-1) == 1) {
    if (b.dim() == 1) b = b.unsqueeze(-1);
    else a = a.squeeze(-1);
  } else if (b.dim() == a.dim() + 1 && b.size(-1) == 1) {
    if (a.dim() == 1) a = a.unsqueeze(-1);
    else b = b.squeeze(-1);
  }
}

}  // namespace

at::Tensor floating_predictions(const at::Tensor& y_pred) {
  return y_pred.is_floating_point() ? y_pred : y_pred.to(at::kFloat);
}

std::pair<at::Tensor, at::Tensor> same_rank(const at::Tensor& y_true, const at::Tensor& y_pred) {
  at::Tensor pred = floating_predictions(y_pred);
  at::Tensor truth = y_true.to(pred.scalar_type());
  align_ranks(truth, pred);
  return {truth, pred};
}

SamplewiseValues reduce_to_samplewise_values(const at::Tensor& values, const at::Tensor& sample_weight, bool sum,
                                             const std::string& who) {
  at::Tensor v = values.to(at::kDouble);
  if (!sample_weight.defined()) return {reduced(v, 1, sum), {}};
  at::Tensor w = sample_weight.to(at::kDouble);
  align_ranks(v, w);
  if (w.dim() > v.dim())
    throw ShapeError(who + ": sample_weight of shape " + format_dims(sample_weight.sizes()) +
                     " has more axes than the per-sample values of shape " + format_dims(values.sizes()));
  v = reduced(v, w.dim(), sum);
  if (!at::is_expandable_to(w.sizes(), v.sizes()))
    throw ShapeError(who + ": sample_weight of shape " + format_dims(sample_weight.sizes()) +
                     " does not broadcast to the per-sample values of shape " + format_dims(values.sizes()));
  w = w.expand_as(v);
  v = v * w;
  return {reduced(v, 1, sum), reduced(w, 1, false)};
}

// Totals are kept in double so a long epoch of float32 values does not lose precision.
Mean::Mean(std::string name)
    : Metric("Mean", std::move(name)), total_(at::zeros({}, at::kDouble)), count_(at::zeros({}, at::kDouble)) {}

void Mean::update_state(const at::Tensor& values, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  auto [v, w] = reduce_to_samplewise_values(values.detach(), sample_weight, false, describe());
  // The state stays on the CPU; values computed on a GPU are summed there first.
  total_.add_(v.sum().to(total_.device()));
  if (w.defined()) count_.add_(w.sum().to(count_.device()));
  else count_.add_(v.dim() >= 1 ? static_cast<double>(v.size(0)) : 1.0);
}

void Mean::add(const at::Tensor& total, double count) {
  at::NoGradGuard no_grad;
  total_.add_(total.to(total_.device()));
  count_.add_(count);
}

// Keras' divide_no_nan: 0 while nothing (or only zero weight) has been seen.
at::Tensor Mean::result() const { return total_ / at::clamp_min(count_.abs(), 1e-300) * (count_ != 0); }

void Mean::reset_state() {
  total_.zero_();
  count_.zero_();
}

Mean Mean::from_config(const nlohmann::json& config) { return Mean(config_name(config, "mean")); }

Sum::Sum(std::string name) : Metric("Sum", std::move(name)), total_(at::zeros({}, at::kDouble)) {}

void Sum::update_state(const at::Tensor& values, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  total_.add_(reduce_to_samplewise_values(values.detach(), sample_weight, true, describe()).values.sum());
}

at::Tensor Sum::result() const { return total_.clone(); }

void Sum::reset_state() { total_.zero_(); }

Sum Sum::from_config(const nlohmann::json& config) { return Sum(config_name(config, "sum")); }

MeanMetricWrapper::MeanMetricWrapper(std::string class_name, std::string name, Fn fn)
    : PredictionMetric(std::move(class_name), name), fn_(std::move(fn)), mean_(name) {}

MeanMetricWrapper::MeanMetricWrapper(Fn fn, std::string name)
    : MeanMetricWrapper("MeanMetricWrapper", std::move(name), std::move(fn)) {
  if (!fn_) throw ValueError(describe() + ": expected a function of (y_true, y_pred), got an empty one");
}

MeanMetricWrapper::MeanMetricWrapper(losses::Spec loss, std::string name)
    : MeanMetricWrapper("MeanMetricWrapper", !name.empty() || !loss ? name : loss->name(),
                        [held = loss.ptr()](const at::Tensor& y_true, const at::Tensor& y_pred) {
                          return held->call(y_true, y_pred);
                        }) {
  if (!loss) throw ValueError(describe() + ": expected a loss, got an empty one");
  loss_ = loss.ptr();
}

void MeanMetricWrapper::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  mean_.update_state(fn_(y_true.detach(), y_pred.detach()), sample_weight);
}

nlohmann::json MeanMetricWrapper::get_config() const {
  nlohmann::json config = PredictionMetric::get_config();
  if (loss_ && class_name() == "MeanMetricWrapper")
    config["fn"] = {{"class_name", loss_->class_name()}, {"config", loss_->get_config()}};
  return config;
}

MeanMetricWrapper MeanMetricWrapper::from_config(const nlohmann::json& config) {
  if (!config.contains("fn"))
    throw ValueError("MeanMetricWrapper.from_config: expected an \"fn\" key naming a loss, got " + config.dump());
  const nlohmann::json& fn = config.at("fn");
  std::shared_ptr<losses::Loss> loss =
      losses::get(fn.is_string() ? fn.get<std::string>() : to_snake_case(fn.at("class_name").get<std::string>()));
  return MeanMetricWrapper(loss, config_name(config, loss->name().c_str()));
}

}  // namespace strata::metrics
