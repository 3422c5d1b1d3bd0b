#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/attention.h>
#include <strata/layers/kernel_bias_config.h>
#include <strata/layers/registry.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace strata::layers {
namespace {

using initializers::seed_from;
using initializers::seed_json;

// Keras' score for masked positions, before the softmax.
constexpr double kMaskedScore = -1e9;

// Sets a per-call slot for the duration of one call and clears it afterwards, even when the call throws.
template <class T>
class ScopedCall {
 public:
  ScopedCall(T& slot, T value) : slot_(slot) { slot_ = std::move(value); }
  ~ScopedCall() { slot_ = T{}; }
  ScopedCall(const ScopedCall&) = delete;
  ScopedCall& operator=(const ScopedCall&) = delete;

 private:
  T& slot_;
};

at::Tensor as_bool(const at::Tensor& mask) { return mask.scalar_type() == at::kBool ? mask : mask != 0; }

// Keras' causal mask for T queries and S keys: query i sees keys j <= i.
at::Tensor causal_mask(int64_t t, int64_t s) {
  return at::arange(t, at::kLong).unsqueeze(1) >= at::arange(s, at::kLong).unsqueeze(0);
}

at::Tensor and_masks(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined()) return b;
  return b.defined() ? at::logical_and(a, b) : a;
}

// Inverted dropout on attention weights.
at::Tensor drop(const at::Tensor& x, double rate, at::Generator& generator) {
  return x * at::empty_like(x).bernoulli_(1.0 - rate, generator).div_(1.0 - rate);
}

// Masked scores become -1e9 (Keras 3's `where`; tf.keras adds -1e9, the same in float32), so a row with every
// key masked attends uniformly in any precision.
at::Tensor masked_softmax(const at::Tensor& scores, const at::Tensor& keep) {
  return at::softmax(
      keep.defined() ? at::where(keep, scores, at::scalar_tensor(kMaskedScore, scores.options())) : scores,
      -1);
}

std::string dtype_name(const at::Tensor& t) { return std::string(c10::toString(t.scalar_type())); }

int64_t product(at::IntArrayRef dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

void check_dropout(const std::string& who, double rate) {
  if (!(rate >= 0.0 && rate < 1.0))
    throw ValueError(who + ": expected dropout in [0, 1), got " + std::to_string(rate));
}

void check_input_count(const std::string& who, size_t count) {
  if (count < 2 || count > 3)
    throw ValueError(who + ": expected inputs [query, value] or [query, value, key], got " +
                     std::to_string(count) + " input(s)");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Attention

Attention::Attention(AttentionOptions options) : Attention("Attention", std::move(options)) {}

Attention::Attention(std::string class_name, AttentionOptions options)
    : Layer(std::move(class_name), options.name),
      use_scale_(options.use_scale),
      score_mode_(options.score_mode),
      dropout_(options.dropout),
      seed_(options.seed),
      generator_(generator_for(options.seed)) {
  if (score_mode_ != "dot" && score_mode_ != "concat")
    throw ValueError(describe() + ": expected score_mode \"dot\" or \"concat\", got \"" + score_mode_ + "\"");
  check_dropout(describe(), dropout_);
  set_supports_masking(true);  // the query mask becomes the output's mask
}

void Attention::build_many(const std::vector<Shape>& input_shapes) {
  check_input_count(describe(), input_shapes.size());
  if (use_scale_) scale_ = add_weight("scale", {}, "ones");
  if (score_mode_ == "concat") concat_score_weight_ = add_weight("concat_score_weight", {}, "ones");
}

Tensors Attention::checked_inputs(const Tensors& inputs) const {
  check_input_count(describe(), inputs.size());
  const char* names[] = {"query", "value", "key"};
  const char* layouts[] = {"(batch, Tq, dim)", "(batch, Tv, dim_v)", "(batch, Tv, dim)"};
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dim() != 3)
      throw ShapeError(describe() + ": expected " + names[i] + " of rank 3 " + layouts[i] + ", got shape " +
                       format_dims(inputs[i].sizes()));
    if (!inputs[i].is_floating_point())
      throw ValueError(describe() + ": expected a floating-point " + names[i] + ", got dtype " +
                       dtype_name(inputs[i]));
  }
  // Computed in the query's precision; value and key follow it.
  const auto dtype = inputs[0].scalar_type();
  const at::Tensor query = inputs[0];
  const at::Tensor value = inputs[1].to(dtype);
  const at::Tensor key = inputs.size() > 2 ? inputs[2].to(dtype) : value;
  if (value.size(0) != query.size(0) || key.size(0) != query.size(0))
    throw ShapeError(describe() + ": query, value and key must have the same batch size, got query " +
                     format_dims(query.sizes()) + ", value " + format_dims(value.sizes()) + ", key " +
                     format_dims(key.sizes()));
  if (key.size(1) != value.size(1))
    throw ShapeError(describe() + ": key and value must have the same number of timesteps, got key " +
                     format_dims(key.sizes()) + ", value " + format_dims(value.sizes()));
  if (key.size(2) != query.size(2))
    throw ShapeError(describe() + ": query and key must have the same last dimension, got query " +
                     format_dims(query.sizes()) + ", key " + format_dims(key.sizes()));
  return {query, value, key};
}

