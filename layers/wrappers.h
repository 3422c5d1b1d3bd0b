#pragma once
// Layer wrappers: Bidirectional runs a recurrent layer forwards and a copy of it backwards and merges the
// two outputs; TimeDistributed applies any layer to every timestep of a (batch, time, ...) input.

#include <strata/layers/layer.h>
#include <strata/layers/recurrent.h>

#include <concepts>
#include <memory>
#include <optional>
#include <type_traits>

namespace strata::layers {

struct BidirectionalOptions {
  // "concat", "sum", "mul" or "ave"; std::nullopt (Keras' None) returns both outputs unmerged.
  std::optional<std::string> merge_mode = "concat";
  // A recurrent layer with the opposite go_backwards; by default a copy of `layer` reading backwards.
  LayerRef backward_layer = {};
  std::string name = "";
};

// Holds copies of `layer` named forward_<name> and backward_<name> (weights forward first, as Keras); the
// backward output of return_sequences is reversed back into input order before merging. Initial states
// are the forward states then the backward states; return_state appends them in the same order.
class Bidirectional : public Layer {
 public:
  explicit Bidirectional(std::shared_ptr<Layer> layer, BidirectionalOptions options = {});
  // A layer given by value, as in Bidirectional(LSTM(64)). (A LayerRef parameter would make the move
  // constructor's overload check recurse through Ref's converting constructor.)
  template <class L>
  requires std::derived_from<std::decay_t<L>, Layer> &&
      (!std::derived_from<std::decay_t<L>, Bidirectional>)explicit Bidirectional(
          L&& layer, BidirectionalOptions options = {})
      : Bidirectional(std::make_shared<std::decay_t<L>>(std::forward<L>(layer)), std::move(options)) {}

  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Bidirectional from_config(const nlohmann::json& config);
  // "forward_layer" and "backward_layer", Keras' attribute names.
  std::vector<WeightGroup> keras3_weight_groups() const override;

  const std::optional<std::string>& merge_mode() const { return merge_mode_; }
  RNNBase& forward_layer() const { return *forward_; }
  RNNBase& backward_layer() const { return *backward_; }

 protected:
  void build_many(const std::vector<Shape>& input_shapes) override;

 private:
  at::Tensor merge(const at::Tensor& forward, const at::Tensor& backward) const;

  std::optional<std::string> merge_mode_;
  std::shared_ptr<RNNBase> forward_;
  std::shared_ptr<RNNBase> backward_;
};

// Folds time into the batch, (batch, time, ...) -> (batch * time, ...), applies `layer` and unfolds its
// output. The inner layer gets the matching slice of a (batch, time, ...) mask; the mask passes on unchanged.
class TimeDistributed : public Layer {
 public:
  explicit TimeDistributed(std::shared_ptr<Layer> layer, std::string name = "");
  template <class L>
  requires std::derived_from<std::decay_t<L>, Layer> &&
      (!std::derived_from<std::decay_t<L>, TimeDistributed>)explicit TimeDistributed(L&& layer,
                                                                                     std::string name = "")
      : TimeDistributed(std::make_shared<std::decay_t<L>>(std::forward<L>(layer)), std::move(name)) {}

  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static TimeDistributed from_config(const nlohmann::json& config);
  // The wrapped layer under "layer".
  std::vector<WeightGroup> keras3_weight_groups() const override;

  Layer& layer() const { return *layer_; }

 protected:
  void build(const Shape& input_shape) override;

 private:
  std::shared_ptr<Layer> layer_;
};

}  // namespace strata::layers
