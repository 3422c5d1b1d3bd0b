#pragma once
// Optimizer base (DESIGN.md §4): apply(grads, variables) updates every variable at once, keeping
// per-variable slot tensors (momentum, moments) keyed by the variable itself. Keras 3's shared arguments
// (learning-rate schedules, decoupled weight decay, gradient clipping, EMA of the weights, gradient
// accumulation, loss scaling) are applied here around each optimizer's update_step, for every optimizer.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>
#include <strata/optimizers/schedules.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace strata::optimizers {

// Keras 3's base-optimizer arguments after `learning_rate`, in Keras' order, as X(type, name, default):
//   weight_decay            decoupled: w -= lr · weight_decay · w before each update
//   clipnorm                each gradient rescaled to L2 norm <= clipnorm
//   clipvalue               each gradient element clipped to [-clipvalue, clipvalue]
//   global_clipnorm         all gradients rescaled together to a joint L2 norm <= global_clipnorm
//                           (at most one of the three clip options)
//   use_ema, ema_momentum   keep an exponential moving average of the weights
//   ema_overwrite_frequency copy the average into the weights every this many iterations
//   loss_scale_factor       Model::train_step multiplies the loss by it, apply() divides the gradients by it
//   gradient_accumulation_steps  sum the gradients of N apply() calls, update with their mean on the N-th
#define STRATA_OPTIMIZER_COMMON_FIELDS(X)                          \
  X(std::optional<double>, weight_decay, std::nullopt)             \
  X(std::optional<double>, clipnorm, std::nullopt)                 \
  X(std::optional<double>, clipvalue, std::nullopt)                \
  X(std::optional<double>, global_clipnorm, std::nullopt)          \
  X(bool, use_ema, false)                                          \
  X(double, ema_momentum, 0.99)                                    \
  X(std::optional<int64_t>, ema_overwrite_frequency, std::nullopt) \
  X(std::optional<double>, loss_scale_factor, std::nullopt)        \
  X(std::optional<int64_t>, gradient_accumulation_steps, std::nullopt)

#define STRATA_OPTIMIZER_DECLARE_FIELD(type, field, default_value) type field = default_value;

// Placed in every XOptions struct after the optimizer's own fields and before `name`, so a user writes
// `optimizers::Adam({.learning_rate = 1e-3, .weight_decay = 0.004, .clipnorm = 1.0})` as in Keras:
//   struct AdamOptions {
//     LearningRate learning_rate = 0.001;
//     double beta_1 = 0.9; ...
//     STRATA_OPTIMIZER_COMMON_OPTIONS
//     std::string name = "Adam";
//   };
// The constructor passes common_options(options) to Optimizer; from_config fills them with
// read_common_options(config, options); Optimizer::get_config writes them.
#define STRATA_OPTIMIZER_COMMON_OPTIONS STRATA_OPTIMIZER_COMMON_FIELDS(STRATA_OPTIMIZER_DECLARE_FIELD)

// The arguments the base class takes: learning_rate, the shared options, and name.
struct OptimizerOptions {
  LearningRate learning_rate = 0.001;
  STRATA_OPTIMIZER_COMMON_OPTIONS
  std::string name = "";
};

// The shared part of any XOptions struct.
template <class Options>
OptimizerOptions common_options(const Options& options) {
  OptimizerOptions common{.learning_rate = options.learning_rate, .name = options.name};
#define STRATA_OPTIMIZER_COPY_FIELD(type, field, default_value) common.field = options.field;
  STRATA_OPTIMIZER_COMMON_FIELDS(STRATA_OPTIMIZER_COPY_FIELD)
#undef STRATA_OPTIMIZER_COPY_FIELD
  return common;
}

// Writes learning_rate, the shared options and name into any XOptions struct.
template <class Options>
void set_common_options(Options& options, const OptimizerOptions& common) {
  options.learning_rate = common.learning_rate;
  options.name = common.name;
#define STRATA_OPTIMIZER_COPY_FIELD(type, field, default_value) options.field = common.field;
  STRATA_OPTIMIZER_COMMON_FIELDS(STRATA_OPTIMIZER_COPY_FIELD)
#undef STRATA_OPTIMIZER_COPY_FIELD
}

