#pragma once
// Attention layers: Attention (Luong, dot-product or concat scores), AdditiveAttention (Bahdanau) and
// MultiHeadAttention, with Keras' arguments, weights and masking.
//
// Two ways to call them, both running the same code:
//   - the generic form `layer({query, value})` or `layer({query, value, key})` (or apply() with one mask
//     per input, which is how models pass Keras masks along: [query_mask, value_mask(, key_mask)]);
//   - `attend(query, value, {...})`, a typed form that takes Keras' per-call arguments:
//       auto out = mha.attend(q, v, {.attention_mask = m, .return_attention_scores = true});
//       // out[0]: the output, out[1]: the attention scores
//
// Masks are boolean (any non-zero value counts as true), true = keep. A value mask hides keys; a query
// mask zeroes the rows of Attention's output (in MultiHeadAttention it hides those query rows in the
// attention mask) and is passed on as the output's mask, as in Keras.
// Masked scores become -1e9 before the softmax, as in Keras, so a row whose keys are all masked attends
// uniformly.
//
// Attention and AdditiveAttention compute in the query's floating dtype (their scale weights follow it);
// MultiHeadAttention casts its inputs to its kernels' dtype, as Dense does.

#include <ATen/core/Generator.h>
#include <strata/core/constraints.h>
#include <strata/core/initializers.h>
#include <strata/core/regularizers.h>
#include <strata/layers/layer.h>

namespace strata::layers {

// Keras' call arguments of Attention and AdditiveAttention beyond [query, value].
struct AttentionCall {
  at::Tensor key = {};                   // (batch, Tv, dim); the value when undefined
  at::Tensor query_mask = {};            // (batch, Tq)
  at::Tensor value_mask = {};            // (batch, Tv)
  bool return_attention_scores = false;  // then the result is {output, scores (batch, Tq, Tv)}
  bool use_causal_mask = false;          // position i attends only to positions j <= i
  bool training = false;
};

struct AttentionOptions {
  bool use_scale = false;          // a trainable scalar "scale" multiplying the scores
  std::string score_mode = "dot";  // "dot": query · key; "concat": sum(tanh(query + key))
  double dropout = 0.0;            // on the attention weights, while training
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

// Luong-style attention over inputs (batch, Tq, dim) query, (batch, Tv, dim_v) value and (batch, Tv, dim)
// key: softmax(scores(query, key)) · value, output (batch, Tq, dim_v).
class Attention : public Layer {
 public:
  explicit Attention(AttentionOptions options = {});

  // `layer({query, value})` with Keras' per-call arguments; returns {output} or {output, scores}.
  Tensors attend(const at::Tensor& query, const at::Tensor& value, const AttentionCall& call = {});

  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  // (query shape without its last axis) + (value's last dimension,); needs [query, value(, key)] shapes.
  Shape compute_output_shape(const std::vector<Shape>& input_shapes) const;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Attention from_config(const nlohmann::json& config);

  bool use_scale() const { return use_scale_; }
  const std::string& score_mode() const { return score_mode_; }
  double dropout() const { return dropout_; }

 protected:
  Attention(std::string class_name, AttentionOptions options);
  void build_many(const std::vector<Shape>& input_shapes) override;
  // Unnormalised scores (batch, Tq, Tv).
  virtual at::Tensor scores(const at::Tensor& query, const at::Tensor& key) const;
  at::Tensor scale_;                // Attention: () ; AdditiveAttention: (dim,); undefined without use_scale
  at::Tensor concat_score_weight_;  // () with score_mode "concat"

 private:
  struct PerCall {
    bool return_attention_scores = false;
    bool use_causal_mask = false;
  };

  // Checks [query, value(, key)] and returns {query, value, key} in the query's floating dtype.
  Tensors checked_inputs(const Tensors& inputs) const;

  bool use_scale_;
  std::string score_mode_;
  double dropout_;
  initializers::Seed seed_;
  at::Generator generator_;
  PerCall per_call_;  // set by attend() for the duration of one call
};

struct AdditiveAttentionOptions {
  bool use_scale = true;  // a trainable "scale" of shape (dim,), glorot_uniform
  double dropout = 0.0;
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

// Bahdanau-style attention: scores = sum(scale * tanh(query_i + key_j)) over the feature axis.
class AdditiveAttention : public Attention {
 public:
  explicit AdditiveAttention(AdditiveAttentionOptions options = {});

