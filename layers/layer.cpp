#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/dtype.h>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/layers/layer.h>
#include <strata/layers/registry.h>

#include <algorithm>

namespace strata {

Layer::Layer(std::string class_name, std::string name)
    : class_name_(std::move(class_name)),
      name_(name.empty() ? unique_name(to_snake_case(class_name_)) : name),
      dtype_policy_(mixed_precision::global_policy()) {}

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

namespace {

// How many apply() calls are running on this thread; the outermost one starts a fresh list of losses.
thread_local int call_depth = 0;

struct CallDepth {
  CallDepth() { ++call_depth; }
  ~CallDepth() { --call_depth; }
  CallDepth(const CallDepth&) = delete;
  CallDepth& operator=(const CallDepth&) = delete;
};

}  // namespace

at::Tensor Layer::operator()(const at::Tensor& inputs, bool training) {
  Tensors outputs = apply({inputs}, {}, training);
  if (outputs.size() != 1)
    throw ValueError(describe() + ": returns " + std::to_string(outputs.size()) +
                     " outputs; call it with a list of inputs to get them all");
  return outputs.front();
}

Tensors Layer::operator()(const Tensors& inputs, bool training) { return apply(inputs, {}, training); }

Tensors Layer::apply(const Tensors& inputs, const Tensors& masks, bool training, Tensors* output_masks) {
  if (inputs.empty()) throw ValueError(describe() + ": called with no inputs");
  if (!masks.empty() && masks.size() != inputs.size())
    throw ValueError(describe() + ": got " + std::to_string(masks.size()) + " masks for " +
                     std::to_string(inputs.size()) + " inputs");
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].defined())
      throw ValueError(describe() + ": input " + std::to_string(i) + " is an undefined tensor");
  if (inputs.size() == 1) check_input(inputs.front());
  if (call_depth == 0) clear_call_records();
  const Tensors cast = autocast_ ? autocast_inputs(inputs) : Tensors{};
  const Tensors& used = cast.empty() ? inputs : cast;
  CallDepth depth;
  if (!built_) {
    std::vector<Shape> shapes;
    for (const auto& input : used) shapes.push_back(shape_of(input));
    ensure_built(shapes);
  }
  Tensors outputs = call_many(used, masks, training);
  if (outputs.empty()) throw StateError(describe() + ": call returned no outputs");
  output_shape_ = with_batch_none(shape_of(outputs.front()));
  if (activity_regularizer_) {
    for (const auto& output : outputs)
      if (output.dim() > 0) add_loss((*activity_regularizer_)(output) / static_cast<double>(output.size(0)));
  }
  if (output_masks) {
    *output_masks = compute_mask(used, masks);
    output_masks->resize(outputs.size());
  }
  return outputs;
}

Tensors Layer::autocast_inputs(const Tensors& inputs) const {
  const at::ScalarType target = compute_dtype();
  // Under "float32" only half-precision inputs are raised: float64 inputs meet float64 weights in the tests.
  auto needs_cast = [&](const at::Tensor& t) {
    if (!t.is_floating_point() || t.scalar_type() == target) return false;
    return target != at::kFloat || t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  };
  if (std::none_of(inputs.begin(), inputs.end(), needs_cast)) return {};
  Tensors out;
  for (const auto& t : inputs) out.push_back(needs_cast(t) ? t.to(target) : t);
  return out;
}

at::Tensor Layer::autocast(const at::Tensor& weight) const {
  if (!weight.defined() || !dtype_policy_.is_mixed() || weight.scalar_type() != variable_dtype()) return weight;
  return weight.to(compute_dtype());
}

void Layer::set_dtype_policy(const DTypePolicy& policy) {
  if (built_ && policy.variable_dtype() != dtype_policy_.variable_dtype())
    throw StateError(describe() + ": cannot change the dtype policy from '" + dtype_policy_.name() + "' to '" +
                     policy.name() + "' after the layer has built its " + dtype_name(variable_dtype()) + " weights");
  dtype_policy_ = policy;
}