at::Tensor Attention::scores(const at::Tensor& query, const at::Tensor& key) const {
  const auto dtype = query.scalar_type();
  if (score_mode_ == "dot") {
    at::Tensor s = at::matmul(query, key.transpose(1, 2));
    return scale_.defined() ? s * scale_.to(dtype) : s;
  }
  at::Tensor sum = query.unsqueeze(-2) + key.unsqueeze(-3);  // (batch, Tq, Tv, dim)
  if (scale_.defined()) sum = sum * scale_.to(dtype);
  return concat_score_weight_.to(dtype) * at::tanh(sum).sum(-1);
}

Tensors Attention::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  const Tensors qvk = checked_inputs(inputs);
  const at::Tensor &query = qvk[0], &value = qvk[1], &key = qvk[2];
  const int64_t batch = query.size(0), tq = query.size(1), tv = value.size(1);
  auto checked_mask = [&](size_t i, const char* what, int64_t steps) -> at::Tensor {
    if (masks.size() <= i || !masks[i].defined()) return {};
    if (masks[i].sizes() != at::IntArrayRef({batch, steps}))
      throw ShapeError(describe() + ": expected " + what + " of shape " + format_dims({batch, steps}) +
                       ", got " + format_dims(masks[i].sizes()));
    return as_bool(masks[i]);
  };
  const at::Tensor query_mask = checked_mask(0, "query_mask", tq);
  const at::Tensor value_mask = checked_mask(1, "value_mask", tv);

  at::Tensor keep = value_mask.defined() ? value_mask.unsqueeze(-2) : at::Tensor();  // (batch, 1, Tv)
  if (per_call_.use_causal_mask) keep = and_masks(keep, causal_mask(tq, tv).unsqueeze(0));
  at::Tensor weights = masked_softmax(scores(query, key), keep);
  if (training && dropout_ > 0.0) weights = drop(weights, dropout_, generator_);
  at::Tensor output = at::matmul(weights, value);
  if (query_mask.defined()) output = output * query_mask.unsqueeze(-1).to(output.scalar_type());
  if (per_call_.return_attention_scores) return {output, weights};
  return {output};
}

Tensors Attention::attend(const at::Tensor& query, const at::Tensor& value, const AttentionCall& call) {
  Tensors inputs = {query, value};
  if (call.key.defined()) inputs.push_back(call.key);
  Tensors masks;
  if (call.query_mask.defined() || call.value_mask.defined()) {
    masks = {call.query_mask, call.value_mask};
    masks.resize(inputs.size());
  }
  ScopedCall<PerCall> scope(per_call_, {call.return_attention_scores, call.use_causal_mask});
  return apply(inputs, masks, call.training);
}

