#pragma once
// The functional API's placeholders (Keras' KerasTensor): `Input()` gives a SymbolicTensor, and calling a
// layer on SymbolicTensors records a Node (which layer, on which tensors) instead of computing. A model built
// from input and output SymbolicTensors (models/functional_graph.h) replays the nodes on real data.
//
// Each symbolic call runs the layer once on a small zero "probe" batch, so the layer builds and its output
// shapes are known, and a shape mismatch fails there, naming the layer, rather than at the first batch.

#include <ATen/core/Tensor.h>
#include <strata/core/ref.h>
#include <strata/core/shape.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

class Layer;
struct Node;

class SymbolicTensor {
 public:
  SymbolicTensor(std::shared_ptr<const Node> node, size_t index);

  // Shape with batch None; other dimensions are None where the inputs leave them open.
  const Shape& shape() const;
  at::ScalarType dtype() const;
  // Whether a Keras mask travels with this tensor (from Embedding(mask_zero) or Masking, say).
  bool has_mask() const;
  const std::shared_ptr<const Node>& node() const { return node_; }
  // Which of the node's outputs this is.
  size_t index() const { return index_; }
  // The layer that produced it.
  const std::shared_ptr<Layer>& layer() const;
  // Keras' "dense_1[0][0]": layer name, node index, tensor index.
  std::string describe() const;

  // Lets an Input() start a Sequential model, as Keras allows: `Sequential({Input({28, 28}), ...})`.
  operator Ref<Layer>() const;  // NOLINT: implicit so the list of layers reads as in Keras

 private:
  std::shared_ptr<const Node> node_;
  size_t index_;
};

// The outputs of a symbolic call on a list of inputs. Holding a single tensor (a merge, say), it stands for that
// tensor, as Keras returns one there: `auto sum = layers::Add()({a, b});` then `layers::Dense(4)(sum)`.
class SymbolicTensors : public std::vector<SymbolicTensor> {
 public:
  using std::vector<SymbolicTensor>::vector;
  SymbolicTensors(std::vector<SymbolicTensor> tensors) : std::vector<SymbolicTensor>(std::move(tensors)) {}  // NOLINT
  // Throws ValueError unless there is exactly one.
  operator SymbolicTensor() const;  // NOLINT: implicit, see above
};

// One call of a layer on symbolic tensors.
struct Node {
  std::shared_ptr<Layer> layer;
  std::vector<SymbolicTensor> inputs;  // empty for an Input()
  std::vector<Shape> output_shapes;    // batch None
  std::vector<at::ScalarType> output_dtypes;
  std::vector<Shape> output_mask_shapes;  // the Keras mask's shape, batch None; empty when there is none
  int node_index = 0;  // how many times `layer` had been called symbolically before (Keras' node index)
};

// Calls `layer` on `inputs` symbolically: builds the layer, probes it and returns its outputs' placeholders.
std::vector<SymbolicTensor> call_symbolic(const std::shared_ptr<Layer>& layer, const std::vector<SymbolicTensor>& inputs);

}  // namespace strata
