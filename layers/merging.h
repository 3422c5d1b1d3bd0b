#pragma once
// Merging layers with Keras' semantics: Add, Subtract, Multiply, Average, Maximum, Minimum (element-wise),
// Concatenate and Dot. Each is called on a list of inputs, `layers::Add()({a, b})`.
//
// Element-wise merges follow Keras' Merge shape rules: batch sizes must be equal; the per-sample shapes are
// aligned from the right and must agree wherever neither is 1 (a 1 broadcasts). An input of lower rank is
// expanded with size-1 axes right after the batch axis until every input has the same rank.
//
// Masks follow tf.keras' compute_mask: an element-wise merge outputs the logical AND of the given masks (no
// mask when none is given); Concatenate concatenates the masks (all-true for an input without one) and
// reduces the last axis with AND; Dot outputs no mask.

#include <strata/layers/layer.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::layers {

// The base of the element-wise merges (Keras' Merge); Concatenate and Dot reuse its input checks.
class Merge : public Layer {
 public:
  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  // The output shape of the merge of `input_shapes` (batch included); throws ShapeError if they do not fit.
  virtual Shape compute_output_shape(const std::vector<Shape>& input_shapes) const;
  Shape compute_output_shape(const Shape& input_shape) const override;

 protected:
  // `exact_inputs` > 0 asks for exactly that many inputs (Subtract, Dot); otherwise at least one.
  // `expand_ranks` gives lower-rank inputs size-1 axes after the batch axis before merge() (Keras'
  // _reshape_required; Concatenate and Dot take inputs as they are).
  Merge(std::string class_name, std::string name, size_t exact_inputs = 0, bool expand_ranks = true);

  void build_many(const std::vector<Shape>& input_shapes) override;
  // The merge itself, on the inputs (expanded to one rank first when `expand_ranks`).
  virtual at::Tensor merge(const Tensors& inputs) const = 0;
  // Throws ValueError unless `count` inputs are acceptable.
  void check_input_count(size_t count) const;
  // Throws ShapeError unless every concrete batch size is the same.
  void check_batch_sizes(const std::vector<Shape>& input_shapes) const;

 private:
  size_t exact_inputs_;
  bool expand_ranks_;
};

// Element-wise merges: each class only names its operation. Options are just the layer name, as in Keras.
class Add : public Merge {
 public:
  explicit Add(std::string name = "");
  static Add from_config(const nlohmann::json& config);

 protected:
  at::Tensor merge(const Tensors& inputs) const override;
};

// inputs[0] - inputs[1]; exactly two inputs.
class Subtract : public Merge {
 public:
  explicit Subtract(std::string name = "");
  static Subtract from_config(const nlohmann::json& config);

 protected:
  at::Tensor merge(const Tensors& inputs) const override;
};

class Multiply : public Merge {
 public:
  explicit Multiply(std::string name = "");
  static Multiply from_config(const nlohmann::json& config);

 protected:
  at::Tensor merge(const Tensors& inputs) const override;
};

class Average : public Merge {
 public:
  explicit Average(std::string name = "");
  static Average from_config(const nlohmann::json& config);

 protected:
  at::Tensor merge(const Tensors& inputs) const override;
};

class Maximum : public Merge {
 public:
  explicit Maximum(std::string name = "");
  static Maximum from_config(const nlohmann::json& config);

 protected:
  at::Tensor merge(const Tensors& inputs) const override;
};

class Minimum : public Merge {
 public:
  explicit Minimum(std::string name = "");
  static Minimum from_config(const nlohmann::json& config);

 protected:
  at::Tensor merge(const Tensors& inputs) const override;
};

struct ConcatenateOptions {
  std::string name = "";
};

// Joins inputs of one rank along `axis` (negative counts from the end); every other axis must match.
class Concatenate : public Merge {
 public:
  explicit Concatenate(int64_t axis = -1, ConcatenateOptions options = {});

  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  Shape compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  using Merge::compute_output_shape;
  nlohmann::json get_config() const override;
  static Concatenate from_config(const nlohmann::json& config);

  int64_t axis() const { return axis_; }

 protected:
  at::Tensor merge(const Tensors& inputs) const override;

 private:
  int64_t axis_;
};

// Dot's axes: one axis for both inputs, or one per input (Keras' int or pair); negative counts from the end.
struct DotAxes {
  DotAxes(int64_t axis) : values{axis, axis}, single(true) {}  // NOLINT: implicit like Keras' int form
  DotAxes(int64_t first, int64_t second) : values{first, second}, single(false) {}

  std::vector<int64_t> values;
  bool single;  // written back to a config as an int
};

struct DotOptions {
  bool normalize = false;  // L2-normalise both inputs along their axes first (cosine proximity)
  std::string name = "";
};

// Keras' batch_dot of two inputs: for each sample, the sum over the paired axes. The output keeps the first
// input's other axes, then the second's (batch excluded); a result with no axis left has shape (batch, 1).
class Dot : public Merge {
 public:
  explicit Dot(DotAxes axes, DotOptions options = {});

  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  Shape compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  using Merge::compute_output_shape;
  nlohmann::json get_config() const override;
  static Dot from_config(const nlohmann::json& config);

  const DotAxes& axes() const { return axes_; }
  bool normalize() const { return normalize_; }

 protected:
  at::Tensor merge(const Tensors& inputs) const override;

 private:
  // The two contracted axes for inputs of ranks `rank1`, `rank2`; throws for a batch or out-of-range axis.
  std::pair<int64_t, int64_t> resolve_axes(int64_t rank1, int64_t rank2) const;

  DotAxes axes_;
  bool normalize_;
};

}  // namespace strata::layers
