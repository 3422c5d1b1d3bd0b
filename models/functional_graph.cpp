#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/layers/input_layer.h>
#include <strata/models/functional_graph.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace strata {
namespace {

using NodePtr = std::shared_ptr<const Node>;

bool is_input_node(const Node& node) {
  return node.inputs.empty() && dynamic_cast<const layers::InputLayer*>(node.layer.get()) != nullptr;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::string node_label(const Node& node) {
  return node.layer->describe() + " (node " + std::to_string(node.node_index) + ")";
}

// Keras' _build_map: a depth-first walk back from the outputs, in output order. It lists the nodes in
// post-order (each after the nodes it reads) and numbers the layers in the order it first meets them.
// Given the model's Input nodes, it also fails on a node without inputs that is not one of them.
class GraphWalk {
 public:
  GraphWalk(std::string who, const std::unordered_set<const Node*>* inputs)
      : who_(std::move(who)), inputs_(inputs) {}

  void visit_output(const SymbolicTensor& output, size_t position) {
    output_ = &output;
    output_position_ = position;
    visit(output.node());
  }
  bool reached(const Node* node) const { return finished_.count(node) > 0; }

  std::vector<NodePtr> post_order;
  std::unordered_map<const Layer*, size_t> layer_index;

 private:
  void visit(const NodePtr& node) {
    if (finished_.count(node.get())) return;
    if (in_progress_.count(node.get()))
      throw ValueError(who_ + ": the graph has a cycle: " + node_label(*node) + " depends on its own output");
    layer_index.emplace(node->layer.get(), layer_index.size());
    if (node->inputs.empty() && inputs_ && !inputs_->count(node.get()))
      throw ValueError(who_ + ": Graph disconnected: outputs[" + std::to_string(output_position_) + "] (" +
                       output_->describe() + ") needs " + node->layer->describe() +
                       ", which is not one of the model's inputs");
    in_progress_.insert(node.get());
    for (const auto& input : node->inputs) visit(input.node());
    in_progress_.erase(node.get());
    finished_.insert(node.get());
    post_order.push_back(node);
  }

  std::string who_;
  const std::unordered_set<const Node*>* inputs_;
  const SymbolicTensor* output_ = nullptr;
  size_t output_position_ = 0;
  std::unordered_set<const Node*> finished_;
  std::unordered_set<const Node*> in_progress_;
};

// Every input must be an Input() tensor, given once.
std::unordered_set<const Node*> check_inputs(const std::vector<SymbolicTensor>& inputs,
                                             const std::string& who) {
  std::unordered_map<const Node*, size_t> seen;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Node& node = *inputs[i].node();
    if (!is_input_node(node))
      throw ValueError(who + ": inputs[" + std::to_string(i) + "] is the output of " +
                       node.layer->describe() + ", not an Input()");
    const auto [it, fresh] = seen.emplace(&node, i);
    if (!fresh)
      throw ValueError(who + ": inputs[" + std::to_string(it->second) + "] and inputs[" + std::to_string(i) +
                       "] are the same tensor, " + node.layer->describe() + "; give each Input() once");
  }
  std::unordered_set<const Node*> nodes;
  for (const auto& [node, position] : seen) nodes.insert(node);
  return nodes;
}

}  // namespace

std::vector<NodePtr> topological_nodes(const std::vector<SymbolicTensor>& outputs, const std::string& who) {
  GraphWalk walk(who, nullptr);
  for (size_t i = 0; i < outputs.size(); ++i) walk.visit_output(outputs[i], i);
  return walk.post_order;
}