at::Tensor Layer::call(const at::Tensor& inputs, bool training) {
  throw ValueError(describe() + ": takes a list of inputs, e.g. layer({a, b}), not a single tensor");
}

Tensors Layer::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  if (inputs.size() != 1)
    throw ValueError(describe() + ": expected 1 input, got " + std::to_string(inputs.size()));
  return {call(inputs.front(), training)};
}

Tensors Layer::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  if (!supports_masking_ || masks.empty()) return {};
  return {masks.front()};
}

void Layer::ensure_built(const Shape& input_shape) { ensure_built(std::vector<Shape>{input_shape}); }

void Layer::ensure_built(const std::vector<Shape>& input_shapes) {
  if (built_) return;
  std::vector<Shape> shapes;
  for (const auto& shape : input_shapes) shapes.push_back(with_batch_none(shape));
  build_many(shapes);
  built_ = true;
  build_input_shapes_ = std::move(shapes);
}

void Layer::build_many(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != 1)
    throw ValueError(describe() + ": expected 1 input, got " + std::to_string(input_shapes.size()));
  build(input_shapes.front());
}

nlohmann::json Layer::get_config() const {
  return {{"name", name_}, {"trainable", trainable_}, {"dtype", dtype_policy_.to_config()}};
}

void Layer::apply_base_config(const nlohmann::json& config) {
  set_trainable(config.value("trainable", true));
  if (config.contains("dtype")) set_dtype_policy(DTypePolicy::from_config(config.at("dtype")));
}

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  for (auto& var : variables_) var.value.requires_grad_(trainable_ && var.trainable);
  for (auto& layer : sublayers_) layer->set_trainable(trainable);
}

at::Tensor Layer::add_weight(const std::string& name, const Shape& shape, const initializers::Spec& initializer,
                             bool trainable, regularizers::Spec regularizer, constraints::Spec constraint) {
  for (int64_t d : shape)
    if (d < 0)
      throw ShapeError(describe() + ": weight '" + name + "' needs a fully known shape, got " + format_shape(shape));
  at::Tensor value = (*initializer)(shape, at::kFloat);
  if (variable_dtype() != at::kFloat) value = value.to(variable_dtype());
  value.requires_grad_(trainable && trainable_);
  variables_.push_back({name, value, trainable, std::move(regularizer), std::move(constraint)});
  return value;
}

void Layer::untrack(const std::shared_ptr<Layer>& layer) {
  sublayers_.erase(std::remove(sublayers_.begin(), sublayers_.end(), layer), sublayers_.end());
}

std::vector<Variable> Layer::own_variables() const {
  std::vector<Variable> out;
  for (const auto& var : variables_)
    if (var.trainable) out.push_back(var);
  for (const auto& var : variables_)
    if (!var.trainable) out.push_back(var);
  return out;
}

void Layer::nest_weight_groups(std::vector<WeightGroup>& out, const std::string& prefix, const Layer& layer) {
  for (auto& group : layer.keras3_weight_groups()) {
    group.path = group.path.empty() ? prefix : prefix + "/" + group.path;
    out.push_back(std::move(group));
  }
}

std::vector<WeightGroup> Layer::keras3_weight_groups() const {
  std::vector<WeightGroup> out{{"", name_, own_variables()}};
  std::map<std::string, int> used;  // Keras' per-container counter: dense, dense_1, ...
  for (const auto& layer : sublayers_) {
    const std::string base = to_snake_case(layer->class_name());
    const int seen = used[base]++;
    nest_weight_groups(out, seen == 0 ? base : base + "_" + std::to_string(seen), *layer);
  }
  return out;
}

void Layer::visit_variables(const VariableVisitor& visit, bool parent_trainable) const {
  const bool trainable = parent_trainable && trainable_;
  for (const auto& var : variables_) visit(*this, var, trainable && var.trainable);
  for (const auto& layer : sublayers_) layer->visit_variables(visit, trainable);
}

std::vector<Variable> Layer::variables() const {
  std::vector<Variable> out;
  visit_variables([&](const Layer& owner, const Variable& var, bool trainable) {
    out.push_back({owner.name_ + "/" + var.name, var.value, trainable, var.regularizer, var.constraint});
  });
  return out;
}

