#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/layers/registry.h>
#include <strata/layers/wrappers.h>

#include <nlohmann/json.hpp>

namespace strata::layers {
namespace {

std::string without_prefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

// (a, b, rest...) -> (a * b, rest...) and back.
at::Tensor fold_time(const at::Tensor& x) {
  std::vector<int64_t> shape{x.size(0) * x.size(1)};
  for (int64_t d = 2; d < x.dim(); ++d) shape.push_back(x.size(d));
  return x.reshape(shape);
}

at::Tensor unfold_time(const at::Tensor& y, int64_t batch, int64_t time) {
  std::vector<int64_t> shape{batch, time};
  for (int64_t d = 1; d < y.dim(); ++d) shape.push_back(y.size(d));
  return y.reshape(shape);
}

// The shape one timestep has: (batch, time, rest...) -> (batch, rest...).
Shape step_shape(const Shape& input_shape) {
  Shape shape{input_shape[0]};
  shape.insert(shape.end(), input_shape.begin() + 2, input_shape.end());
  return shape;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Bidirectional

Bidirectional::Bidirectional(std::shared_ptr<Layer> layer, BidirectionalOptions options)
    : Layer("Bidirectional", std::move(options.name)), merge_mode_(std::move(options.merge_mode)) {
  if (merge_mode_ && *merge_mode_ != "concat" && *merge_mode_ != "sum" && *merge_mode_ != "mul" &&
      *merge_mode_ != "ave")
    throw ValueError(describe() +
                     ": expected merge_mode \"concat\", \"sum\", \"mul\", \"ave\" or none, got \"" +
                     *merge_mode_ + "\"");
  auto recurrent = [&](const std::shared_ptr<Layer>& candidate, const char* role) {
    auto rnn = std::dynamic_pointer_cast<RNNBase>(candidate);
    if (!rnn)
      throw ValueError(describe() + ": " + role + " must be a recurrent layer (SimpleRNN, LSTM, GRU), got " +
                       (candidate ? candidate->describe() : std::string("none")));
    return rnn;
  };
  recurrent(layer, "layer");
  // Keras rebuilds both directions from the layer's config rather than sharing the layer itself.
  nlohmann::json spec = serialize(*layer);
  spec["config"]["name"] = "forward_" + without_prefix(layer->name(), "forward_");
  forward_ = track(recurrent(deserialize(spec), "layer"));
  if (options.backward_layer) {
    backward_ = track(recurrent(options.backward_layer.ptr(), "backward_layer"));
    if (backward_->go_backwards() == forward_->go_backwards())
      throw ValueError(describe() +
                       ": the forward and backward layers need different go_backwards values, both are " +
                       (forward_->go_backwards() ? "true" : "false"));
    if (backward_->return_sequences() != forward_->return_sequences() ||
        backward_->return_state() != forward_->return_state() ||
        backward_->stateful() != forward_->stateful())
      throw ValueError(
          describe() +
          ": the forward and backward layers need the same return_sequences, return_state and stateful");
  } else {
    spec = serialize(*layer);
    spec["config"]["go_backwards"] = !forward_->go_backwards();
    spec["config"]["name"] = "backward_" + without_prefix(layer->name(), "backward_");
    backward_ = track(recurrent(deserialize(spec), "layer"));
  }
  // Masked steps must output zeros so the reversed backward sequence lines up with the forward one.
  forward_->set_zero_output_for_mask(forward_->return_sequences());
  backward_->set_zero_output_for_mask(backward_->return_sequences());
  set_supports_masking(true);
}

void Bidirectional::build_many(const std::vector<Shape>& input_shapes) {
  forward_->ensure_built(input_shapes.front());
  backward_->ensure_built(input_shapes.front());
}

at::Tensor Bidirectional::merge(const at::Tensor& forward, const at::Tensor& backward) const {
  const std::string& mode = *merge_mode_;
  if (mode == "concat") return at::cat({forward, backward}, -1);
  if (mode == "sum") return forward + backward;
  if (mode == "mul") return forward * backward;
  return (forward + backward) / 2;
}

Tensors Bidirectional::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  const size_t n = static_cast<size_t>(forward_->num_states());
  Tensors forward_inputs{inputs.front()}, backward_inputs{inputs.front()};
  if (inputs.size() > 1) {
    if (inputs.size() != 1 + 2 * n)
      throw ValueError(describe() + ": expected " + std::to_string(2 * n) +
                       " initial states (forward then backward) after the input, got " +
                       std::to_string(inputs.size() - 1));
    forward_inputs.insert(forward_inputs.end(), inputs.begin() + 1, inputs.begin() + 1 + n);
    backward_inputs.insert(backward_inputs.end(), inputs.begin() + 1 + n, inputs.end());
  }
  auto masks_for = [&](const Tensors& list) {
    Tensors out;
    if (!masks.empty() && masks.front().defined()) {
      out.resize(list.size());
      out.front() = masks.front();
    }
    return out;
  };
  const Tensors forward = forward_->apply(forward_inputs, masks_for(forward_inputs), training);
  const Tensors backward = backward_->apply(backward_inputs, masks_for(backward_inputs), training);
  at::Tensor backward_output = backward.front();
  if (forward_->return_sequences()) backward_output = backward_output.flip(1);
  Tensors outputs = merge_mode_ ? Tensors{merge(forward.front(), backward_output)}
                                : Tensors{forward.front(), backward_output};
  outputs.insert(outputs.end(), forward.begin() + 1, forward.end());
  outputs.insert(outputs.end(), backward.begin() + 1, backward.end());
  return outputs;
}

Tensors Bidirectional::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  const size_t merged = merge_mode_ ? 1 : 2;
  Tensors out(merged + (forward_->return_state() ? 2 * forward_->num_states() : 0));
  if (forward_->return_sequences() && !masks.empty())
    for (size_t i = 0; i < merged; ++i) out[i] = masks.front();
  return out;
}

Shape Bidirectional::compute_output_shape(const Shape& input_shape) const {
  Shape shape = forward_->compute_output_shape(input_shape);
  if (merge_mode_ && *merge_mode_ == "concat") shape.back() *= 2;
  return shape;
}

nlohmann::json Bidirectional::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["layer"] = serialize(*forward_);
  config["merge_mode"] = merge_mode_ ? nlohmann::json(*merge_mode_) : nlohmann::json(nullptr);
  config["backward_layer"] = serialize(*backward_);
  return config;
}

