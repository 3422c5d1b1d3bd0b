#pragma once
// Probabilistic metrics (Keras' probabilistic_metrics): the running mean of a per-sample divergence or
// cross-entropy: the per-sample values of the loss of the same name.

#include <strata/metrics/mean.h>

namespace strata::metrics {

// sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [1e-7, 1].
class KLDivergence : public MeanMetricWrapper {
 public:
  explicit KLDivergence(std::string name = "kl_divergence");
  static KLDivergence from_config(const nlohmann::json& config);
};

// mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)
class Poisson : public MeanMetricWrapper {
 public:
  explicit Poisson(std::string name = "poisson");
  static Poisson from_config(const nlohmann::json& config);
};

struct BinaryCrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  std::string name = "binary_crossentropy";
};

class BinaryCrossentropy : public MeanMetricWrapper {
 public:
  explicit BinaryCrossentropy(BinaryCrossentropyOptions options = {});
  nlohmann::json get_config() const override;
  static BinaryCrossentropy from_config(const nlohmann::json& config);

 private:
  BinaryCrossentropyOptions options_;
};

struct CategoricalCrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;
  std::string name = "categorical_crossentropy";
};

class CategoricalCrossentropy : public MeanMetricWrapper {
 public:
  explicit CategoricalCrossentropy(CategoricalCrossentropyOptions options = {});
  nlohmann::json get_config() const override;
  static CategoricalCrossentropy from_config(const nlohmann::json& config);

 private:
  CategoricalCrossentropyOptions options_;
};

struct SparseCategoricalCrossentropyOptions {
  bool from_logits = false;
  std::string name = "sparse_categorical_crossentropy";
};

class SparseCategoricalCrossentropy : public MeanMetricWrapper {
 public:
  explicit SparseCategoricalCrossentropy(SparseCategoricalCrossentropyOptions options = {});
  nlohmann::json get_config() const override;
  static SparseCategoricalCrossentropy from_config(const nlohmann::json& config);

 private:
  SparseCategoricalCrossentropyOptions options_;
};

}  // namespace strata::metrics
