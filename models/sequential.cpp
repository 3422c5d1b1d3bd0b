#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/layers/registry.h>
#include <strata/models/sequential.h>
#include <strata/savedmodel/model_config.h>

#include <algorithm>

namespace strata {

Sequential::Sequential(std::vector<LayerRef> layers, std::string name) : Model("Sequential", std::move(name)) {
  static const bool registered = (layers::register_layer_type<Sequential>(), true);  // see Model's constructor
  (void)registered;
  for (auto& layer : layers) add(std::move(layer));
}

void Sequential::add(LayerRef layer) {
  if (!layer) throw ValueError(describe() + ": add() got an empty layer");
  if (auto input = std::dynamic_pointer_cast<layers::InputLayer>(layer.ptr())) {
    if (!layers().empty() || input_layer_)
      throw ValueError(describe() + ": an InputLayer can only be the first layer, but the model already has " +
                       std::to_string(layers().size()) + " layer(s)");
    input_layer_ = input;
    const Shape& shape = input->batch_shape();
    InputSpec spec{.ndim = static_cast<int64_t>(shape.size())};
    for (size_t axis = 1; axis < shape.size(); ++axis)
      if (shape[axis] != kNone) spec.axes[static_cast<int64_t>(axis)] = shape[axis];
    set_input_spec(spec);
    ensure_built(shape);
    return;
  }
  if (std::find(layers().begin(), layers().end(), layer.ptr()) != layers().end())
    throw ValueError(describe() + ": layer '" + layer->name() + "' is already in the model");
  track(layer.ptr());
  if (input_layer_) build_from_input_shape();
}

void Sequential::pop() {
  if (layers().empty()) throw ValueError(describe() + ": pop() on a model with no layers");
  untrack(layers().back());
}

void Sequential::build(const Shape& input_shape) {
  if (input_layer_) build_from_input_shape();
}

void Sequential::build_from_input_shape() {
  Shape sample = input_layer_->batch_shape();
  sample[0] = 1;
  if (std::any_of(sample.begin(), sample.end(), [](int64_t d) { return d == kNone; })) return;  // build on first data
  at::NoGradGuard no_grad;
  call(at::zeros(sample), false);
}

at::Tensor Sequential::call(const at::Tensor& inputs, bool training) { return call_many({inputs}, {}, training).front(); }

Tensors Sequential::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  Tensors x = inputs;
  Tensors x_masks = masks;
  for (const auto& layer : layers()) {
    Tensors next_masks;
    x = layer->apply(x, x_masks, training, &next_masks);
    x_masks = std::move(next_masks);
  }
  output_masks_ = x_masks;
  return x;
}

std::vector<std::string> Sequential::output_names() const {
  if (layers().empty()) return Model::output_names();
  return {layers().back()->name()};
}

// Keras' get_config (tf.keras 2's form, as layers' get_config); savedmodel/model_config.h writes either dialect.
nlohmann::json Sequential::get_config() const { return models::model_config(*this, models::KerasDialect::kKeras2); }

}  // namespace strata
