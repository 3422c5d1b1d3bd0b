#pragma once
// InputLayer: declares the per-sample input shape of a model (Keras' `Input(shape=...)`), so a
// Sequential model is built, and checks its inputs, before it sees data.

#include <strata/layers/layer.h>

namespace strata::layers {

class InputLayer : public Layer {
 public:
  // `shape` excludes the batch dimension, as in Keras.
  explicit InputLayer(Shape shape, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override { return inputs; }
  nlohmann::json get_config() const override;
  static InputLayer from_config(const nlohmann::json& config);

  // The batch-None input shape, e.g. (None, 28, 28).
  const Shape& batch_shape() const { return batch_shape_; }

 private:
  Shape batch_shape_;
};

// keras.Input: the input declaration that starts a Sequential model.
InputLayer Input(Shape shape, std::string name = "");

}  // namespace strata::layers
