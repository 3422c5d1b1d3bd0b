#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/error.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/layer.h>
#include <strata/layers/symbolic_tensor.h>

#include <algorithm>
#include <optional>

namespace strata {

SymbolicTensor::SymbolicTensor(std::shared_ptr<const Node> node, size_t index) : node_(std::move(node)), index_(index) {}

const Shape& SymbolicTensor::shape() const { return node_->output_shapes.at(index_); }
at::ScalarType SymbolicTensor::dtype() const { return node_->output_dtypes.at(index_); }
bool SymbolicTensor::has_mask() const { return !node_->output_mask_shapes.at(index_).empty(); }
const std::shared_ptr<Layer>& SymbolicTensor::layer() const { return node_->layer; }

std::string SymbolicTensor::describe() const {
  return node_->layer->name() + "[" + std::to_string(node_->node_index) + "][" + std::to_string(index_) + "]";
}

SymbolicTensor::operator Ref<Layer>() const {
  if (!std::dynamic_pointer_cast<layers::InputLayer>(node_->layer))
    throw ValueError("only an Input() can start a Sequential model; got the output of " + node_->layer->describe());
  return Ref<Layer>(node_->layer);
}

SymbolicTensors::operator SymbolicTensor() const {
  if (size() != 1)
    throw ValueError("expected a single symbolic tensor, got a list of " + std::to_string(size()) +
                     (empty() ? "" : " (outputs of " + front().layer()->describe() + "); pick one with [i]"));
  return front();
}

namespace {

// Probes run on a batch of two. A dimension left None takes one size in the first probe and another in the
// second; an output dimension that differs between the two follows it, so it stays None.
constexpr int64_t kProbeBatch = 2;
constexpr int64_t kProbeSizes[] = {32, 48};

std::vector<int64_t> probe_dims(const Shape& shape, int64_t unknown_size) {
  std::vector<int64_t> dims = shape;
  dims.front() = kProbeBatch;
  for (size_t i = 1; i < dims.size(); ++i)
    if (dims[i] == kNone) dims[i] = unknown_size;
  return dims;
}

bool has_unknown_dims(const Shape& shape) { return shape.size() > 1 && std::count(shape.begin() + 1, shape.end(), kNone) > 0; }

struct Probe {
  Tensors outputs;
  Tensors masks;
};

Probe run_probe(Layer& layer, const std::vector<SymbolicTensor>& inputs, int64_t unknown_size) {
  Tensors values, masks;
  bool any_mask = false;
  for (const auto& input : inputs) {
    values.push_back(at::zeros(probe_dims(input.shape(), unknown_size), at::TensorOptions().dtype(input.dtype())));
    const Shape& mask_shape = input.node()->output_mask_shapes.at(input.index());
    any_mask = any_mask || !mask_shape.empty();
    masks.push_back(mask_shape.empty() ? at::Tensor()
                                       : at::ones(probe_dims(mask_shape, unknown_size), at::TensorOptions().dtype(at::kBool)));
  }
  if (!any_mask) masks.clear();
  at::NoGradGuard no_grad;
  Probe probe;
  probe.outputs = layer.apply(values, masks, /*training=*/false, &probe.masks);
  return probe;
}

// The symbolic shape of a probed tensor: batch None, and None wherever the two probes disagree.
Shape symbolic_shape(const at::Tensor& first, const at::Tensor* second) {
  Shape shape = shape_of(first);
  if (!shape.empty()) shape.front() = kNone;
  for (size_t i = 1; second && i < shape.size(); ++i)
    if (second->dim() != first.dim() || second->size(static_cast<int64_t>(i)) != shape[i]) shape[i] = kNone;
  return shape;
}

void add_input_node(Node& node) {
  auto input = std::dynamic_pointer_cast<layers::InputLayer>(node.layer);
  if (!input) throw ValueError(node.layer->describe() + ": called on no symbolic inputs");
  node.output_shapes = {input->batch_shape()};
  node.output_dtypes = {input->dtype()};
  node.output_mask_shapes = {Shape{}};
}

void add_probed_outputs(Node& node) {
  Layer& layer = *node.layer;
  std::vector<Shape> input_shapes;
  bool unknown = false;
  for (const auto& input : node.inputs) {
    input_shapes.push_back(input.shape());
    unknown = unknown || has_unknown_dims(input.shape()) || has_unknown_dims(input.node()->output_mask_shapes.at(input.index()));
  }
  layer.ensure_built(input_shapes);
  const Probe first = run_probe(layer, node.inputs, kProbeSizes[0]);
  const std::optional<Probe> second =
      unknown ? std::optional<Probe>(run_probe(layer, node.inputs, kProbeSizes[1])) : std::nullopt;
  layer.reset_states();  // a stateful layer must not carry the probe's state into real data
  for (size_t i = 0; i < first.outputs.size(); ++i) {
    node.output_shapes.push_back(symbolic_shape(first.outputs[i], second ? &second->outputs.at(i) : nullptr));
    node.output_dtypes.push_back(first.outputs[i].scalar_type());
    const bool masked = i < first.masks.size() && first.masks[i].defined();
    node.output_mask_shapes.push_back(
        masked ? symbolic_shape(first.masks[i], second ? &second->masks.at(i) : nullptr) : Shape{});
  }
}

}  // namespace

std::vector<SymbolicTensor> call_symbolic(const std::shared_ptr<Layer>& layer, const std::vector<SymbolicTensor>& inputs) {
  auto node = std::make_shared<Node>();
  node->layer = layer;
  node->inputs = inputs;
  node->node_index = static_cast<int>(layer->inbound_nodes_.size());
  if (inputs.empty()) {
    add_input_node(*node);
  } else {
    add_probed_outputs(*node);
  }
  layer->inbound_nodes_.push_back(node);
  layer->record_output_shape(node->output_shapes.front());
  std::vector<SymbolicTensor> outputs;
  for (size_t i = 0; i < node->output_shapes.size(); ++i) outputs.emplace_back(node, i);
  return outputs;
}

}  // namespace strata
