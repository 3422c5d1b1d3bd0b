#pragma once
// Loss base: call() gives one loss per sample, the base applies sample weights and the reduction.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>
#include <strata/core/shape.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace strata::losses {

// Keras 3's reductions: "sum_over_batch_size" (the default) and "mean" both divide the sum by the number of
// per-sample losses, "sum" sums, "mean_with_sample_weight" divides the weighted sum by the sum of the weights
// (masked entries weigh 0), "none" keeps the per-sample losses.
enum class Reduction { kSumOverBatchSize, kSum, kNone, kMean, kMeanWithSampleWeight };
Reduction parse_reduction(const std::string& name);
std::string reduction_name(Reduction reduction);

// Probabilities are clipped to [kEpsilon, 1 - kEpsilon] before a log, Keras' backend epsilon.
inline constexpr double kEpsilon = 1e-7;

class Loss {
 public:
  Loss(std::string class_name, std::string name, Reduction reduction);
  virtual ~Loss() = default;

  // Checks the inputs with validate_call(), then computes and reduces. `mask` (Keras' mask of y_pred,
  // e.g. (batch, time) from a masked sequence) drops the masked entries: "sum_over_batch_size" then
  // averages over the entries left, as Keras does.
  at::Tensor operator()(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {},
                        const at::Tensor& mask = {}) const;

  // The same without the checks, for a training loop that validated its whole data set once.
  at::Tensor compute(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {},
                     const at::Tensor& mask = {}) const;

  // What every direct call checks (`y_pred_shape` has batch None): shapes, and values that would index out
  // of bounds (class ids). Keras checks no target values, so targets such as noisy GAN labels (1.05) pass.
  virtual void validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const;

  // What fit() checks once over its whole data set: validate_call() plus value ranges where a loss defines
  // them (probabilities in [0, 1] for the cross-entropies).
  virtual void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const;

  // One loss per sample (or per sample and timestep); no reduction.
  virtual at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const = 0;

  // The entries call() itself leaves out (Keras' mask on the losses, e.g. SparseCategoricalCrossentropy's
  // ignore_class); undefined when none. Merged with the caller's mask.
  virtual at::Tensor loss_mask(const at::Tensor& y_true, const at::Tensor& y_pred) const;

  virtual nlohmann::json get_config() const;
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  Reduction reduction() const { return reduction_; }

 protected:
  std::string describe() const { return class_name_ + " '" + name_ + "'"; }

 private:
  // Applies the masks (the caller's and loss_mask()), the sample weights and the reduction to per-entry losses.
  at::Tensor reduce(at::Tensor losses, const at::Tensor& sample_weight, at::Tensor mask,
                    const at::Tensor& own_mask) const;
  // Per-sample weights with trailing axes added so they broadcast against `losses`.
  static at::Tensor broadcast_weights(const at::Tensor& sample_weight, const at::Tensor& losses);

  std::string class_name_;
  std::string name_;
  Reduction reduction_;
};

// Keras' base config keys: "reduction" (null means "none") and "name" (`fallback` when absent).
Reduction reduction_from_config(const nlohmann::json& config);
std::string name_from_config(const nlohmann::json& config, const std::string& fallback);

// Keras' squeeze_or_expand_to_same_rank: the targets cast to the predictions' dtype, and a trailing axis of
// size 1 dropped or added so the ranks match, e.g. targets (batch,) against predictions (batch, 1).
std::pair<at::Tensor, at::Tensor> same_rank(const at::Tensor& y_true, const at::Tensor& y_pred);

// Throws a ValueError from `who` ("expected <what>, got ...") naming the first value outside [low, high] (or not
// an integer, when `integral`), except values equal to `skip` when given. One host sync: for checks, not losses.
void check_target_values(const at::Tensor& y_true, double low, double high, bool integral, const std::string& who,
                         const std::string& what, std::optional<double> skip = std::nullopt);

// The loss Keras registers under `name` ("mse", "sparse_categorical_crossentropy", ...).
std::shared_ptr<Loss> get(const std::string& name);

// A loss given by name or as an object: `.loss = "mse"` or `.loss = losses::MeanSquaredError()`.
class Spec : public Ref<Loss> {
 public:
  using Ref<Loss>::Ref;
  Spec() = default;
  Spec(const char* name) : Ref(get(name)), identifier_(name) {}         // NOLINT
  Spec(const std::string& name) : Ref(get(name)), identifier_(name) {}  // NOLINT
  // The name the loss was given by ("mse"), empty for an object: Keras saves a loss given by name as that name.
  const std::string& identifier() const { return identifier_; }

 private:
  std::string identifier_;
};

}  // namespace strata::losses
