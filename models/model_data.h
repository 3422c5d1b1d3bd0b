#pragma once
// What fit(), evaluate() and predict() take as x, y and sample_weight, as Keras takes them: one tensor, a
// list in the model's input (or output) order, or a map keyed by input (or output) name. And the Batch a
// training or test step gets: every part already in the model's order.

#include <ATen/core/Tensor.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace strata {

using Tensors = std::vector<at::Tensor>;

class ModelData {
 public:
  ModelData() = default;
  ModelData(at::Tensor tensor);                                                 // NOLINT: implicit, as Keras takes an array
  ModelData(Tensors by_position);                                               // NOLINT
  ModelData(std::initializer_list<at::Tensor> by_position);                     // NOLINT
  ModelData(std::map<std::string, at::Tensor> by_name);                         // NOLINT
  ModelData(std::initializer_list<std::pair<const std::string, at::Tensor>> by_name);  // NOLINT

  bool empty() const { return by_position_.empty() && by_name_.empty(); }

  // One tensor per entry of `names` (the model's input or output names), in that order. `who` and `what`
  // ("x", "y") name the caller and the argument in errors: a wrong count, an unknown or a missing name.
  // Empty `names` (a model whose names are not known yet) takes the list as it is. With `allow_missing`, a
  // map may leave names out (undefined tensors there), as y may for outputs without a loss.
  Tensors resolve(const std::vector<std::string>& names, const std::string& who, const std::string& what,
                  bool allow_missing = false) const;
  // A single tensor given for several outputs' sample weights applies to each of them, as in tf.keras 2.
  bool single() const { return by_name_.empty() && by_position_.size() == 1; }

 private:
  Tensors by_position_;
  std::map<std::string, at::Tensor> by_name_;
};

// One batch as Model::train_step and test_step receive it.
struct Batch {
  Tensors x;              // one per model input
  Tensors y;              // one per output; empty when fit() was given no targets
  Tensors sample_weight;  // one per output (undefined where none), or empty
};

// `fn` applied to every defined tensor (undefined ones stay undefined).
Tensors map_tensors(const Tensors& tensors, const std::function<at::Tensor(const at::Tensor&)>& fn);
Batch map_batch(const Batch& data, const std::function<at::Tensor(const at::Tensor&)>& fn);

}  // namespace strata
