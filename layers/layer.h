#pragma once
// The Layer contract (DESIGN.md §4): weights through add_weight, sub-layers through track(), lazy build
// from the first input shape, call(inputs, training), compute_output_shape and get_config.
//
// A layer with one input and one output overrides call(tensor). A layer with several inputs or outputs
// (merging layers, attention, a recurrent layer's initial states or returned states), or one that reads
// Keras masks, overrides call_many(), which gets every input with its mask. Masks travel beside the
// tensors: apply() takes one mask per input (an undefined tensor for none) and reports one per output.

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>
#include <strata/core/constraints.h>
#include <strata/core/initializers.h>
#include <strata/core/mixed_precision.h>
#include <strata/core/ref.h>
#include <strata/core/regularizers.h>
#include <strata/core/shape.h>
#include <strata/layers/symbolic_tensor.h>

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace strata {

// What a layer accepts, checked on every call with an error that names the layer (Keras' InputSpec).
struct InputSpec {
  std::optional<int64_t> ndim = std::nullopt;      // exact rank, batch included
  std::optional<int64_t> min_ndim = std::nullopt;  // minimum rank
  std::map<int64_t, int64_t> axes = {};            // axis (negative counts from the end) -> required size
};

using Tensors = std::vector<at::Tensor>;

// One weight of a layer. `name` is "kernel" for a layer's own list and "dense/kernel" from variables().
struct Variable {
  std::string name;
  at::Tensor value;
  bool trainable;
  regularizers::Spec regularizer = {};  // its penalty joins the training loss
  constraints::Spec constraint = {};    // applied after each optimizer update
};

// Where Keras 3 keeps some of a layer's variables in its weights files (savedmodel/keras3_weights.h): `path`
// is relative to the layer ("" for its own variables, "cell" for a recurrent layer's, "layers/dense" in a
// model), `object_name` is the name Keras gives the object at that path (stored as the `vars` group's
// `name` attribute), `variables` are in Keras' order (trainable, then non-trainable).
struct WeightGroup {
  std::string path;
  std::string object_name;
  std::vector<Variable> variables;
};

// Held by std::shared_ptr wherever it is shared: a functional graph calls the same layer object from
// every node that uses it.
class Layer : public std::enable_shared_from_this<Layer> {
 public:
  // `class_name` is the Keras class ("Dense"); an empty `name` becomes a unique snake_case one ("dense_1").
  explicit Layer(std::string class_name, std::string name = "");
  virtual ~Layer() = default;
  Layer(Layer&&) = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  Layer& operator=(Layer&&) = delete;

  // Checks the input, builds on first use, runs call() and records the output shape.
  at::Tensor operator()(const at::Tensor& inputs, bool training = false);
  // The same for several inputs (`layer({a, b})`) or several outputs (`return_state`).
  Tensors operator()(const Tensors& inputs, bool training = false);
  // The general form that models use: `masks` holds one mask per input (undefined or missing: none);
  // `output_masks`, when given, receives one per output (Keras' compute_mask).
  Tensors apply(const Tensors& inputs, const Tensors& masks, bool training, Tensors* output_masks = nullptr);

  // The functional API: records a call on symbolic tensors (symbolic_tensor.h). A temporary layer moves into
  // the graph (`layers::Dense(10)(x)`); a layer called in several places must be held by a shared_ptr
  // (`auto dense = share(layers::Dense(10)); (*dense)(a); (*dense)(b);`) so the calls share its weights.
  SymbolicTensor operator()(const SymbolicTensor& input) &;
  SymbolicTensor operator()(const SymbolicTensor& input) &&;
  SymbolicTensors operator()(const std::vector<SymbolicTensor>& inputs) &;
  SymbolicTensors operator()(const std::vector<SymbolicTensor>& inputs) &&;
  // The symbolic calls made on this layer so far, in order (Keras' inbound nodes).
  std::vector<std::shared_ptr<const Node>> inbound_nodes() const;

  // Creates the weights for inputs of `input_shape` (batch dimension None) unless already built.
  void ensure_built(const Shape& input_shape);
  void ensure_built(const std::vector<Shape>& input_shapes);

  // One input, one output; the default says the layer needs call_many().
  virtual at::Tensor call(const at::Tensor& inputs, bool training);
  // Any inputs with their masks (`masks` is empty or has one entry per input); the default passes a
  // single input to call().
  virtual Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training);
  // One mask per output, from the inputs and their masks. The default passes the first input's mask on
  // when supports_masking() and drops it otherwise, as Keras does.
  virtual Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const;
  bool supports_masking() const { return supports_masking_; }

  virtual Shape compute_output_shape(const Shape& input_shape) const { return input_shape; }
  // Keras' config: name, trainable, dtype, plus each layer's own arguments.
  virtual nlohmann::json get_config() const;

  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  bool built() const { return built_; }
  // Batch-None shapes of the last build input and the last output; empty before they are known.
  const Shape& build_input_shape() const {
    static const Shape kUnknown;
    return build_input_shapes_.empty() ? kUnknown : build_input_shapes_.front();
  }
  const std::vector<Shape>& build_input_shapes() const { return build_input_shapes_; }
  const Shape& output_shape() const { return output_shape_; }

  bool trainable() const { return trainable_; }
  void set_trainable(bool trainable);

  // Keras' dtype policy (core/mixed_precision.h): the global policy when the layer was constructed, unless set
  // here before the layer builds (Keras' `dtype=` argument). apply() casts floating inputs to compute_dtype()
  // (Keras' autocast); under the "float32" policy only float16/bfloat16 inputs are cast, so float64 inputs
  // with float64 weights keep working.
  const DTypePolicy& dtype_policy() const { return dtype_policy_; }
  void set_dtype_policy(const DTypePolicy& policy);
  at::ScalarType compute_dtype() const { return dtype_policy_.compute_dtype(); }
  at::ScalarType variable_dtype() const { return dtype_policy_.variable_dtype(); }

  // Own variables in creation order, then each sub-layer's, recursively.
  std::vector<Variable> variables() const;
  std::vector<at::Tensor> weights() const;
  std::vector<at::Tensor> trainable_weights() const;
  std::vector<at::Tensor> non_trainable_weights() const;
  int64_t count_params() const;

  // Copies of the weights, and the inverse; set_weights checks every shape before it copies any.
  std::vector<at::Tensor> get_weights() const;
  void set_weights(const std::vector<at::Tensor>& weights);

  const std::vector<std::shared_ptr<Layer>>& sublayers() const { return sublayers_; }

  // Every object Keras 3 saves for this layer, weightless ones included (Keras writes a `vars` group for each).
  // The default: own variables at "", then each sub-layer under its snake_case class name made unique here
  // ("dense", "dense_1"), as Keras names list entries; layers whose Keras attributes differ override it.
  virtual std::vector<WeightGroup> keras3_weight_groups() const;

  // Keras' layer.losses: the weight regularizers' penalties on the current trainable weights, then the losses
  // added by add_loss() (activity regularizers included) during the last outermost call; sub-layers too.
  Tensors losses() const;
  // Adds a scalar loss for the current call; the next outermost call starts a new list.
  void add_loss(const at::Tensor& loss);
  // Keras' reset_states: forgets what stateful layers carry from one call to the next; the default resets the
  // sub-layers.
  virtual void reset_states();
  // Keras' add_metric: inside call(), reports a value the training and test loops average per epoch under
  // `name` (a tensor adds each of its elements). Like add_loss, the next outermost call starts a new list.
  void add_metric(const at::Tensor& value, const std::string& name);
  // The (name, value) pairs added during the last outermost call, this layer's then its sub-layers'.
  std::vector<std::pair<std::string, at::Tensor>> call_metrics() const;
  // Projects every constrained trainable weight (this layer's and its sub-layers') with its constraint.
  void apply_constraints();

  const regularizers::Spec& activity_regularizer() const { return activity_regularizer_; }
  // Keras' activity_regularizer: its penalty on each output, divided by the batch size, joins losses().
  void set_activity_regularizer(regularizers::Spec regularizer) { activity_regularizer_ = std::move(regularizer); }

  // Applies the base fields of a Keras config (trainable) to a layer built by a from_config().
  void apply_base_config(const nlohmann::json& config);

  // "Dense 'dense_2'", the way error messages name a layer.
  std::string describe() const;

 protected:
  virtual void build(const Shape& input_shape) {}
  // Builds for several inputs; the default accepts exactly one and calls build().
  virtual void build_many(const std::vector<Shape>& input_shapes);

  // A weight as call() uses it: cast to compute_dtype() under a mixed policy (Keras' AutocastVariable), so
  // gradients flow back through the cast to the float32 variable; unchanged otherwise. Layers that keep their
  // math in float32 (BatchNormalization, LayerNormalization) read their weights directly instead.
  at::Tensor autocast(const at::Tensor& weight) const;
  // Keras' `autocast = False`: apply() leaves this layer's inputs as they come (Embedding's indices, a model's
  // inputs, which each of its layers casts for itself).
  void set_autocast(bool autocast) { autocast_ = autocast; }

  at::Tensor add_weight(const std::string& name, const Shape& shape,
                        const initializers::Spec& initializer = "glorot_uniform", bool trainable = true,
                        regularizers::Spec regularizer = {}, constraints::Spec constraint = {});

  // Registers a sub-layer so its weights count as this layer's; returns it typed for the caller to keep.
  template <class L>
    requires std::derived_from<std::decay_t<L>, Layer>
  std::shared_ptr<std::decay_t<L>> track(L&& layer) {
    auto held = std::make_shared<std::decay_t<L>>(std::forward<L>(layer));
    sublayers_.push_back(held);
    return held;
  }
  template <class L>
  std::shared_ptr<L> track(std::shared_ptr<L> layer) {
    sublayers_.push_back(layer);
    return layer;
  }
  void untrack(const std::shared_ptr<Layer>& layer);
  // This layer's own variables (not its sub-layers'), trainable first, as Keras 3 saves them.
  std::vector<Variable> own_variables() const;
  // Appends `layer`'s weight groups with `prefix` prepended to their paths.
  static void nest_weight_groups(std::vector<WeightGroup>& out, const std::string& prefix, const Layer& layer);

  void set_input_spec(InputSpec spec) { input_spec_ = std::move(spec); }
  void set_supports_masking(bool supports) { supports_masking_ = supports; }
  void record_output_shape(Shape shape) { output_shape_ = std::move(shape); }
  // Throws ShapeError unless `inputs` fits the input spec; lets a model check a whole data set up front.
  void check_input(const at::Tensor& inputs) const;

 private:
  // Calls `visit` with each own variable (local name) and then each sub-layer's, with its effective
  // trainability; losses() and apply_constraints() run every step, so they skip building path names.
  using VariableVisitor = std::function<void(const Layer& owner, const Variable& var, bool trainable)>;
  void visit_variables(const VariableVisitor& visit, bool parent_trainable = true) const;
  void collect_call_losses(Tensors& out) const;
  // The inputs cast to compute_dtype() where autocast applies; empty when none needs a cast.
  Tensors autocast_inputs(const Tensors& inputs) const;
  void clear_call_records();
  // The shared_ptr a symbolic call records in its node; a temporary (`moving`) is moved into a new one.
  std::shared_ptr<Layer> owner_for_graph(bool moving);
  friend std::vector<SymbolicTensor> call_symbolic(const std::shared_ptr<Layer>&, const std::vector<SymbolicTensor>&);

  std::string class_name_;
  std::string name_;
  bool trainable_ = true;
  bool built_ = false;
  bool supports_masking_ = false;
  bool autocast_ = true;
  DTypePolicy dtype_policy_;
  std::vector<Shape> build_input_shapes_;
  Shape output_shape_;
  InputSpec input_spec_;
  regularizers::Spec activity_regularizer_;
  std::vector<Variable> variables_;
  std::vector<std::shared_ptr<Layer>> sublayers_;
  Tensors call_losses_;
  std::vector<std::pair<std::string, at::Tensor>> call_metrics_;
  std::vector<std::weak_ptr<const Node>> inbound_nodes_;
};

using LayerRef = Ref<Layer>;

// Moves a layer into a shared_ptr of its own type, for a layer that a functional graph calls more than once.
template <class L>
  requires std::derived_from<std::decay_t<L>, Layer> && (!std::is_lvalue_reference_v<L>)
std::shared_ptr<std::decay_t<L>> share(L&& layer) {
  return std::make_shared<std::decay_t<L>>(std::move(layer));
}

}  // namespace strata
