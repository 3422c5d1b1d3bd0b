#pragma once
// Loss base: call() gives one loss per sample, the base applies sample weights and the reduction.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>
#include <strata/core/shape.h>

#include <memory>
#include <string>

namespace strata::losses {

// Keras' reductions: "sum_over_batch_size" (the default: sum / number of per-sample losses), "sum", "none".
enum class Reduction { kSumOverBatchSize, kSum, kNone };
Reduction parse_reduction(const std::string& name);
std::string reduction_name(Reduction reduction);

// Probabilities are clipped to [kEpsilon, 1 - kEpsilon] before a log, Keras' backend epsilon.
inline constexpr double kEpsilon = 1e-7;

class Loss {
 public:
  Loss(std::string class_name, std::string name, Reduction reduction);
  virtual ~Loss() = default;

  // Checks the inputs (shapes, label ranges), then computes and reduces. `mask` (Keras' mask of y_pred,
  // e.g. (batch, time) from a masked sequence) drops the masked entries: "sum_over_batch_size" then
  // averages over the entries left, as Keras does.
  at::Tensor operator()(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {},
                        const at::Tensor& mask = {}) const;

  // The same without the checks, for a training loop that validated its whole data set once.
  at::Tensor compute(const at::Tensor& y_true, const at::Tensor& y_pred, const at::Tensor& sample_weight = {},
                     const at::Tensor& mask = {}) const;

  // Checks targets against what the model predicts per sample (`y_pred_shape` has batch None): rank,
  // sizes, and label values (integral class ids in range, probabilities in [0, 1]).
  virtual void validate_targets(const at::Tensor& y_true, const Shape& y_pred_shape) const;

  // One loss per sample (or per sample and timestep); no reduction.
  virtual at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const = 0;

  virtual nlohmann::json get_config() const;
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  Reduction reduction() const { return reduction_; }

 protected:
  std::string describe() const { return class_name_ + " '" + name_ + "'"; }

 private:
  // Applies the mask, the sample weights and the reduction to per-entry losses.
  at::Tensor reduce(at::Tensor losses, const at::Tensor& sample_weight, const at::Tensor& mask) const;
  // Per-sample weights with trailing axes added so they broadcast against `losses`.
  static at::Tensor broadcast_weights(const at::Tensor& sample_weight, const at::Tensor& losses);

  std::string class_name_;
  std::string name_;
  Reduction reduction_;
};

// The loss Keras registers under `name` ("mse", "sparse_categorical_crossentropy", ...).
std::shared_ptr<Loss> get(const std::string& name);

// A loss given by name or as an object: `.loss = "mse"` or `.loss = losses::MeanSquaredError()`.
class Spec : public Ref<Loss> {
 public:
  using Ref<Loss>::Ref;
  Spec() = default;
  Spec(const char* name) : Ref(get(name)) {}         // NOLINT
  Spec(const std::string& name) : Ref(get(name)) {}  // NOLINT
};

}  // namespace strata::losses
