#pragma once
// InputLayer and Input(): the declared per-sample shape and dtype of a model's input. `Input()` gives the
// symbolic tensor a functional model starts from; it can also start a Sequential model, which is then
// built (and checks its inputs) before it sees data.

#include <strata/layers/layer.h>

namespace strata::layers {

// Keras' Input arguments; `batch_size` fixes the batch dimension (None when left out).
struct InputOptions {
  std::string name = "";
  std::string dtype = "float32";
  int64_t batch_size = kNone;
};

class InputLayer : public Layer {
 public:
  // `shape` excludes the batch dimension, as in Keras.
  explicit InputLayer(Shape shape, InputOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override { return inputs; }
  nlohmann::json get_config() const override;
  static InputLayer from_config(const nlohmann::json& config);

  // The input shape with its batch dimension, e.g. (None, 28, 28).
  const Shape& batch_shape() const { return batch_shape_; }
  at::ScalarType dtype() const { return dtype_; }

 private:
  Shape batch_shape_;
  at::ScalarType dtype_;
};

// keras.Input: a symbolic tensor of `shape` (batch excluded), the start of a functional model.
SymbolicTensor Input(Shape shape, InputOptions options = {});

}  // namespace strata::layers

namespace strata {
using layers::Input;
}  // namespace strata
