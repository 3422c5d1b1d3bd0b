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
  FunctionalGraph(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, const std::string& who);

  // Runs every node in order. `masks` is empty or one per input; `output_masks` receives one per output.
  Tensors run(const Tensors& inputs, const Tensors& masks, bool training, Tensors* output_masks) const;

  const std::vector<SymbolicTensor>& inputs() const { return inputs_; }
  const std::vector<SymbolicTensor>& outputs() const { return outputs_; }
  // Nodes in the order they run (Keras: by decreasing depth), inputs first.
  const std::vector<std::shared_ptr<const Node>>& nodes() const { return nodes_; }
  // Each layer once, in Keras' model.layers order (by decreasing depth, then by discovery order).
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }
  // The Input layers' names, and the names of the layers that produce the outputs (Keras' output_names).
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;

 private:
  std::vector<SymbolicTensor> inputs_;
  std::vector<SymbolicTensor> outputs_;
  std::vector<std::shared_ptr<const Node>> nodes_;
  std::vector<std::shared_ptr<Layer>> layers_;
};

// The nodes `outputs` depend on, in an order where each node comes after the nodes it reads (Kahn / DFS).
// Throws ValueError naming a layer on the cycle if the nodes form one.
std::vector<std::shared_ptr<const Node>> topological_nodes(const std::vector<SymbolicTensor>& outputs,
                                                           const std::string& who);

}  // namespace strata
