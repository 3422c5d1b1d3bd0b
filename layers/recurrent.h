#pragma once
// Recurrent layers: SimpleRNN, LSTM and GRU, with Keras' arguments, defaults, weight layouts and gate
// orders. Inputs are (batch, timesteps, features); initial states follow the input in the list form
// `lstm({x, h0, c0})`; with return_state the layer returns {output, h} (SimpleRNN, GRU) or {output, h, c}.
//
// A Keras mask (batch, timesteps) is honoured as Keras does: on a masked step the states are carried over
// unchanged and the output repeats the previous output (zeros when zero_output_for_mask, which
// Bidirectional sets for return_sequences). Without a mask and without recurrent dropout the layers run
// ATen's fused sequence kernels (at::lstm, at::gru, at::rnn_tanh/relu), otherwise a per-timestep loop.

#include <ATen/core/Generator.h>
#include <strata/core/activations.h>
#include <strata/core/constraints.h>
#include <strata/core/initializers.h>
#include <strata/core/regularizers.h>
#include <strata/layers/layer.h>

#include <optional>

namespace strata::layers {

struct SimpleRNNOptions {
  activations::Function activation = "tanh";
  bool use_bias = true;
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec recurrent_initializer = "orthogonal";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec kernel_regularizer = {};
  regularizers::Spec recurrent_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec kernel_constraint = {};
  constraints::Spec recurrent_constraint = {};
  constraints::Spec bias_constraint = {};
  double dropout = 0.0;  // fraction of the inputs dropped, one mask per call for every timestep
  // Fraction of the previous output dropped where the recurrent kernel multiplies it (one mask per call,
  // shared by the gates; the state update itself uses the undropped output, as Keras' implementation=1 cells
  // do).
  double recurrent_dropout = 0.0;
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool unroll = false;  // accepted for Keras compatibility: the eager loop computes the same values
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

struct LSTMOptions {
  activations::Function activation = "tanh";
  activations::Function recurrent_activation = "sigmoid";
  bool use_bias = true;
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec recurrent_initializer = "orthogonal";
  initializers::Spec bias_initializer = "zeros";
  bool unit_forget_bias = true;  // the forget gate's bias starts at 1
  regularizers::Spec kernel_regularizer = {};
  regularizers::Spec recurrent_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec kernel_constraint = {};
  constraints::Spec recurrent_constraint = {};
  constraints::Spec bias_constraint = {};
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  initializers::Seed seed = std::nullopt;
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool unroll = false;
  std::string name = "";
};

struct GRUOptions {
  activations::Function activation = "tanh";
  activations::Function recurrent_activation = "sigmoid";
  bool use_bias = true;
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec recurrent_initializer = "orthogonal";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec kernel_regularizer = {};
  regularizers::Spec recurrent_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec kernel_constraint = {};
  constraints::Spec recurrent_constraint = {};
  constraints::Spec bias_constraint = {};
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  initializers::Seed seed = std::nullopt;
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool unroll = false;
  bool reset_after = true;  // the reset gate multiplies the recurrent product (cuDNN's form, two bias rows)
  std::string name = "";
};

// The arguments the three layers share, gathered from their options.
struct RecurrentSettings {
  int64_t units = 0;
  activations::Function activation = "tanh";
  activations::Function recurrent_activation = "sigmoid";
  bool use_bias = true;
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec recurrent_initializer = "orthogonal";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer;
  constraints::Spec kernel_constraint, recurrent_constraint, bias_constraint;
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  initializers::Seed seed = std::nullopt;
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool unroll = false;
};

// What SimpleRNN, LSTM and GRU share (Keras' RNN layer around a cell): argument checks, initial and
// stateful states, dropout masks, the timestep loop with masking, go_backwards and the outputs.
class RNNBase : public Layer {
 public:
  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  // The input mask for return_sequences outputs, none otherwise; states never carry a mask.
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  // Keras keeps the weights on the layer's cell: "cell", named "lstm_cell" etc.
  std::vector<WeightGroup> keras3_weight_groups() const override;

  // A stateful layer starts its next call from zero states again.
  void reset_states() override { states_.clear(); }
  // The states a stateful layer carries into its next call (empty before the first call or after a reset).
  const Tensors& states() const { return states_; }

  int64_t units() const { return settings_.units; }
  int64_t num_states() const { return num_states_; }
  bool return_sequences() const { return settings_.return_sequences; }
  bool return_state() const { return settings_.return_state; }
  bool go_backwards() const { return settings_.go_backwards; }
  bool stateful() const { return settings_.stateful; }
  // Keras' RNN attribute: masked steps output zeros instead of repeating the previous output.
  bool zero_output_for_mask() const { return zero_output_for_mask_; }
  void set_zero_output_for_mask(bool zero) { zero_output_for_mask_ = zero; }

  const at::Tensor& kernel() const { return kernel_; }                      // (features, gates * units)
  const at::Tensor& recurrent_kernel() const { return recurrent_kernel_; }  // (units, gates * units)
  const at::Tensor& bias() const { return bias_; }                          // undefined without use_bias

