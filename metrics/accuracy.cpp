#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/accuracy.h>

namespace strata::metrics {
namespace {

// Labels of shape (batch, 1) compare against predictions of shape (batch,) and vice versa.
at::Tensor squeeze_last_if_one(const at::Tensor& t, int64_t other_rank) {
  return t.dim() == other_rank + 1 && t.size(-1) == 1 ? t.squeeze(-1) : t;
}

}  // namespace

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

BinaryAccuracy BinaryAccuracy::from_config(const nlohmann::json& config) {
  const double threshold = config.contains("threshold") ? config.at("threshold").get<double>() : 0.5;
  return BinaryAccuracy(losses::name_from_config(config, "binary_accuracy"), threshold);
}

Accuracy Accuracy::from_config(const nlohmann::json& config) { return Accuracy(losses::name_from_config(config, "accuracy")); }

CategoricalAccuracy CategoricalAccuracy::from_config(const nlohmann::json& config) {
  return CategoricalAccuracy(losses::name_from_config(config, "categorical_accuracy"));
}

SparseCategoricalAccuracy SparseCategoricalAccuracy::from_config(const nlohmann::json& config) {
  return SparseCategoricalAccuracy(losses::name_from_config(config, "sparse_categorical_accuracy"));
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

namespace {

void check_k(int64_t k, const std::string& who) {
  if (k < 1) throw ValueError(who + ": expected k >= 1, got " + std::to_string(k));
}

// Keras' in_top_k: the score of class `labels` is at least the k-th highest score of its row.
at::Tensor in_top_k(const at::Tensor& labels, const at::Tensor& scores, int64_t k) {
  const int64_t kept = std::min(k, scores.size(-1));
  at::Tensor kth = std::get<0>(at::topk(scores, kept, -1)).select(-1, kept - 1);
  at::Tensor target = scores.gather(-1, labels.to(at::kLong).unsqueeze(-1)).squeeze(-1);
  return (target >= kth).to(at::kFloat);
}

// Predictions of rank > 2 are flattened to (samples, classes); the matches take the labels' shape back.
at::Tensor top_k_matches(const at::Tensor& labels, const at::Tensor& y_pred, int64_t k, bool from_sorted_ids) {
  at::Tensor pred = y_pred.dim() > 2 ? y_pred.reshape({-1, y_pred.size(-1)}) : y_pred;
  at::Tensor flat = labels.reshape({-1});
  at::Tensor matches;
  if (from_sorted_ids) {
    at::Tensor ids = pred.narrow(-1, 0, std::min(k, pred.size(-1)));
    matches = at::eq(ids.to(at::kLong), flat.to(at::kLong).unsqueeze(-1)).any(-1).to(at::kFloat);
  } else {
    matches = in_top_k(flat, pred, k);
  }
  return labels.dim() > 1 ? matches.reshape(labels.sizes()) : matches;
}

nlohmann::json with_k(nlohmann::json config, int64_t k) {
  config["k"] = k;
  return config;
}

}  // namespace

TopKCategoricalAccuracy::TopKCategoricalAccuracy(TopKOptions options)
    : MeanMetricWrapper("TopKCategoricalAccuracy",
                        options.name.empty() ? "top_k_categorical_accuracy" : options.name,
                        [k = options.k](const at::Tensor& y_true, const at::Tensor& y_pred) {
                          return top_k_matches(y_true.argmax(-1), y_pred, k, false);
                        }),
      k_(options.k) {
  check_k(k_, describe());
}

nlohmann::json TopKCategoricalAccuracy::get_config() const { return with_k(MeanMetricWrapper::get_config(), k_); }

TopKCategoricalAccuracy TopKCategoricalAccuracy::from_config(const nlohmann::json& config) {
  return TopKCategoricalAccuracy({.k = config.value("k", int64_t{5}),
                                  .name = config.value("name", std::string("top_k_categorical_accuracy"))});
}

SparseTopKCategoricalAccuracy::SparseTopKCategoricalAccuracy(SparseTopKOptions options)
    : MeanMetricWrapper("SparseTopKCategoricalAccuracy",
                        options.name.empty() ? "sparse_top_k_categorical_accuracy" : options.name,
                        [k = options.k, sorted = options.from_sorted_ids](const at::Tensor& y_true,
                                                                          const at::Tensor& y_pred) {
                          return top_k_matches(y_true, y_pred, k, sorted);
                        }),
      options_(std::move(options)) {
  check_k(options_.k, describe());
}

nlohmann::json SparseTopKCategoricalAccuracy::get_config() const {
  nlohmann::json config = with_k(MeanMetricWrapper::get_config(), options_.k);
  config["from_sorted_ids"] = options_.from_sorted_ids;
  return config;
}

SparseTopKCategoricalAccuracy SparseTopKCategoricalAccuracy::from_config(const nlohmann::json& config) {
  return SparseTopKCategoricalAccuracy({.k = config.value("k", int64_t{5}),
                                        .from_sorted_ids = config.value("from_sorted_ids", false),
                                        .name = config.value("name", std::string("sparse_top_k_categorical_accuracy"))});
}

}  // namespace strata::metrics
