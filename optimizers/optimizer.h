#pragma once
// Optimizer base (DESIGN.md §4): apply(grads, variables) updates every variable at once, keeping
// per-variable slot tensors (momentum, moments) keyed by the variable itself.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/ref.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace strata::optimizers {

class Optimizer {
 public:
  Optimizer(std::string class_name, std::string name, double learning_rate);
  virtual ~Optimizer() = default;

  // One update of `variables` from `grads` (same order); a variable whose gradient is undefined is
  // skipped. Runs without recording autograd history and advances iterations().
  void apply(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables);

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate);
  int64_t iterations() const { return iterations_; }

  // Every slot tensor, in the order the variables were first seen, slot by slot.
  std::vector<at::Tensor> variables() const;

  virtual nlohmann::json get_config() const;
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }

 protected:
  // Names of the per-variable slots this optimizer keeps; each starts as zeros shaped like its variable.
  virtual std::vector<std::string> slot_names() const { return {}; }

  // The starting value of slot `slot` for `variable` (detached): zeros shaped like it unless an optimizer keeps
  // a slot of another shape (Adafactor's factored moments) or another start (Adagrad's accumulator).
  virtual at::Tensor initial_slot(size_t slot, const at::Tensor& variable) const;

  // slots[s][v] is slot s of variables[v]; `step` is the 1-based number of this update.
  virtual void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                           const std::vector<std::vector<at::Tensor>>& slots, double learning_rate, int64_t step) = 0;

  std::string describe() const { return class_name_ + " '" + name_ + "'"; }

 private:
  struct SlotSet {
    at::Tensor variable;  // held so the key below cannot be reused by another tensor
    std::vector<at::Tensor> slots;
  };
  const SlotSet& slots_for(const at::Tensor& variable);

  std::string class_name_;
  std::string name_;
  double learning_rate_;
  int64_t iterations_ = 0;
  std::unordered_map<const void*, size_t> slot_index_;
  std::vector<SlotSet> slot_sets_;
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
