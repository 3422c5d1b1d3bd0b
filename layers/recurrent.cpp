#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/recurrent.h>
#include <strata/layers/registry.h>

#include <nlohmann/json.hpp>

namespace strata::layers {
namespace {

using initializers::seed_from;
using initializers::seed_json;

template <class Options>
RecurrentSettings settings_of(int64_t units, const Options& o) {
  RecurrentSettings s{.units = units,
                      .activation = o.activation,
                      .use_bias = o.use_bias,
                      .kernel_initializer = o.kernel_initializer,
                      .recurrent_initializer = o.recurrent_initializer,
                      .bias_initializer = o.bias_initializer,
                      .kernel_regularizer = o.kernel_regularizer,
                      .recurrent_regularizer = o.recurrent_regularizer,
                      .bias_regularizer = o.bias_regularizer,
                      .activity_regularizer = o.activity_regularizer,
                      .kernel_constraint = o.kernel_constraint,
                      .recurrent_constraint = o.recurrent_constraint,
                      .bias_constraint = o.bias_constraint,
                      .dropout = o.dropout,
                      .recurrent_dropout = o.recurrent_dropout,
                      .seed = o.seed,
                      .return_sequences = o.return_sequences,
                      .return_state = o.return_state,
                      .go_backwards = o.go_backwards,
                      .stateful = o.stateful,
                      .unroll = o.unroll};
  if constexpr (requires { o.recurrent_activation; }) s.recurrent_activation = o.recurrent_activation;
  return s;
}

template <class Options>
Options options_of(const RecurrentSettings& s, std::string name) {
  Options o;
  o.activation = s.activation;
  if constexpr (requires { o.recurrent_activation; }) o.recurrent_activation = s.recurrent_activation;
  o.use_bias = s.use_bias;
  o.kernel_initializer = s.kernel_initializer;
  o.recurrent_initializer = s.recurrent_initializer;
  o.bias_initializer = s.bias_initializer;
  o.kernel_regularizer = s.kernel_regularizer;
  o.recurrent_regularizer = s.recurrent_regularizer;
  o.bias_regularizer = s.bias_regularizer;
  o.activity_regularizer = s.activity_regularizer;
  o.kernel_constraint = s.kernel_constraint;
  o.recurrent_constraint = s.recurrent_constraint;
  o.bias_constraint = s.bias_constraint;
  o.dropout = s.dropout;
  o.recurrent_dropout = s.recurrent_dropout;
  o.seed = s.seed;
  o.return_sequences = s.return_sequences;
  o.return_state = s.return_state;
  o.go_backwards = s.go_backwards;
  o.stateful = s.stateful;
  o.unroll = s.unroll;
  o.name = std::move(name);
  return o;
}

// The bias initializer with the forget gate's quarter set to ones (Keras' unit_forget_bias).
class ForgetBiasOnes : public initializers::Initializer {
 public:
  ForgetBiasOnes(initializers::Spec base, int64_t units) : base_(std::move(base)), units_(units) {}
  at::Tensor operator()(const Shape& shape, at::ScalarType dtype) const override {
    return at::cat({(*base_)({units_}, dtype), at::ones({units_}, at::TensorOptions().dtype(dtype)),
                    (*base_)({2 * units_}, dtype)});
  }
  std::string class_name() const override { return base_->class_name(); }

