#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/probabilistic.h>
#include <strata/metrics/probabilistic.h>

namespace strata::metrics {
namespace {

// Only -1 (the last axis) is supported, as for the losses; Keras' other axes would need a transpose.
void check_axis(const nlohmann::json& config, const std::string& who) {
  if (config.contains("axis") && config.at("axis").get<int64_t>() != -1)
    throw ValueError(who + ": only axis -1 is supported, got " + config.at("axis").dump());
}

}  // namespace

KLDivergence::KLDivergence(std::string name)
    : MeanMetricWrapper("KLDivergence", std::move(name), per_sample_loss(losses::KLDivergence())) {}

KLDivergence KLDivergence::from_config(const nlohmann::json& config) {
  return KLDivergence(config.value("name", std::string("kl_divergence")));
}

Poisson::Poisson(std::string name)
    : MeanMetricWrapper("Poisson", std::move(name), per_sample_loss(losses::Poisson())) {}

Poisson Poisson::from_config(const nlohmann::json& config) {
  return Poisson(config.value("name", std::string("poisson")));
}

BinaryCrossentropy::BinaryCrossentropy(BinaryCrossentropyOptions options)
    : MeanMetricWrapper("BinaryCrossentropy", options.name,
                        per_sample_loss(losses::BinaryCrossentropy(
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
                        per_sample_loss(losses::CategoricalCrossentropy(
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
                        per_sample_loss(losses::SparseCategoricalCrossentropy({.from_logits = options.from_logits}))),
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