  nlohmann::json get_config() const override;
  static AdditiveAttention from_config(const nlohmann::json& config);

 protected:
  void build_many(const std::vector<Shape>& input_shapes) override;
  at::Tensor scores(const at::Tensor& query, const at::Tensor& key) const override;
};

// Keras' call arguments of MultiHeadAttention beyond query and value.
struct MultiHeadAttentionCall {
  at::Tensor key = {};                   // the value when undefined
  at::Tensor query_mask = {};            // (batch, T)
  at::Tensor value_mask = {};            // (batch, S)
  at::Tensor key_mask = {};              // (batch, S)
  at::Tensor attention_mask = {};        // (batch, T, S), true = attend; combined with the masks above
  bool return_attention_scores = false;  // then the result is {output, scores (batch, heads, T, S)}
  bool use_causal_mask = false;
  bool training = false;
};

struct MultiHeadAttentionOptions {
  int64_t value_dim = 0;  // 0: key_dim (Keras' None)
  double dropout = 0.0;   // on the attention probabilities, while training
  bool use_bias = true;
  Shape output_shape = {};  // empty: the query's last dimension (Keras' None)
  // Empty: attention over every axis between batch and features (Keras' default, and the only choice
  // supported here; naming exactly those axes is accepted too).
  std::vector<int64_t> attention_axes = {};
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec kernel_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};  // on each projection's output, as Keras does
  constraints::Spec kernel_constraint = {};
  constraints::Spec bias_constraint = {};
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

// Multi-head scaled dot-product attention (Vaswani et al.) over query (batch, T, dim), value (batch, S,
// dim_v) and key (batch, S, dim_k); inputs of higher rank attend over all their middle axes at once.
// Weights in Keras' order: query kernel (dim, heads, key_dim) and bias (heads, key_dim), key kernel and
// bias, value kernel (dim_v, heads, value_dim) and bias, output kernel (heads, value_dim, out...) and
// bias (out...).
class MultiHeadAttention : public Layer {
 public:
  MultiHeadAttention(int64_t num_heads, int64_t key_dim, MultiHeadAttentionOptions options = {});

  // `layer({query, value})` with Keras' per-call arguments; returns {output} or {output, scores}.
  Tensors attend(const at::Tensor& query, const at::Tensor& value, const MultiHeadAttentionCall& call = {});

  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  // The query's shape with its last axis replaced by output_shape.
  Shape compute_output_shape(const Shape& query_shape) const override;
  nlohmann::json get_config() const override;
  static MultiHeadAttention from_config(const nlohmann::json& config);
  // Keras' sub-layers: query_dense, key_dense, value_dense, output_dense (and weightless _dropout_layer, _softmax).
  std::vector<WeightGroup> keras3_weight_groups() const override;

  int64_t num_heads() const { return num_heads_; }
  int64_t key_dim() const { return key_dim_; }
  int64_t value_dim() const { return value_dim_; }

 protected:
  void build_many(const std::vector<Shape>& input_shapes) override;

 private:
  struct PerCall {
    at::Tensor attention_mask;
    bool return_attention_scores = false;
    bool use_causal_mask = false;
  };
  struct Projection {
    at::Tensor kernel;
    at::Tensor bias;
  };

  Projection add_projection(const std::string& name, Shape kernel_shape, Shape bias_shape);
  // x (batch, L, dim) through a (dim, heads, depth) projection: (batch, L, heads, depth).
  at::Tensor project(const at::Tensor& x, const Projection& p) const;
  // Keras' _compute_attention_mask on flattened masks: (batch, T, S) bool, or undefined for none.
  at::Tensor attention_mask(const Tensors& masks, int64_t batch, int64_t t, int64_t s) const;
  void check_feature_dim(const at::Tensor& x, const char* what, int64_t expected) const;

  int64_t num_heads_;
  int64_t key_dim_;
  int64_t value_dim_;
  MultiHeadAttentionOptions options_;
  at::Generator generator_;
  Projection query_, key_, value_, output_;
  int64_t query_dim_ = 0, value_in_dim_ = 0, key_in_dim_ = 0;
  PerCall per_call_;  // set by attend() for the duration of one call
};

}  // namespace strata::layers