// learning_rate, name and the shared options read from a Keras optimizer config; absent or null keys keep
// the value in `defaults`.
OptimizerOptions common_options_from_config(const nlohmann::json& config, OptimizerOptions defaults);

// from_config's shared part for any XOptions struct: `read_common_options(config, options)`.
template <class Options>
void read_common_options(const nlohmann::json& config, Options& options) {
  set_common_options(options, common_options_from_config(config, common_options(options)));
}

class Optimizer {
 public:
  Optimizer(std::string class_name, OptimizerOptions options);
  // An optimizer without the shared options (for user-defined optimizers that only need a learning rate).
  Optimizer(std::string class_name, std::string name, double learning_rate);
  virtual ~Optimizer() = default;

  // One update of `variables` from `grads` (same order); a variable whose gradient is undefined is
  // skipped. Runs without recording autograd history and advances iterations(). Order, as Keras 3: divide
  // by loss_scale_factor; accumulate (return early unless this is the N-th call); clip; weight decay;
  // update_step; EMA (and its overwrite); count the call.
  void apply(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables);

  // Creates the per-variable state (slots, EMA averages, gradient accumulators) for `variables` in this order,
  // as Keras' optimizer.build(var_list); apply() builds unseen variables itself. `names` (Keras' variable
  // names, e.g. "dense/bias", one per variable or none) are what exclude_from_weight_decay's var_names
  // match. Already known variables are left as they are.
  virtual void build(const std::vector<at::Tensor>& variables, const std::vector<std::string>& names = {});
  bool built() const { return !states_.empty(); }

  // Keras' exclude_from_weight_decay: these variables, and those whose name contains a match of any of
  // `var_names` (regular expressions, searched), get no weight decay. Only before the optimizer is built.
  void exclude_from_weight_decay(const std::vector<at::Tensor>& var_list = {},
                                 const std::vector<std::string>& var_names = {});

  // The learning rate the next update uses (the schedule evaluated at the update count).
  double learning_rate() const;
  // A new constant or schedule; a constant cannot replace a schedule (as Keras, which raises TypeError).
  void set_learning_rate(const LearningRate& learning_rate);
  const LearningRate& learning_rate_spec() const { return learning_rate_; }

  // Keras' optimizer.iterations: the number of updates made, i.e. apply() calls divided by
  // gradient_accumulation_steps when accumulating.
  int64_t iterations() const;

  // Keras' scale_loss: the loss times loss_scale_factor (unchanged without one); train_step calls it.
  virtual at::Tensor scale_loss(const at::Tensor& loss) const;

  // With use_ema, copies the moving averages into `variables` (Keras calls this at the end of fit()).
  void finalize_variable_values(const std::vector<at::Tensor>& variables);

  // Every slot tensor, in the order the variables were first seen, slot by slot (get_state() uses Keras 3's order).
  std::vector<at::Tensor> variables() const;

  // A snapshot (copies) of everything an update depends on, in Keras 3's optimizer.variables order: the
  // apply() count (int64 scalar), the learning rate (double scalar, only when constant), every EMA average
  // (with use_ema), every gradient accumulator (with gradient_accumulation_steps), the slots in Keras' creation
  // order (see slot_groups), then what an optimizer keeps besides (extra_state: LossScaleOptimizer's scale and
  // its inner optimizer's state, Nadam's u_product). set_state() restores it into an optimizer built on the
  // same variables (build() first), so training continues bit for bit.
  std::vector<at::Tensor> get_state() const;
  void set_state(const std::vector<at::Tensor>& state);

  // One label per get_state() tensor, Keras 3's variable paths: "adam/iteration", "adam/learning_rate",
  // "adam/dense_kernel_momentum" for a variable named "dense/kernel" (its '/' become '_'). `variable_names`
  // are the built variables' names in build() order (Keras' variable.path, e.g. "sequential/dense/kernel");
  // the prefix is the snake_case of name() ("Adam" -> "adam", "adam_1" stays).
  std::vector<std::string> state_names(const std::vector<std::string>& variable_names) const;

