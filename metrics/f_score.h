#pragma once
// FBetaScore and F1Score (Keras 3): per-class tp/fp/fn over (samples, classes) predictions, combined into
// (1 + beta^2) * precision * recall / (beta^2 * precision + recall).

#include <strata/metrics/metric.h>

#include <optional>

namespace strata::metrics {

struct FBetaScoreOptions {
  // None: one score per class; "micro": from the counts over all classes; "macro": the mean of the class
  // scores; "weighted": their mean weighted by each class's (weighted) number of true labels.
  std::optional<std::string> average = std::nullopt;
  double beta = 1.0;
  // Predictions above it are positive; unset: each sample's largest (non-zero) prediction is.
  std::optional<double> threshold = std::nullopt;
  std::string name = "fbeta_score";
};

class FBetaScore : public PredictionMetric {
 public:
  explicit FBetaScore(FBetaScoreOptions options = {});
  void update_state(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {}) override;
  at::Tensor result() const override;
  void reset_state() override;
  // true_positives, false_positives, false_negatives, intermediate_weights; empty before the first batch.
  std::vector<at::Tensor> variables() const override;
  nlohmann::json get_config() const override;
  static FBetaScore from_config(const nlohmann::json& config);

 protected:
  FBetaScore(std::string class_name, FBetaScoreOptions options);

 private:
  FBetaScoreOptions options_;
  at::Tensor tp_, fp_, fn_, weights_;
};

struct F1ScoreOptions {
  std::optional<std::string> average = std::nullopt;
  std::optional<double> threshold = std::nullopt;
  std::string name = "f1_score";
};

class F1Score : public FBetaScore {
 public:
  explicit F1Score(F1ScoreOptions options = {});
  nlohmann::json get_config() const override;
  static F1Score from_config(const nlohmann::json& config);
};

}  // namespace strata::metrics