 protected:
  // The weights as the computation uses them: in the compute dtype under a mixed policy (Layer::autocast).
  at::Tensor compute_kernel() const { return autocast(kernel_); }
  at::Tensor compute_recurrent_kernel() const { return autocast(recurrent_kernel_); }
  at::Tensor compute_bias() const { return autocast(bias_); }

  RNNBase(std::string class_name, RecurrentSettings settings, std::string name, int64_t gates,
          int64_t num_states);

  void build_many(const std::vector<Shape>& input_shapes) override;
  virtual Shape bias_shape() const { return {gates_ * settings_.units}; }
  virtual initializers::Spec bias_initializer() const { return settings_.bias_initializer; }

  // inputs · kernel (+ the input-side bias) for every timestep at once: (batch, time, gates * units).
  virtual at::Tensor project_inputs(const at::Tensor& inputs) const;
  // One timestep: the new states (states[0] is the output) from the projected input, the previous states and
  // the previous output after recurrent dropout (what the recurrent kernel multiplies).
  virtual Tensors step(const at::Tensor& projected, const Tensors& states,
                       const at::Tensor& recurrent_input) const = 0;
  struct Run {
    at::Tensor sequence;  // (batch, time, units), undefined when not needed
    at::Tensor last;      // (batch, units)
    Tensors states;
  };
  // The whole sequence in one ATen kernel, when the layer's activations allow it.
  virtual std::optional<Run> fused(const at::Tensor& inputs, const Tensors& states) const {
    return std::nullopt;
  }

  // Reads the common keys of a recurrent config into `settings` (units, activations, initializers, ...).
  static RecurrentSettings settings_from_config(const nlohmann::json& config);
  void finish_from_config(const nlohmann::json& config);

  const RecurrentSettings& settings() const { return settings_; }

 private:
  void check_sequence(const at::Tensor& inputs) const;
  Tensors initial_states(const Tensors& inputs, const at::Tensor& sequence) const;
  at::Tensor checked_mask(const Tensors& masks, const at::Tensor& sequence) const;
  at::Tensor dropout_mask(int64_t batch, int64_t size, double rate, const at::Tensor& like);
  Run loop(const at::Tensor& sequence, Tensors states, const at::Tensor& mask,
           const at::Tensor& recurrent_mask) const;

  RecurrentSettings settings_;
  int64_t gates_;
  int64_t num_states_;
  bool zero_output_for_mask_ = false;
  at::Generator generator_;
  Tensors states_;
  at::Tensor kernel_;
  at::Tensor recurrent_kernel_;
  at::Tensor bias_;
};

// h_t = activation(x_t · kernel + h_{t-1} · recurrent_kernel + bias).
class SimpleRNN : public RNNBase {
 public:
  explicit SimpleRNN(int64_t units, SimpleRNNOptions options = {});

  nlohmann::json get_config() const override;
  static SimpleRNN from_config(const nlohmann::json& config);

 protected:
  Tensors step(const at::Tensor& projected, const Tensors& states,
               const at::Tensor& recurrent_input) const override;
  std::optional<Run> fused(const at::Tensor& inputs, const Tensors& states) const override;
};

// Gates i, f, c, o in that order along the last axis of kernel (features, 4u), recurrent_kernel (u, 4u) and
// bias (4u): c_t = f * c_{t-1} + i * activation(c~), h_t = o * activation(c_t).
class LSTM : public RNNBase {
 public:
  explicit LSTM(int64_t units, LSTMOptions options = {});

  nlohmann::json get_config() const override;
  static LSTM from_config(const nlohmann::json& config);

 protected:
  initializers::Spec bias_initializer() const override;
  Tensors step(const at::Tensor& projected, const Tensors& states,
               const at::Tensor& recurrent_input) const override;
  std::optional<Run> fused(const at::Tensor& inputs, const Tensors& states) const override;

 private:
  bool unit_forget_bias_;
};

// Gates z (update), r (reset), h (candidate) in that order; h_t = z * h_{t-1} + (1 - z) * h~. With
// reset_after the bias is (2, 3u), input bias then recurrent bias, and h~ = activation(x·W_h + b_h + r *
// (h·U_h + b'_h)); without it the bias is (3u) and h~ = activation(x·W_h + (r * h)·U_h + b_h).
class GRU : public RNNBase {
 public:
  explicit GRU(int64_t units, GRUOptions options = {});

  nlohmann::json get_config() const override;
  static GRU from_config(const nlohmann::json& config);

  bool reset_after() const { return reset_after_; }

 protected:
  Shape bias_shape() const override;
  at::Tensor project_inputs(const at::Tensor& inputs) const override;
  Tensors step(const at::Tensor& projected, const Tensors& states,
               const at::Tensor& recurrent_input) const override;
  std::optional<Run> fused(const at::Tensor& inputs, const Tensors& states) const override;

 private:
  bool reset_after_;
};

}  // namespace strata::layers