 private:
  initializers::Spec base_;
  int64_t units_;
};

// PyTorch's GRU gates are r, z, n; Keras' are z, r, h. Swaps the first two blocks along `axis`.
at::Tensor swap_first_gates(const at::Tensor& w, int64_t units, int64_t axis) {
  return at::cat({w.narrow(axis, units, units), w.narrow(axis, 0, units), w.narrow(axis, 2 * units, units)},
                 axis);
}

// ATen's kernels take (out, in) matrices and separate input and recurrent biases.
std::vector<at::Tensor> torch_params(const at::Tensor& kernel, const at::Tensor& recurrent_kernel,
                                     const at::Tensor& input_bias, const at::Tensor& recurrent_bias) {
  std::vector<at::Tensor> params{kernel.t(), recurrent_kernel.t()};
  if (input_bias.defined()) params.insert(params.end(), {input_bias, recurrent_bias});
  return params;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// RNNBase

RNNBase::RNNBase(std::string class_name, RecurrentSettings settings, std::string name, int64_t gates,
                 int64_t num_states)
    : Layer(std::move(class_name), std::move(name)),
      settings_(std::move(settings)),
      gates_(gates),
      num_states_(num_states),
      generator_(generator_for(settings_.seed)) {
  set_activity_regularizer(settings_.activity_regularizer);
  if (settings_.units <= 0)
    throw ValueError(describe() + ": expected units > 0, got " + std::to_string(settings_.units));
  for (auto [key, rate] :
       {std::pair{"dropout", settings_.dropout}, {"recurrent_dropout", settings_.recurrent_dropout}})
    if (!(rate >= 0.0 && rate < 1.0))
      throw ValueError(describe() + ": expected " + key + " in [0, 1), got " + std::to_string(rate));
}

void RNNBase::check_sequence(const at::Tensor& inputs) const {
  if (inputs.dim() != 3)
    throw ShapeError(describe() + ": expected input of rank 3 (batch, timesteps, features), got shape " +
                     format_dims(inputs.sizes()));
  if (kernel_.defined() && inputs.size(2) != kernel_.size(0))
    throw ShapeError(describe() + ": expected input with last dimension " + std::to_string(kernel_.size(0)) +
                     ", got shape " + format_dims(inputs.sizes()));
  if (inputs.size(1) == 0)
    throw ShapeError(describe() + ": expected at least one timestep, got shape " +
                     format_dims(inputs.sizes()));
  if (!inputs.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point input, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
}

void RNNBase::build_many(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.front();
  if (shape.size() != 3)
    throw ShapeError(describe() + ": expected input of rank 3 (batch, timesteps, features), got shape " +
                     format_shape(shape));
  if (shape[2] == kNone)
    throw ShapeError(describe() + ": the last dimension of the input must be known, got " +
                     format_shape(shape));
  const int64_t units = settings_.units;
  kernel_ = add_weight("kernel", {shape[2], gates_ * units}, settings_.kernel_initializer, true,
                       settings_.kernel_regularizer, settings_.kernel_constraint);
  recurrent_kernel_ = add_weight("recurrent_kernel", {units, gates_ * units}, settings_.recurrent_initializer,
                                 true, settings_.recurrent_regularizer, settings_.recurrent_constraint);
  if (settings_.use_bias)
    bias_ = add_weight("bias", bias_shape(), bias_initializer(), true, settings_.bias_regularizer,
                       settings_.bias_constraint);
}

Tensors RNNBase::initial_states(const Tensors& inputs, const at::Tensor& sequence) const {
  const int64_t batch = sequence.size(0);
  const auto expected = std::vector<int64_t>{batch, settings_.units};
  if (inputs.size() > 1) {
    if (static_cast<int64_t>(inputs.size()) - 1 != num_states_)
      throw ValueError(describe() + ": expected " + std::to_string(num_states_) +
                       " initial state(s) after the input, got " + std::to_string(inputs.size() - 1));
    Tensors states;
    for (size_t i = 1; i < inputs.size(); ++i) {
      if (inputs[i].sizes() != at::IntArrayRef(expected))
        throw ShapeError(describe() + ": initial state " + std::to_string(i - 1) + " expected shape " +
                         format_dims(expected) + ", got " + format_dims(inputs[i].sizes()));
      states.push_back(inputs[i].to(sequence.scalar_type()));
    }
    return states;
  }
  if (settings_.stateful && !states_.empty()) {
    if (states_.front().size(0) != batch)
      throw ShapeError(describe() + ": stateful layer holds states for batch size " +
                       std::to_string(states_.front().size(0)) + ", got a batch of " + std::to_string(batch) +
                       "; call reset_states() first");
    return states_;
  }
  return Tensors(num_states_, at::zeros(expected, sequence.options()));
}

at::Tensor RNNBase::checked_mask(const Tensors& masks, const at::Tensor& sequence) const {
  if (masks.empty() || !masks.front().defined()) return {};
  const at::Tensor& mask = masks.front();
  if (mask.dim() != 2 || mask.size(0) != sequence.size(0) || mask.size(1) != sequence.size(1))
    throw ShapeError(describe() + ": expected a mask of shape " +
                     format_dims({sequence.size(0), sequence.size(1)}) + " (batch, timesteps), got " +
                     format_dims(mask.sizes()));
  return mask.to(at::kBool);
}

// One mask per call, shared by every timestep, scaled so the expected value is unchanged (Keras' RNN
// dropout).
at::Tensor RNNBase::dropout_mask(int64_t batch, int64_t size, double rate, const at::Tensor& like) {
  return at::empty({batch, size}, like.options()).bernoulli_(1.0 - rate, generator_).div_(1.0 - rate);
}

Tensors RNNBase::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  const at::Tensor& raw = inputs.front();
  check_sequence(raw);
  const at::ScalarType dtype = compute_kernel().scalar_type();
  at::Tensor sequence = raw.scalar_type() == dtype ? raw : raw.to(dtype);
  Tensors states = initial_states(inputs, sequence);
  at::Tensor mask = checked_mask(masks, sequence);
  const int64_t batch = sequence.size(0);
  if (training && settings_.dropout > 0)
    sequence = sequence * dropout_mask(batch, sequence.size(2), settings_.dropout, sequence).unsqueeze(1);
  at::Tensor recurrent_mask;
  if (training && settings_.recurrent_dropout > 0)
    recurrent_mask = dropout_mask(batch, settings_.units, settings_.recurrent_dropout, sequence);
  // go_backwards reads the sequence from the end; the outputs stay in processing order, as in Keras.
  if (settings_.go_backwards) {
    sequence = sequence.flip(1);
    if (mask.defined()) mask = mask.flip(1);
  }
  std::optional<Run> run;
  if (!mask.defined() && !recurrent_mask.defined()) run = fused(sequence, states);
  if (!run) run = loop(sequence, std::move(states), mask, recurrent_mask);
  if (settings_.stateful) {
    states_.clear();
    for (const auto& state : run->states) states_.push_back(state.detach());
  }
  Tensors outputs{settings_.return_sequences ? run->sequence : run->last};
  if (settings_.return_state) outputs.insert(outputs.end(), run->states.begin(), run->states.end());
  return outputs;
}

RNNBase::Run RNNBase::loop(const at::Tensor& sequence, Tensors states, const at::Tensor& mask,
                           const at::Tensor& recurrent_mask) const {
  const at::Tensor projected = project_inputs(sequence);
  const int64_t steps = sequence.size(1);
  Tensors outputs;
  outputs.reserve(steps);
  at::Tensor previous_output = at::zeros_like(states.front());
  for (int64_t t = 0; t < steps; ++t) {
    const at::Tensor recurrent_input =
        recurrent_mask.defined() ? states.front() * recurrent_mask : states.front();
    Tensors next = step(projected.select(1, t), states, recurrent_input);
    at::Tensor output = next.front();
    if (mask.defined()) {
      const at::Tensor keep = mask.select(1, t).unsqueeze(1);
      for (size_t i = 0; i < next.size(); ++i) next[i] = at::where(keep, next[i], states[i]);
      output = at::where(keep, output, zero_output_for_mask_ ? at::zeros_like(output) : previous_output);
      previous_output = output;
    }
    states = std::move(next);
    outputs.push_back(output);
  }
  Run run{.sequence = {}, .last = outputs.back(), .states = std::move(states)};
  if (settings_.return_sequences) run.sequence = at::stack(outputs, 1);
  return run;
}

at::Tensor RNNBase::project_inputs(const at::Tensor& inputs) const {
  const at::Tensor kernel = compute_kernel(), bias = compute_bias();
  return bias.defined() ? at::matmul(inputs, kernel) + bias : at::matmul(inputs, kernel);
}

Tensors RNNBase::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  Tensors out(settings_.return_state ? 1 + num_states_ : 1);
  if (settings_.return_sequences && !masks.empty()) out.front() = masks.front();
  return out;
}

Shape RNNBase::compute_output_shape(const Shape& input_shape) const {
  if (settings_.return_sequences) return {input_shape[0], input_shape[1], settings_.units};
  return {input_shape[0], settings_.units};
}

nlohmann::json RNNBase::get_config() const {
  nlohmann::json config = Layer::get_config();
  const auto& s = settings_;
  config["units"] = s.units;
  config["activation"] = s.activation.name();
  config["use_bias"] = s.use_bias;
  config["kernel_initializer"] = initializers::serialize(*s.kernel_initializer);
  config["recurrent_initializer"] = initializers::serialize(*s.recurrent_initializer);
  config["bias_initializer"] = initializers::serialize(*s.bias_initializer);
  config["kernel_regularizer"] = regularizers::serialize(s.kernel_regularizer);
  config["recurrent_regularizer"] = regularizers::serialize(s.recurrent_regularizer);
  config["bias_regularizer"] = regularizers::serialize(s.bias_regularizer);
  config["activity_regularizer"] = regularizers::serialize(activity_regularizer());
  config["kernel_constraint"] = constraints::serialize(s.kernel_constraint);
  config["recurrent_constraint"] = constraints::serialize(s.recurrent_constraint);
  config["bias_constraint"] = constraints::serialize(s.bias_constraint);
  config["dropout"] = s.dropout;
  config["recurrent_dropout"] = s.recurrent_dropout;
  config["seed"] = seed_json(s.seed);
  config["return_sequences"] = s.return_sequences;
  config["return_state"] = s.return_state;
  config["go_backwards"] = s.go_backwards;
  config["stateful"] = s.stateful;
  config["unroll"] = s.unroll;
  config["zero_output_for_mask"] = zero_output_for_mask_;
  return config;
}

RecurrentSettings RNNBase::settings_from_config(const nlohmann::json& config) {
  RecurrentSettings s;
  s.units = config.at("units").get<int64_t>();
  s.activation = config.value("activation", "tanh");
  s.recurrent_activation = config.value("recurrent_activation", "sigmoid");
  s.use_bias = config.value("use_bias", true);
  s.kernel_initializer = initializer_from(config, "kernel_initializer", s.kernel_initializer);
  s.recurrent_initializer = initializer_from(config, "recurrent_initializer", s.recurrent_initializer);
  s.bias_initializer = initializer_from(config, "bias_initializer", s.bias_initializer);
  s.kernel_regularizer = regularizer_from(config, "kernel_regularizer");
  s.recurrent_regularizer = regularizer_from(config, "recurrent_regularizer");
  s.bias_regularizer = regularizer_from(config, "bias_regularizer");
  s.activity_regularizer = regularizer_from(config, "activity_regularizer");
  s.kernel_constraint = constraint_from(config, "kernel_constraint");
  s.recurrent_constraint = constraint_from(config, "recurrent_constraint");
  s.bias_constraint = constraint_from(config, "bias_constraint");
  s.dropout = config.value("dropout", 0.0);
  s.recurrent_dropout = config.value("recurrent_dropout", 0.0);
  s.seed = seed_from(config);
  s.return_sequences = config.value("return_sequences", false);
  s.return_state = config.value("return_state", false);
  s.go_backwards = config.value("go_backwards", false);
  s.stateful = config.value("stateful", false);
  s.unroll = config.value("unroll", false);
  return s;
}

void RNNBase::finish_from_config(const nlohmann::json& config) {
  zero_output_for_mask_ = config.value("zero_output_for_mask", false);
  apply_base_config(config);
}

// ---------------------------------------------------------------------------------------------------------------
// SimpleRNN

SimpleRNN::SimpleRNN(int64_t units, SimpleRNNOptions options)
    : RNNBase("SimpleRNN", settings_of(units, options), options.name, 1, 1) {}

Tensors SimpleRNN::step(const at::Tensor& projected, const Tensors& states,
                        const at::Tensor& recurrent_input) const {
  return {settings().activation(projected + at::matmul(recurrent_input, compute_recurrent_kernel()))};
}

std::optional<RNNBase::Run> SimpleRNN::fused(const at::Tensor& inputs, const Tensors& states) const {
  const std::string& activation = settings().activation.name();
  if (activation != "tanh" && activation != "relu") return std::nullopt;
  const auto params = torch_params(compute_kernel(), compute_recurrent_kernel(), compute_bias(),
                                   compute_bias().defined() ? at::zeros_like(compute_bias()) : at::Tensor());
  const at::Tensor h0 = states.front().unsqueeze(0);
  auto [sequence, h] = activation == "tanh"
                           ? at::rnn_tanh(inputs, h0, params, compute_bias().defined(), 1, 0.0, false, false, true)
                           : at::rnn_relu(inputs, h0, params, compute_bias().defined(), 1, 0.0, false, false, true);
  return Run{.sequence = sequence, .last = h.squeeze(0), .states = {h.squeeze(0)}};
}

nlohmann::json SimpleRNN::get_config() const { return RNNBase::get_config(); }

SimpleRNN SimpleRNN::from_config(const nlohmann::json& config) {
  const RecurrentSettings s = settings_from_config(config);
  SimpleRNN layer(s.units, options_of<SimpleRNNOptions>(s, config.value("name", "")));
  layer.finish_from_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// LSTM

LSTM::LSTM(int64_t units, LSTMOptions options)
    : RNNBase("LSTM", settings_of(units, options), options.name, 4, 2),
      unit_forget_bias_(options.unit_forget_bias) {}

initializers::Spec LSTM::bias_initializer() const {
  if (!unit_forget_bias_) return settings().bias_initializer;
  return initializers::Spec(std::make_shared<ForgetBiasOnes>(settings().bias_initializer, units()));
}

Tensors LSTM::step(const at::Tensor& projected, const Tensors& states,
                   const at::Tensor& recurrent_input) const {
  const auto& s = settings();
  const auto gates = (projected + at::matmul(recurrent_input, compute_recurrent_kernel())).chunk(4, 1);
  const at::Tensor i = s.recurrent_activation(gates[0]);
  const at::Tensor f = s.recurrent_activation(gates[1]);
  const at::Tensor c = f * states[1] + i * s.activation(gates[2]);
  const at::Tensor o = s.recurrent_activation(gates[3]);
  return {o * s.activation(c), c};
}

std::optional<RNNBase::Run> LSTM::fused(const at::Tensor& inputs, const Tensors& states) const {
  if (settings().activation.name() != "tanh" || settings().recurrent_activation.name() != "sigmoid")
    return std::nullopt;
  // PyTorch's gate order i, f, g, o is Keras' i, f, c, o, so the weights only need transposing.
  const auto params = torch_params(compute_kernel(), compute_recurrent_kernel(), compute_bias(),
                                   compute_bias().defined() ? at::zeros_like(compute_bias()) : at::Tensor());
  auto [sequence, h, c] = at::lstm(inputs, {states[0].unsqueeze(0), states[1].unsqueeze(0)}, params,
                                   compute_bias().defined(), 1, 0.0, false, false, true);
  return Run{.sequence = sequence, .last = h.squeeze(0), .states = {h.squeeze(0), c.squeeze(0)}};
}

nlohmann::json LSTM::get_config() const {
  nlohmann::json config = RNNBase::get_config();
  config["recurrent_activation"] = settings().recurrent_activation.name();
  config["unit_forget_bias"] = unit_forget_bias_;
  return config;
}

LSTM LSTM::from_config(const nlohmann::json& config) {
  const RecurrentSettings s = settings_from_config(config);
  LSTMOptions options = options_of<LSTMOptions>(s, config.value("name", ""));
  options.unit_forget_bias = config.value("unit_forget_bias", true);
  LSTM layer(s.units, std::move(options));
  layer.finish_from_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// GRU

GRU::GRU(int64_t units, GRUOptions options)
    : RNNBase("GRU", settings_of(units, options), options.name, 3, 1), reset_after_(options.reset_after) {}

Shape GRU::bias_shape() const { return reset_after_ ? Shape{2, 3 * units()} : Shape{3 * units()}; }

at::Tensor GRU::project_inputs(const at::Tensor& inputs) const {
  const at::Tensor projected = at::matmul(inputs, compute_kernel());
  if (!compute_bias().defined()) return projected;
  return projected + (reset_after_ ? compute_bias()[0] : compute_bias());
}

Tensors GRU::step(const at::Tensor& projected, const Tensors& states,
                  const at::Tensor& recurrent_input) const {
  const auto& s = settings();
  const int64_t u = units();
  const auto x = projected.chunk(3, 1);
  const at::Tensor& h = states[0];
  at::Tensor z, r, candidate;
  if (reset_after_) {
    at::Tensor recurrent = at::matmul(recurrent_input, compute_recurrent_kernel());
    if (compute_bias().defined()) recurrent = recurrent + compute_bias()[1];
    const auto rec = recurrent.chunk(3, 1);
    z = s.recurrent_activation(x[0] + rec[0]);
    r = s.recurrent_activation(x[1] + rec[1]);
    candidate = s.activation(x[2] + r * rec[2]);
  } else {
    const at::Tensor zr = at::matmul(recurrent_input, compute_recurrent_kernel().narrow(1, 0, 2 * u));
    z = s.recurrent_activation(x[0] + zr.narrow(1, 0, u));
    r = s.recurrent_activation(x[1] + zr.narrow(1, u, u));
    candidate = s.activation(x[2] + at::matmul(r * recurrent_input, compute_recurrent_kernel().narrow(1, 2 * u, u)));
  }
  return {z * h + (1 - z) * candidate};
}

std::optional<RNNBase::Run> GRU::fused(const at::Tensor& inputs, const Tensors& states) const {
  // PyTorch's GRU is the reset_after form with gates r, z, n.
  if (!reset_after_ || settings().activation.name() != "tanh" ||
      settings().recurrent_activation.name() != "sigmoid")
    return std::nullopt;
  const int64_t u = units();
  at::Tensor input_bias, recurrent_bias;
  if (compute_bias().defined()) {
    input_bias = swap_first_gates(compute_bias()[0], u, 0);
    recurrent_bias = swap_first_gates(compute_bias()[1], u, 0);
  }
  const auto params = torch_params(swap_first_gates(compute_kernel(), u, 1),
                                   swap_first_gates(compute_recurrent_kernel(), u, 1), input_bias, recurrent_bias);
  auto [sequence, h] =
      at::gru(inputs, states.front().unsqueeze(0), params, compute_bias().defined(), 1, 0.0, false, false, true);
  return Run{.sequence = sequence, .last = h.squeeze(0), .states = {h.squeeze(0)}};
}

nlohmann::json GRU::get_config() const {
  nlohmann::json config = RNNBase::get_config();
  config["recurrent_activation"] = settings().recurrent_activation.name();
  config["reset_after"] = reset_after_;
  return config;
}

GRU GRU::from_config(const nlohmann::json& config) {
  const RecurrentSettings s = settings_from_config(config);
  GRUOptions options = options_of<GRUOptions>(s, config.value("name", ""));
  options.reset_after = config.value("reset_after", true);
  GRU layer(s.units, std::move(options));
  layer.finish_from_config(config);
  return layer;
}

}  // namespace strata::layers