  virtual nlohmann::json get_config() const;
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }

 protected:
  // Names of the per-variable slots this optimizer keeps; each starts as zeros shaped like its variable.
  virtual std::vector<std::string> slot_names() const { return {}; }

  // The starting value of slot `slot` for `variable` (detached): zeros shaped like it unless an optimizer keeps
  // a slot of another shape (Adafactor's factored moments) or another start (Adagrad's accumulator).
  virtual at::Tensor initial_slot(size_t slot, const at::Tensor& variable) const;

  // slots[s][v] is slot s of variables[v]; `step` is the 1-based number of this update. `grads` are already
  // unscaled, accumulated and clipped, and weight decay already applied.
  virtual void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                           const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) = 0;

  // Keras creates the slots of all variables group by group, each variable's slots of a group in turn: Adam's
  // one group {momentum, velocity} gives m0 v0 m1 v1 ..., RMSprop's groups {velocity} {momentum}
  // {average_gradient} give v0 v1 ... m0 m1 .... The default is one group of every slot_names() entry.
  virtual std::vector<std::vector<size_t>> slot_groups() const;

  // State an optimizer keeps outside the per-variable slots, appended to get_state(): copies, and one name per
  // tensor (given the variables' names and the prefix state_names uses). set_extra_state gets the same count.
  virtual std::vector<at::Tensor> extra_state() const { return {}; }
  virtual std::vector<std::string> extra_state_names(const std::string& /*prefix*/,
                                                     const std::vector<std::string>& /*variable_names*/) const {
    return {};
  }
  virtual void set_extra_state(const std::vector<at::Tensor>& /*state*/) {}

  std::string describe() const { return class_name_ + " '" + name_ + "'"; }

 private:
  // The live per-variable tensors get_state() copies after the two scalars, in order.
  std::vector<at::Tensor> per_variable_state() const;

  struct VariableState {
    at::Tensor variable;  // held so the key below cannot be reused by another tensor
    std::vector<at::Tensor> slots;
    at::Tensor average;      // EMA of the variable, with use_ema
    at::Tensor accumulator;  // summed gradients, with gradient_accumulation_steps
    bool decays = true;      // not excluded from weight decay
  };
  size_t state_index(const at::Tensor& variable, const std::string& name = "");
  void validate_options() const;
  std::vector<at::Tensor> clip_gradients(std::vector<at::Tensor> grads) const;
  void apply_weight_decay(const std::vector<size_t>& indices, double learning_rate);
  void update_moving_averages();
  int64_t accumulation_steps() const { return gradient_accumulation_steps_.value_or(0); }

  std::string class_name_;
  std::string name_;
  LearningRate learning_rate_;
  std::optional<double> weight_decay_;
  std::optional<double> clipnorm_;
  std::optional<double> clipvalue_;
  std::optional<double> global_clipnorm_;
  bool use_ema_;
  double ema_momentum_;
  std::optional<int64_t> ema_overwrite_frequency_;
  std::optional<double> loss_scale_factor_;
  std::optional<int64_t> gradient_accumulation_steps_;

  int64_t apply_count_ = 0;  // Keras' _iterations
  std::unordered_map<const void*, size_t> state_index_;
  std::vector<VariableState> states_;
  std::vector<at::Tensor> excluded_from_decay_;
  std::string excluded_from_decay_pattern_;  // the var_names joined with '|'; empty for none
};

// The optimizer Keras registers under `name` ("sgd", "adam", "rmsprop"), with Keras' defaults.
std::shared_ptr<Optimizer> get(const std::string& name);

// An optimizer given by name or as an object: `.optimizer = "adam"` or `.optimizer = optimizers::Adam()`.
class Spec : public Ref<Optimizer> {
 public:
  using Ref<Optimizer>::Ref;
  Spec() = default;
  Spec(const char* name) : Ref(get(name)) {}         // NOLINT
  Spec(const std::string& name) : Ref(get(name)) {}  // NOLINT
};

}  // namespace strata::optimizers