FunctionalGraph::FunctionalGraph(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs,
                                 const std::string& who)
    : inputs_(std::move(inputs)), outputs_(std::move(outputs)), who_(who) {
  if (outputs_.empty()) throw ValueError(who_ + ": a functional model needs at least one output");
  const std::unordered_set<const Node*> input_nodes = check_inputs(inputs_, who_);
  GraphWalk walk(who_, &input_nodes);
  for (size_t i = 0; i < outputs_.size(); ++i) walk.visit_output(outputs_[i], i);
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (!walk.reached(inputs_[i].node().get()))
      throw ValueError(who_ + ": inputs[" + std::to_string(i) + "] (" + inputs_[i].layer()->describe() +
                       ") is not connected to any output");

  // Keras' _map_graph_network: walking from the outputs back, each node is one deeper than the deepest node
  // that reads it; a shared layer's node takes the depth of its deepest node met so far.
  std::unordered_map<const Node*, int> node_depth;
  std::unordered_map<const Layer*, int> layer_depth;
  for (auto it = walk.post_order.rbegin(); it != walk.post_order.rend(); ++it) {
    const Node& node = **it;
    int& depth = node_depth[&node];
    int& of_layer = layer_depth[node.layer.get()];
    depth = std::max(depth, of_layer);
    of_layer = depth;
    for (const auto& input : node.inputs) {
      int& parent = node_depth[input.node().get()];
      parent = std::max(parent, depth + 1);
    }
  }

  // The Input nodes first, in the model's input order, then the others by decreasing depth.
  for (const auto& input : inputs_) nodes_.push_back(input.node());
  std::vector<NodePtr> others;
  for (const auto& node : walk.post_order)
    if (!input_nodes.count(node.get())) others.push_back(node);
  std::stable_sort(others.begin(), others.end(), [&](const NodePtr& a, const NodePtr& b) {
    return node_depth.at(a.get()) > node_depth.at(b.get());
  });
  nodes_.insert(nodes_.end(), others.begin(), others.end());
  for (const auto& node : nodes_) node_depths_.push_back(node_depth.at(node.get()));

  // Layers by decreasing depth, then in the order the walk first met them.
  for (const auto& node : walk.post_order)
    if (std::find(layers_.begin(), layers_.end(), node->layer) == layers_.end())
      layers_.push_back(node->layer);
  std::sort(layers_.begin(), layers_.end(), [&](const auto& a, const auto& b) {
    const int da = layer_depth.at(a.get()), db = layer_depth.at(b.get());
    return da != db ? da > db : walk.layer_index.at(a.get()) < walk.layer_index.at(b.get());
  });

  std::unordered_map<std::string, int> name_uses;
  for (const auto& layer : layers_) ++name_uses[layer->name()];
  for (const auto& layer : layers_)
    if (name_uses.at(layer->name()) > 1)
      throw ValueError(who_ + ": the name \"" + layer->name() + "\" is used " +
                       std::to_string(name_uses.at(layer->name())) +
                       " times in the model; all layer names should be unique");
}

Tensors FunctionalGraph::run(const Tensors& inputs, const Tensors& masks, bool training,
                             Tensors* output_masks) const {
  if (inputs.size() != inputs_.size())
    throw ValueError(who_ + ": expected " + std::to_string(inputs_.size()) + " input(s) (" +
                     join(input_names()) + "), got " + std::to_string(inputs.size()));
  if (!masks.empty() && masks.size() != inputs.size())
    throw ValueError(who_ + ": got " + std::to_string(masks.size()) + " masks for " +
                     std::to_string(inputs.size()) + " inputs");
  struct Values {
    Tensors outputs;
    Tensors masks;
  };
  std::unordered_map<const Node*, Values> values;
  values.reserve(nodes_.size());
  // Each input passes its InputLayer, whose spec names it in a shape error; a given mask travels as it is.
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Node& node = *inputs_[i].node();
    values[&node] = {node.layer->apply({inputs[i]}, {}, training), {masks.empty() ? at::Tensor() : masks[i]}};
  }
  const at::Tensor no_mask;
  for (const auto& node : nodes_) {
    if (node->inputs.empty()) continue;  // an Input, set above
    Tensors args, arg_masks;
    bool any_mask = false;
    for (const auto& input : node->inputs) {
      const Values& from = values.at(input.node().get());
      args.push_back(from.outputs.at(input.index()));
      const at::Tensor& mask = input.index() < from.masks.size() ? from.masks[input.index()] : no_mask;
      any_mask = any_mask || mask.defined();
      arg_masks.push_back(mask);
    }
    if (!any_mask) arg_masks.clear();
    Values out;
    out.outputs = node->layer->apply(args, arg_masks, training, &out.masks);
    if (out.outputs.size() != node->output_shapes.size())
      throw StateError(who_ + ": " + node_label(*node) + " returned " + std::to_string(out.outputs.size()) +
                       " outputs; when the model was built it returned " +
                       std::to_string(node->output_shapes.size()));
    values.emplace(node.get(), std::move(out));
  }
  Tensors result;
  if (output_masks) output_masks->clear();
  for (const auto& output : outputs_) {
    const Values& from = values.at(output.node().get());
    result.push_back(from.outputs.at(output.index()));
    if (output_masks)
      output_masks->push_back(output.index() < from.masks.size() ? from.masks[output.index()] : no_mask);
  }
  return result;
}

std::vector<std::string> FunctionalGraph::input_names() const {
  std::vector<std::string> names;
  for (const auto& input : inputs_) names.push_back(input.layer()->name());
  return names;
}

// Keras' _set_output_names: the producing layer's name; a layer that gives several outputs gets "_1", "_2"...
// on the later ones.
std::vector<std::string> FunctionalGraph::output_names() const {
  std::vector<std::string> names;
  std::unordered_set<std::string> taken;
  std::unordered_map<std::string, int> suffix;
  for (const auto& output : outputs_) {
    const std::string& base = output.layer()->name();
    std::string proposal = base;
    while (taken.count(proposal)) {
      int& count = suffix.try_emplace(base, 1).first->second;
      proposal = base + "_" + std::to_string(count++);
    }
    taken.insert(proposal);
    names.push_back(proposal);
  }
  return names;
}

}  // namespace strata
