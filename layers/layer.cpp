#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/layers/layer.h>

#include <algorithm>

namespace strata {

Layer::Layer(std::string class_name, std::string name)
    : class_name_(std::move(class_name)), name_(name.empty() ? unique_name(to_snake_case(class_name_)) : name) {}

std::string Layer::describe() const { return class_name_ + " '" + name_ + "'"; }

void Layer::check_input(const at::Tensor& inputs) const {
  if (!inputs.defined()) throw ValueError(describe() + ": got an undefined input tensor");
  const int64_t rank = inputs.dim();
  const std::string got = format_dims(inputs.sizes());
  if (input_spec_.ndim) {
    // A full input declaration (an Input layer) is reported as the whole expected shape.
    Shape expected(*input_spec_.ndim, kNone);
    for (const auto& [axis, size] : input_spec_.axes) expected[axis < 0 ? *input_spec_.ndim + axis : axis] = size;
    bool ok = rank == *input_spec_.ndim;
    for (int64_t i = 0; ok && i < rank; ++i) ok = expected[i] == kNone || inputs.size(i) == expected[i];
    if (!ok) throw ShapeError(describe() + ": expected input shape " + format_shape(expected) + ", got " + got);
    return;
  }
  if (input_spec_.min_ndim && rank < *input_spec_.min_ndim)
    throw ShapeError(describe() + ": expected input of rank >= " + std::to_string(*input_spec_.min_ndim) +
                     ", got shape " + got);
  for (const auto& [axis, size] : input_spec_.axes) {
    const int64_t index = axis < 0 ? rank + axis : axis;
    if (index < 0 || index >= rank || inputs.size(index) != size) {
      const std::string which = axis == -1 ? "last dimension" : "dimension " + std::to_string(axis) + " of size";
      throw ShapeError(describe() + ": expected input with " + which + " " + std::to_string(size) + ", got shape " + got);
    }
  }
}

at::Tensor Layer::operator()(const at::Tensor& inputs, bool training) {
  check_input(inputs);
  if (!built_) ensure_built(shape_of(inputs));
  at::Tensor outputs = call(inputs, training);
  output_shape_ = with_batch_none(shape_of(outputs));
  return outputs;
}

void Layer::ensure_built(const Shape& input_shape) {
  if (built_) return;
  build(with_batch_none(input_shape));
  built_ = true;
  build_input_shape_ = with_batch_none(input_shape);
}

nlohmann::json Layer::get_config() const {
  return {{"name", name_}, {"trainable", trainable_}, {"dtype", "float32"}};
}

void Layer::apply_base_config(const nlohmann::json& config) { set_trainable(config.value("trainable", true)); }

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  for (auto& var : variables_) var.value.requires_grad_(trainable_ && var.trainable);
  for (auto& layer : sublayers_) layer->set_trainable(trainable);
}

at::Tensor Layer::add_weight(const std::string& name, const Shape& shape, const initializers::Spec& initializer,
                             bool trainable) {
  for (int64_t d : shape)
    if (d < 0)
      throw ShapeError(describe() + ": weight '" + name + "' needs a fully known shape, got " + format_shape(shape));
  at::Tensor value = (*initializer)(shape, at::kFloat);
  value.requires_grad_(trainable && trainable_);
  variables_.push_back({name, value, trainable});
  return value;
}

void Layer::untrack(const std::shared_ptr<Layer>& layer) {
  sublayers_.erase(std::remove(sublayers_.begin(), sublayers_.end(), layer), sublayers_.end());
}

void Layer::collect_variables(std::vector<Variable>& out, bool parent_trainable) const {
  const bool trainable = parent_trainable && trainable_;
  for (const auto& var : variables_) out.push_back({name_ + "/" + var.name, var.value, trainable && var.trainable});
  for (const auto& layer : sublayers_) layer->collect_variables(out, trainable);
}

std::vector<Variable> Layer::variables() const {
  std::vector<Variable> out;
  collect_variables(out, true);
  return out;
}

std::vector<at::Tensor> Layer::weights() const {
  std::vector<at::Tensor> out;
  for (const auto& var : variables()) out.push_back(var.value);
  return out;
}

std::vector<at::Tensor> Layer::trainable_weights() const {
  std::vector<at::Tensor> out;
  for (const auto& var : variables())
    if (var.trainable) out.push_back(var.value);
  return out;
}

std::vector<at::Tensor> Layer::non_trainable_weights() const {
  std::vector<at::Tensor> out;
  for (const auto& var : variables())
    if (!var.trainable) out.push_back(var.value);
  return out;
}

int64_t Layer::count_params() const {
  int64_t total = 0;
  for (const auto& var : variables()) total += var.value.numel();
  return total;
}

std::vector<at::Tensor> Layer::get_weights() const {
  std::vector<at::Tensor> out;
  for (const auto& w : weights()) out.push_back(w.detach().clone());
  return out;
}

void Layer::set_weights(const std::vector<at::Tensor>& weights) {
  const auto vars = variables();
  if (weights.size() != vars.size())
    throw ValueError(describe() + ": set_weights expected " + std::to_string(vars.size()) + " arrays, got " +
                     std::to_string(weights.size()));
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!weights[i].defined() || weights[i].sizes() != vars[i].value.sizes())
      throw ShapeError(describe() + ": set_weights: weight '" + vars[i].name + "' expected shape " +
                       format_dims(vars[i].value.sizes()) + ", got " +
                       (weights[i].defined() ? format_dims(weights[i].sizes()) : std::string("an undefined tensor")));
  }
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < vars.size(); ++i) vars[i].value.copy_(weights[i]);
}

}  // namespace strata