Tensors Layer::losses() const {
  Tensors out;
  // Keras 3 regularizes the trainable weights only: a frozen layer's penalty is a constant it cannot lower.
  visit_variables([&](const Layer&, const Variable& var, bool trainable) {
    if (var.regularizer && trainable) out.push_back((*var.regularizer)(var.value));
  });
  collect_call_losses(out);
  return out;
}

void Layer::add_loss(const at::Tensor& loss) {
  if (!loss.defined() || loss.numel() != 1)
    throw ValueError(describe() + ": add_loss expects a scalar tensor, got " +
                     (loss.defined() ? format_dims(loss.sizes()) : std::string("an undefined tensor")));
  call_losses_.push_back(loss.reshape({}));
}

void Layer::collect_call_losses(Tensors& out) const {
  out.insert(out.end(), call_losses_.begin(), call_losses_.end());
  for (const auto& layer : sublayers_) layer->collect_call_losses(out);
}

void Layer::add_metric(const at::Tensor& value, const std::string& name) {
  if (!value.defined()) throw ValueError(describe() + ": add_metric('" + name + "') got an undefined tensor");
  if (name.empty()) throw ValueError(describe() + ": add_metric needs a name, as the logs show it by name");
  call_metrics_.emplace_back(name, value.detach());
}

std::vector<std::pair<std::string, at::Tensor>> Layer::call_metrics() const {
  std::vector<std::pair<std::string, at::Tensor>> out = call_metrics_;
  for (const auto& layer : sublayers_) {
    auto inner = layer->call_metrics();
    out.insert(out.end(), inner.begin(), inner.end());
  }
  return out;
}

void Layer::clear_call_records() {
  call_losses_.clear();
  call_metrics_.clear();
  for (const auto& layer : sublayers_) layer->clear_call_records();
}

void Layer::reset_states() {
  for (auto& layer : sublayers_) layer->reset_states();
}

void Layer::apply_constraints() {
  at::NoGradGuard no_grad;
  // As Keras' optimizer, which constrains the variables it updates: frozen weights stay as they are.
  visit_variables([](const Layer&, const Variable& var, bool trainable) {
    if (var.constraint && trainable) var.value.copy_((*var.constraint)(var.value));
  });
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

std::shared_ptr<Layer> Layer::owner_for_graph(bool moving) {
  if (auto self = weak_from_this().lock()) return self;
  if (moving) return layers::move_to_shared(std::move(*this));
  throw StateError(describe() + ": a layer called on symbolic tensors must belong to the graph; call a temporary "
                   "(layers::Dense(10)(x)) or hold the layer in a shared_ptr (auto dense = share(layers::Dense(10)))");
}

namespace {

SymbolicTensor only_output(const Layer& layer, std::vector<SymbolicTensor> outputs) {
  if (outputs.size() != 1)
    throw ValueError(layer.describe() + ": returns " + std::to_string(outputs.size()) +
                     " outputs; call it with a list of inputs, layer({x}), to get them all");
  return outputs.front();
}

}  // namespace

SymbolicTensor Layer::operator()(const SymbolicTensor& input) & {
  return only_output(*this, call_symbolic(owner_for_graph(false), {input}));
}

SymbolicTensor Layer::operator()(const SymbolicTensor& input) && {
  auto owner = owner_for_graph(true);  // *this is moved-from from here on
  return only_output(*owner, call_symbolic(owner, {input}));
}

SymbolicTensors Layer::operator()(const std::vector<SymbolicTensor>& inputs) & {
  return call_symbolic(owner_for_graph(false), inputs);
}

SymbolicTensors Layer::operator()(const std::vector<SymbolicTensor>& inputs) && {
  return call_symbolic(owner_for_graph(true), inputs);
}

std::vector<std::shared_ptr<const Node>> Layer::inbound_nodes() const {
  std::vector<std::shared_ptr<const Node>> out;
  for (const auto& node : inbound_nodes_)
    if (auto alive = node.lock()) out.push_back(std::move(alive));
  return out;
}

}  // namespace strata
