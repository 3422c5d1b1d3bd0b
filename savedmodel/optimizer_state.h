#pragma once
// The compiled optimizer's state as whole-model files store it (Keras 3's optimizer.variables order and names),
// and its restoration into a freshly loaded model so training continues bit for bit.

#include <strata/models/model.h>

#include <string>
#include <vector>

namespace strata::savedmodel {

struct OptimizerState {
  std::vector<std::string> names;  // "adam/iteration", "adam/dense_kernel_momentum", ...
  std::vector<at::Tensor> values;
};

// Empty when the model is not compiled or its optimizer has not been built yet (no update made, as in Keras).
OptimizerState optimizer_state_of(const Model& model);

// Builds the compiled optimizer on the model's trainable weights and restores `values`. A state that does not
// fit (another optimizer, another model, a tf.keras 2 file without a learning-rate variable) leaves the optimizer
// fresh with a warning naming `source`, as Keras does.
void restore_optimizer_state(Model& model, const std::vector<at::Tensor>& values, const std::string& source);

}  // namespace strata::savedmodel