Shape Attention::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  check_input_count(describe(), input_shapes.size());
  Shape out = input_shapes[0];
  if (out.empty() || input_shapes[1].empty())
    throw ShapeError(describe() + ": expected query and value of rank 3");
  out.back() = input_shapes[1].back();
  return out;
}

Shape Attention::compute_output_shape(const Shape& input_shape) const {
  throw ValueError(describe() + ": the output shape needs the [query, value] input shapes, got only " +
                   format_shape(input_shape));
}

nlohmann::json Attention::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["use_scale"] = use_scale_;
  config["score_mode"] = score_mode_;
  config["dropout"] = dropout_;
  config["seed"] = seed_json(seed_);
  return config;
}

Attention Attention::from_config(const nlohmann::json& config) {
  Attention layer({.use_scale = config.value("use_scale", false),
                   .score_mode = config.value("score_mode", "dot"),
                   .dropout = config.value("dropout", 0.0),
                   .seed = seed_from(config),
                   .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// AdditiveAttention

AdditiveAttention::AdditiveAttention(AdditiveAttentionOptions options)
    : Attention("AdditiveAttention", {.use_scale = options.use_scale,
                                      .dropout = options.dropout,
                                      .seed = options.seed,
                                      .name = std::move(options.name)}) {}

void AdditiveAttention::build_many(const std::vector<Shape>& input_shapes) {
  check_input_count(describe(), input_shapes.size());
  const int64_t dim = input_shapes[0].back();
  if (dim == kNone)
    throw ShapeError(describe() + ": the query's last dimension must be known, got " +
                     format_shape(input_shapes[0]));
  if (use_scale()) scale_ = add_weight("scale", {dim}, "glorot_uniform");
}

at::Tensor AdditiveAttention::scores(const at::Tensor& query, const at::Tensor& key) const {
  at::Tensor t = at::tanh(query.unsqueeze(-2) + key.unsqueeze(-3));  // (batch, Tq, Tv, dim)
  if (scale_.defined()) t = t * scale_.to(query.scalar_type());
  return t.sum(-1);
}

nlohmann::json AdditiveAttention::get_config() const {
  nlohmann::json config = Attention::get_config();
  config.erase("score_mode");
  return config;
}

AdditiveAttention AdditiveAttention::from_config(const nlohmann::json& config) {
  AdditiveAttention layer({.use_scale = config.value("use_scale", true),
                           .dropout = config.value("dropout", 0.0),
                           .seed = seed_from(config),
                           .name = config.value("name", "")});
  layer.apply_base_config(config);
  return layer;
}

// ---------------------------------------------------------------------------------------------------------------
// MultiHeadAttention

MultiHeadAttention::MultiHeadAttention(int64_t num_heads, int64_t key_dim, MultiHeadAttentionOptions options)
    : Layer("MultiHeadAttention", options.name),
      num_heads_(num_heads),
      key_dim_(key_dim),
      value_dim_(options.value_dim > 0 ? options.value_dim : key_dim),
      options_(std::move(options)),
      generator_(generator_for(options_.seed)) {
  if (num_heads_ <= 0)
    throw ValueError(describe() + ": expected num_heads > 0, got " + std::to_string(num_heads_));
  if (key_dim_ <= 0) throw ValueError(describe() + ": expected key_dim > 0, got " + std::to_string(key_dim_));
  if (options_.value_dim < 0)
    throw ValueError(describe() + ": expected value_dim > 0 (or 0 for key_dim), got " +
                     std::to_string(options_.value_dim));
  for (int64_t d : options_.output_shape)
    if (d <= 0)
      throw ValueError(describe() + ": expected output_shape of positive sizes, got " +
                       format_shape(options_.output_shape));
  check_dropout(describe(), options_.dropout);
  set_supports_masking(true);  // the query mask becomes the output's mask
}

MultiHeadAttention::Projection MultiHeadAttention::add_projection(const std::string& name, Shape kernel_shape,
                                                                  Shape bias_shape) {
  Projection p;
  p.kernel = add_weight(name + "/kernel", kernel_shape, options_.kernel_initializer, true,
                        options_.kernel_regularizer, options_.kernel_constraint);
  if (options_.use_bias)
    p.bias = add_weight(name + "/bias", bias_shape, options_.bias_initializer, true,
                        options_.bias_regularizer, options_.bias_constraint);
  return p;
}

void MultiHeadAttention::build_many(const std::vector<Shape>& input_shapes) {
  check_input_count(describe(), input_shapes.size());
  const Shape& query = input_shapes[0];
  const Shape& value = input_shapes[1];
  const Shape& key = input_shapes.size() > 2 ? input_shapes[2] : value;
  const int64_t rank = static_cast<int64_t>(query.size());
  if (rank < 3 || value.size() != query.size() || key.size() != query.size())
    throw ShapeError(describe() +
                     ": expected query, value and key of the same rank >= 3 (batch, ..., features), got " +
                     format_shape(query) + ", " + format_shape(value) + ", " + format_shape(key));
  if (query.back() == kNone || value.back() == kNone || key.back() == kNone)
    throw ShapeError(describe() + ": the last dimensions of query, value and key must be known");
  if (!options_.attention_axes.empty()) {
    std::vector<int64_t> axes;
    for (int64_t a : options_.attention_axes) axes.push_back(a < 0 ? a + rank : a);
    std::sort(axes.begin(), axes.end());
    std::vector<int64_t> all_middle;
    for (int64_t a = 1; a < rank - 1; ++a) all_middle.push_back(a);
    if (axes != all_middle)
      throw ValueError(describe() +
                       ": only attention over all axes between batch and features is supported (axes 1.." +
                       std::to_string(rank - 2) + " for inputs of rank " + std::to_string(rank) + ")");
  }
  query_dim_ = query.back();
  value_in_dim_ = value.back();
  key_in_dim_ = key.back();
  Shape out = options_.output_shape.empty() ? Shape{query_dim_} : options_.output_shape;
  query_ = add_projection("query", {query_dim_, num_heads_, key_dim_}, {num_heads_, key_dim_});
  key_ = add_projection("key", {key_in_dim_, num_heads_, key_dim_}, {num_heads_, key_dim_});
  value_ = add_projection("value", {value_in_dim_, num_heads_, value_dim_}, {num_heads_, value_dim_});
  Shape out_kernel = {num_heads_, value_dim_};
  out_kernel.insert(out_kernel.end(), out.begin(), out.end());
  output_ = add_projection("attention_output", out_kernel, out);
}

at::Tensor MultiHeadAttention::project(const at::Tensor& x, const Projection& p) const {
  const int64_t depth = p.kernel.size(2);
  const at::Tensor kernel = autocast(p.kernel), bias = autocast(p.bias);
  at::Tensor y = at::matmul(x, kernel.reshape({kernel.size(0), -1}));
  if (bias.defined()) y = y + bias.reshape({-1});
  return y.reshape({x.size(0), x.size(1), num_heads_, depth});
}

void MultiHeadAttention::check_feature_dim(const at::Tensor& x, const char* what, int64_t expected) const {
  if (x.dim() != static_cast<int64_t>(build_input_shape().size()) || x.size(-1) != expected)
    throw ShapeError(describe() + ": expected " + what + " of rank " +
                     std::to_string(build_input_shape().size()) + " with last dimension " +
                     std::to_string(expected) + ", got shape " + format_dims(x.sizes()));
  if (!x.is_floating_point())
    throw ValueError(describe() + ": expected a floating-point " + what + ", got dtype " + dtype_name(x));
}

at::Tensor MultiHeadAttention::attention_mask(const Tensors& masks, int64_t batch, int64_t t,
                                              int64_t s) const {
  auto flat = [&](size_t i, const char* what, int64_t steps) -> at::Tensor {
    if (masks.size() <= i || !masks[i].defined()) return {};
    const at::Tensor& m = masks[i];
    if (m.dim() < 2 || m.size(0) != batch || m.numel() != batch * steps)
      throw ShapeError(describe() + ": expected " + what + " of shape (batch, timesteps...) with " +
                       std::to_string(batch * steps) + " entries, got " + format_dims(m.sizes()));
    return as_bool(m).reshape({batch, steps});
  };
  // Keras' _compute_attention_mask: query mask (B, T, 1) & value mask (B, 1, S) & key mask & causal.
  at::Tensor keep;
  if (at::Tensor q = flat(0, "query_mask", t); q.defined()) keep = q.unsqueeze(-1);
  if (at::Tensor v = flat(1, "value_mask", s); v.defined()) keep = and_masks(keep, v.unsqueeze(-2));
  if (at::Tensor k = flat(2, "key_mask", s); k.defined()) keep = and_masks(keep, k.unsqueeze(-2));
  if (per_call_.use_causal_mask) keep = and_masks(keep, causal_mask(t, s).unsqueeze(0));
  if (const at::Tensor& given = per_call_.attention_mask; given.defined()) {
    if (given.dim() < 3 || given.size(0) != batch || given.numel() != batch * t * s)
      throw ShapeError(describe() + ": expected attention_mask of shape (batch, T..., S...) = " +
                       std::to_string(batch) + " x " + std::to_string(t) + " x " + std::to_string(s) +
                       " entries, got " + format_dims(given.sizes()));
    keep = and_masks(as_bool(given).reshape({batch, t, s}), keep);
  }
  return keep;
}

Tensors MultiHeadAttention::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  check_input_count(describe(), inputs.size());
  const at::Tensor& query_in = inputs[0];
  const at::Tensor& value_in = inputs[1];
  const at::Tensor& key_in = inputs.size() > 2 ? inputs[2] : inputs[1];
  check_feature_dim(query_in, "query", query_dim_);
  check_feature_dim(value_in, "value", value_in_dim_);
  check_feature_dim(key_in, "key", key_in_dim_);
  const int64_t batch = query_in.size(0);
  if (value_in.size(0) != batch || key_in.size(0) != batch ||
      key_in.sizes().slice(1, key_in.dim() - 2) != value_in.sizes().slice(1, value_in.dim() - 2))
    throw ShapeError(describe() +
                     ": query, value and key need the same batch size and key and value the same "
                     "timesteps, got query " +
                     format_dims(query_in.sizes()) + ", value " + format_dims(value_in.sizes()) + ", key " +
                     format_dims(key_in.sizes()));
  const auto query_steps = query_in.sizes().slice(1, query_in.dim() - 2);
  const auto value_steps = value_in.sizes().slice(1, value_in.dim() - 2);
  const int64_t t = product(query_steps), s = product(value_steps);

  // Inputs of higher rank attend over all their middle axes at once, as one flattened sequence.
  const auto dtype = autocast(query_.kernel).scalar_type();
  const at::Tensor q_projected = project(query_in.reshape({batch, t, query_dim_}).to(dtype), query_);
  const at::Tensor q = q_projected / std::sqrt(double(key_dim_));
  const at::Tensor k = project(key_in.reshape({batch, s, key_in_dim_}).to(dtype), key_);
  const at::Tensor v = project(value_in.reshape({batch, s, value_in_dim_}).to(dtype), value_);

  at::Tensor keep = attention_mask(masks, batch, t, s);
  if (keep.defined()) keep = keep.unsqueeze(1);  // one mask for every head
  // (B, H, T, K) · (B, H, K, S): the per-head scores.
  const at::Tensor scores =
      masked_softmax(at::matmul(q.permute({0, 2, 1, 3}), k.permute({0, 2, 3, 1})), keep);
  const at::Tensor weights =
      training && options_.dropout > 0.0 ? drop(scores, options_.dropout, generator_) : scores;
  const at::Tensor context =
      at::matmul(weights, v.permute({0, 2, 1, 3})).permute({0, 2, 1, 3}).reshape({batch, t, -1});

  const Shape out_dims(output_.kernel.sizes().begin() + 2, output_.kernel.sizes().end());
  const at::Tensor output_kernel = autocast(output_.kernel), output_bias = autocast(output_.bias);
  at::Tensor output = at::matmul(context, output_kernel.reshape({num_heads_ * value_dim_, -1}));
  if (output_bias.defined()) output = output + output_bias.reshape({-1});
  Shape output_shape(query_in.sizes().begin(), query_in.sizes().end() - 1);
  output_shape.insert(output_shape.end(), out_dims.begin(), out_dims.end());
  output = output.reshape(output_shape);
  // Keras hands activity_regularizer to the four projections (its EinsumDense sub-layers), not to the
  // layer's own output: one penalty per projection output, divided by the batch size.
  if (const auto& penalty = options_.activity_regularizer)
    for (const at::Tensor& y : {q_projected, k, v, output})
      add_loss((*penalty)(y) / static_cast<double>(batch));
  if (!per_call_.return_attention_scores) return {output};
  Shape scores_shape = {batch, num_heads_};
  scores_shape.insert(scores_shape.end(), query_steps.begin(), query_steps.end());
  scores_shape.insert(scores_shape.end(), value_steps.begin(), value_steps.end());
  return {output, scores.reshape(scores_shape)};
}

Tensors MultiHeadAttention::attend(const at::Tensor& query, const at::Tensor& value,
                                   const MultiHeadAttentionCall& call) {
  Tensors inputs = {query, value};
  // A key mask without a key applies to the value, which then serves as the key.
  if (call.key.defined() || call.key_mask.defined()) inputs.push_back(call.key.defined() ? call.key : value);
  Tensors masks;
  if (call.query_mask.defined() || call.value_mask.defined() || call.key_mask.defined()) {
    masks = {call.query_mask, call.value_mask, call.key_mask};
    masks.resize(inputs.size());
  }
  ScopedCall<PerCall> scope(per_call_,
                            {call.attention_mask, call.return_attention_scores, call.use_causal_mask});
  return apply(inputs, masks, call.training);
}

Shape MultiHeadAttention::compute_output_shape(const Shape& query_shape) const {
  if (options_.output_shape.empty()) return query_shape;
  Shape out(query_shape.begin(), query_shape.end() - 1);
  out.insert(out.end(), options_.output_shape.begin(), options_.output_shape.end());
  return out;
}

nlohmann::json MultiHeadAttention::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["num_heads"] = num_heads_;
  config["key_dim"] = key_dim_;
  config["value_dim"] = value_dim_;
  config["dropout"] = options_.dropout;
  config["use_bias"] = options_.use_bias;
  config["output_shape"] =
      options_.output_shape.empty() ? nlohmann::json(nullptr) : nlohmann::json(options_.output_shape);
  config["attention_axes"] =
      options_.attention_axes.empty() ? nlohmann::json(nullptr) : nlohmann::json(options_.attention_axes);
  write_kernel_bias_config(options_, config);
  config["seed"] = seed_json(options_.seed);
  return config;
}

MultiHeadAttention MultiHeadAttention::from_config(const nlohmann::json& config) {
  // Keras writes an int or a list for output_shape and attention_axes.
  auto int_list = [&](const char* key) -> std::vector<int64_t> {
    if (!config.contains(key) || config.at(key).is_null()) return {};
    if (config.at(key).is_number()) return {config.at(key).get<int64_t>()};
    return config.at(key).get<std::vector<int64_t>>();
  };
  MultiHeadAttentionOptions options{
      .value_dim = config.contains("value_dim") && !config.at("value_dim").is_null()
                       ? config.at("value_dim").get<int64_t>()
                       : 0,
      .dropout = config.value("dropout", 0.0),
      .use_bias = config.value("use_bias", true),
      .output_shape = int_list("output_shape"),
      .attention_axes = int_list("attention_axes"),
      .seed = seed_from(config),
      .name = config.value("name", "")};
  read_kernel_bias_config(config, options);
  MultiHeadAttention layer(config.at("num_heads").get<int64_t>(), config.at("key_dim").get<int64_t>(),
                           std::move(options));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