Bidirectional Bidirectional::from_config(const nlohmann::json& config) {
  BidirectionalOptions options{.name = config.value("name", "")};
  if (config.contains("merge_mode"))
    options.merge_mode = config.at("merge_mode").is_null()
                             ? std::nullopt
                             : std::optional(config.at("merge_mode").get<std::string>());
  if (config.contains("backward_layer") && !config.at("backward_layer").is_null())
    options.backward_layer = deserialize(config.at("backward_layer"));
  Bidirectional layer(deserialize(config.at("layer")), std::move(options));
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// TimeDistributed

TimeDistributed::TimeDistributed(std::shared_ptr<Layer> layer, std::string name)
    : Layer("TimeDistributed", std::move(name)) {
  if (!layer) throw ValueError(describe() + ": expected a layer to wrap, got none");
  layer_ = track(std::move(layer));
  set_supports_masking(true);
  set_input_spec({.min_ndim = 3});
}

void TimeDistributed::build(const Shape& input_shape) { layer_->ensure_built(step_shape(input_shape)); }

Tensors TimeDistributed::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  if (inputs.size() != 1)
    throw ValueError(describe() + ": expected 1 input, got " + std::to_string(inputs.size()));
  const at::Tensor& x = inputs.front();
  const int64_t batch = x.size(0), time = x.size(1);
  Tensors step_masks;
  if (!masks.empty() && masks.front().defined()) {
    const at::Tensor& mask = masks.front();
    if (mask.dim() < 2 || mask.size(0) != batch || mask.size(1) != time)
      throw ShapeError(describe() + ": expected a mask starting with (batch, time) = " +
                       format_dims({batch, time}) + ", got " + format_dims(mask.sizes()));
    step_masks.push_back(fold_time(mask));
  }
  Tensors outputs = layer_->apply({fold_time(x)}, step_masks, training);
  for (auto& output : outputs) output = unfold_time(output, batch, time);
  return outputs;
}

Shape TimeDistributed::compute_output_shape(const Shape& input_shape) const {
  const Shape inner = layer_->compute_output_shape(step_shape(input_shape));
  Shape out{input_shape[0], input_shape[1]};
  out.insert(out.end(), inner.begin() + 1, inner.end());
  return out;
}

nlohmann::json TimeDistributed::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["layer"] = serialize(*layer_);
  return config;
}

TimeDistributed TimeDistributed::from_config(const nlohmann::json& config) {
  TimeDistributed layer(deserialize(config.at("layer")), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
