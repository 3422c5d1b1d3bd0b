#pragma once
// The graph behind a functional model: the nodes (layer calls) between Input() tensors and the outputs, in
// Keras' order, and how to run them on real tensors.

#include <strata/layers/layer.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

class FunctionalGraph {
 public:
  // Walks back from `outputs` and checks the graph: every input is an Input() tensor, given once; every
  // output is computed from `inputs` only; every input reaches an output; no node depends on itself.
  // Errors are strata::ValueError starting with `who` (the model) and naming the tensor or layer at fault.
  FunctionalGraph(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs,
                  const std::string& who);

  // Runs every node in order. `masks` is empty or one per input; `output_masks` receives one per output.
  Tensors run(const Tensors& inputs, const Tensors& masks, bool training, Tensors* output_masks) const;

  const std::vector<SymbolicTensor>& inputs() const { return inputs_; }
  const std::vector<SymbolicTensor>& outputs() const { return outputs_; }
  // Nodes in the order they run (Keras: by decreasing depth), inputs first.
  const std::vector<std::shared_ptr<const Node>>& nodes() const { return nodes_; }
  // Each node's depth, parallel to nodes(): 0 for the nodes that give the outputs, and one more than the
  // deepest node that reads its outputs (Keras' nodes_by_depth; a shared layer's nodes take its deepest use).
  const std::vector<int>& node_depths() const { return node_depths_; }
  // Each layer once, in Keras' model.layers order (by decreasing depth, then by discovery order).
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }
  // The Input layers' names, and the names of the layers that produce the outputs (Keras' output_names).
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;

 private:
  std::vector<SymbolicTensor> inputs_;
  std::vector<SymbolicTensor> outputs_;
  std::vector<std::shared_ptr<const Node>> nodes_;
  std::vector<int> node_depths_;
  std::vector<std::shared_ptr<Layer>> layers_;
  std::string who_;
};

// The nodes `outputs` depend on, in an order where each node comes after the nodes it reads (Kahn / DFS).
// Throws ValueError naming a layer on the cycle if the nodes form one.
std::vector<std::shared_ptr<const Node>> topological_nodes(const std::vector<SymbolicTensor>& outputs,
                                                           const std::string& who);

}  // namespace strata
