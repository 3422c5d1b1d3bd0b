#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/probabilistic.h>
#include <strata/metrics/probabilistic.h>

namespace strata::metrics {
namespace {

constexpr double kEpsilon = losses::kEpsilon;

template <class L>
MeanMetricWrapper::Fn per_sample(L loss) {
  return [loss = std::move(loss)](const at::Tensor& y_true, const at::Tensor& y_pred) {
    return loss.call(y_true, y_pred);
  };
}

// Only -1 (the last axis) is supported, as for the losses; Keras' other axes would need a transpose.
void check_axis(const nlohmann::json& config, const std::string& who) {
  if (config.contains("axis") && config.at("axis").get<int64_t>() != -1)
    throw ValueError(who + ": only axis -1 is supported, got " + config.at("axis").dump());
}

}  // namespace

KLDivergence::KLDivergence(std::string name)
    : MeanMetricWrapper("KLDivergence", std::move(name), [](const at::Tensor& y_true, const at::Tensor& y_pred) {
        auto [truth, pred] = same_rank(y_true, y_pred);
        truth = at::clamp(truth, kEpsilon, 1.0);
        pred = at::clamp(pred, kEpsilon, 1.0);
        return (truth * at::log(truth / pred)).sum(-1);
      }) {}

KLDivergence KLDivergence::from_config(const nlohmann::json& config) {
  return KLDivergence(config.value("name", std::string("kl_divergence")));
}

Poisson::Poisson(std::string name)
    : MeanMetricWrapper("Poisson", std::move(name), [](const at::Tensor& y_true, const at::Tensor& y_pred) {
        auto [truth, pred] = same_rank(y_true, y_pred);
        return (pred - truth * at::log(pred + kEpsilon)).mean(-1);
      }) {}

Poisson Poisson::from_config(const nlohmann::json& config) {
  return Poisson(config.value("name", std::string("poisson")));
}

BinaryCrossentropy::BinaryCrossentropy(BinaryCrossentropyOptions options)
    : MeanMetricWrapper("BinaryCrossentropy", options.name,
                        per_sample(losses::BinaryCrossentropy(
                            {.from_logits = options.from_logits, .label_smoothing = options.label_smoothing}))),
      options_(std::move(options)) {}

nlohmann::json BinaryCrossentropy::get_config() const {
  nlohmann::json config = MeanMetricWrapper::get_config();
  config["from_logits"] = options_.from_logits;
  config["label_smoothing"] = options_.label_smoothing;
  return config;
}

BinaryCrossentropy BinaryCrossentropy::from_config(const nlohmann::json& config) {
  return BinaryCrossentropy({.from_logits = config.value("from_logits", false),
                             .label_smoothing = config.value("label_smoothing", 0.0),
                             .name = config.value("name", std::string("binary_crossentropy"))});
}

CategoricalCrossentropy::CategoricalCrossentropy(CategoricalCrossentropyOptions options)
    : MeanMetricWrapper("CategoricalCrossentropy", options.name,
                        per_sample(losses::CategoricalCrossentropy(
                            {.from_logits = options.from_logits, .label_smoothing = options.label_smoothing}))),
      options_(std::move(options)) {}

nlohmann::json CategoricalCrossentropy::get_config() const {
  nlohmann::json config = MeanMetricWrapper::get_config();
  config["from_logits"] = options_.from_logits;
  config["label_smoothing"] = options_.label_smoothing;
  config["axis"] = -1;
  return config;
}

CategoricalCrossentropy CategoricalCrossentropy::from_config(const nlohmann::json& config) {
  check_axis(config, "CategoricalCrossentropy.from_config");
  return CategoricalCrossentropy({.from_logits = config.value("from_logits", false),
                                  .label_smoothing = config.value("label_smoothing", 0.0),
                                  .name = config.value("name", std::string("categorical_crossentropy"))});
}

SparseCategoricalCrossentropy::SparseCategoricalCrossentropy(SparseCategoricalCrossentropyOptions options)
    : MeanMetricWrapper("SparseCategoricalCrossentropy", options.name,
                        per_sample(losses::SparseCategoricalCrossentropy({.from_logits = options.from_logits}))),
      options_(std::move(options)) {}

nlohmann::json SparseCategoricalCrossentropy::get_config() const {
  nlohmann::json config = MeanMetricWrapper::get_config();
  config["from_logits"] = options_.from_logits;
  config["axis"] = -1;
  return config;
}

SparseCategoricalCrossentropy SparseCategoricalCrossentropy::from_config(const nlohmann::json& config) {
  check_axis(config, "SparseCategoricalCrossentropy.from_config");
  return SparseCategoricalCrossentropy({.from_logits = config.value("from_logits", false),
                                        .name = config.value("name", std::string("sparse_categorical_crossentropy"))});
}

}  // namespace strata::metrics
