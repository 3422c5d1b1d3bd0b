#pragma once
// Sequential: a plain stack of layers, each feeding the next; layers() excludes the InputLayer, as in Keras.
// Starting it with Input() builds it at once (so summary() works before training) and makes it check the
// shape of what it is given.

#include <strata/layers/input_layer.h>
#include <strata/models/model.h>


namespace strata {

class Sequential : public Model {
 public:
  explicit Sequential(std::vector<LayerRef> layers = {}, std::string name = "");

  // Appends a layer; an InputLayer is accepted only as the first entry.
  void add(LayerRef layer);
  // Removes the last layer; throws on an empty model.
  void pop();
  // Its output is named after its last layer, as in tf.keras 2.
  std::vector<std::string> output_names() const override;

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  // Runs the stack passing each layer's output mask to the next, as Keras' Sequential does.
  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  // The mask the last layer gave in the latest call.
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override { return output_masks_; }
  nlohmann::json get_config() const override;
  // The InputLayer it was started with; null when it builds from its first data.
  const std::shared_ptr<layers::InputLayer>& input_layer() const { return input_layer_; }

 protected:
  void build(const Shape& input_shape) override;

 private:
  // Runs a zero sample through the stack so every layer builds and records its output shape.
  void build_from_input_shape();

  std::shared_ptr<layers::InputLayer> input_layer_;
  Tensors output_masks_;
};

}  // namespace strata
