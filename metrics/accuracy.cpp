#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/metrics/accuracy.h>

namespace strata::metrics {
namespace {

// Labels of shape (batch, 1) compare against predictions of shape (batch,) and vice versa.
at::Tensor squeeze_last_if_one(const at::Tensor& t, int64_t other_rank) {
  return t.dim() == other_rank + 1 && t.size(-1) == 1 ? t.squeeze(-1) : t;
}

}  // namespace

MeanMetricWrapper::MeanMetricWrapper(std::string class_name, std::string name, Fn fn)
    : PredictionMetric(std::move(class_name), name), fn_(std::move(fn)), mean_(name) {}

void MeanMetricWrapper::update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight) {
  at::NoGradGuard no_grad;
  mean_.update_state(fn_(y_true.detach(), y_pred.detach()), sample_weight);
}

Accuracy::Accuracy(std::string name)
    : MeanMetricWrapper("Accuracy", std::move(name), [](const at::Tensor& y_true, const at::Tensor& y_pred) {
        at::Tensor pred = squeeze_last_if_one(y_pred, y_true.dim());
        at::Tensor truth = squeeze_last_if_one(y_true, pred.dim());
        return at::eq(truth.to(pred.scalar_type()), pred).to(at::kFloat);
      }) {}

BinaryAccuracy::BinaryAccuracy(std::string name, double threshold)
    : MeanMetricWrapper("BinaryAccuracy", std::move(name),
                        [threshold](const at::Tensor& y_true, const at::Tensor& y_pred) {
                          at::Tensor truth = y_true.to(y_pred.scalar_type());
                          if (truth.dim() + 1 == y_pred.dim()) truth = truth.unsqueeze(-1);
                          return at::eq(truth, (y_pred > threshold).to(y_pred.scalar_type())).to(at::kFloat).mean(-1);
                        }),
      threshold_(threshold) {}

nlohmann::json BinaryAccuracy::get_config() const {
  nlohmann::json config = MeanMetricWrapper::get_config();
  config["threshold"] = threshold_;
  return config;
}

CategoricalAccuracy::CategoricalAccuracy(std::string name)
    : MeanMetricWrapper("CategoricalAccuracy", std::move(name), [](const at::Tensor& y_true, const at::Tensor& y_pred) {
        return at::eq(y_true.argmax(-1), y_pred.argmax(-1)).to(at::kFloat);
      }) {}

SparseCategoricalAccuracy::SparseCategoricalAccuracy(std::string name)
    : MeanMetricWrapper("SparseCategoricalAccuracy", std::move(name),
                        [](const at::Tensor& y_true, const at::Tensor& y_pred) {
                          at::Tensor labels = squeeze_last_if_one(y_true, y_pred.dim() - 1);
                          return at::eq(labels.to(at::kLong), y_pred.argmax(-1)).to(at::kFloat);
                        }) {}

}  // namespace strata::metrics
