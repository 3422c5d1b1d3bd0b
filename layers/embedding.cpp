#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/layers/embedding.h>
#include <strata/layers/registry.h>

#include <nlohmann/json.hpp>

namespace strata::layers {

Embedding::Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options)
    : Layer("Embedding", options.name),
      input_dim_(input_dim),
      output_dim_(output_dim),
      options_(std::move(options)) {
  if (input_dim_ <= 0 || output_dim_ <= 0)
    throw ValueError(describe() + ": expected input_dim > 0 and output_dim > 0, got input_dim=" +
                     std::to_string(input_dim_) + ", output_dim=" + std::to_string(output_dim_));
  set_activity_regularizer(options_.activity_regularizer);
  set_autocast(false);  // as Keras: float indices cast to bfloat16 would no longer be the same whole numbers
}

void Embedding::build(const Shape& input_shape) {
  embeddings_ = add_weight("embeddings", {input_dim_, output_dim_}, options_.embeddings_initializer, true,
                           options_.embeddings_regularizer, options_.embeddings_constraint);
}

at::Tensor Embedding::indices_of(const at::Tensor& inputs) const {
  if (inputs.is_complex() || inputs.scalar_type() == at::kBool)
    throw ValueError(describe() + ": expected integer indices, got dtype " +
                     std::string(c10::toString(inputs.scalar_type())));
  if (inputs.is_floating_point() && inputs.numel() > 0 && !at::equal(inputs, at::trunc(inputs))) {
    const at::Tensor bad = inputs.masked_select(inputs != at::trunc(inputs));
    throw ValueError(describe() + ": expected whole-number indices, got " +
                     std::to_string(bad[0].item<double>()));
  }
  const at::Tensor indices = inputs.to(at::kLong);
  if (indices.numel() > 0) {
    const at::Tensor out_of_range = (indices < 0).logical_or_(indices >= input_dim_);
    if (out_of_range.any().item<bool>())
      throw ValueError(describe() + ": index " +
                       std::to_string(indices.masked_select(out_of_range)[0].item<int64_t>()) +
                       " is outside [0, " + std::to_string(input_dim_) +
                       ") (input_dim=" + std::to_string(input_dim_) + ")");
  }
  return indices;
}

at::Tensor Embedding::call(const at::Tensor& inputs, bool training) {
  const at::Tensor indices = indices_of(inputs);
  Shape out_shape(indices.sizes().begin(), indices.sizes().end());
  out_shape.push_back(output_dim_);
  // Only the gathered rows are cast to the compute dtype, not the whole table (as tf.keras 2's Embedding).
  return autocast(at::index_select(embeddings_, 0, indices.reshape({-1}))).reshape(out_shape);
}

Tensors Embedding::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  if (!options_.mask_zero) return {};
  return {inputs.front() != 0};
}

Shape Embedding::compute_output_shape(const Shape& input_shape) const {
  Shape out = input_shape;
  out.push_back(output_dim_);
  return out;
}

nlohmann::json Embedding::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["input_dim"] = input_dim_;
  config["output_dim"] = output_dim_;
  config["embeddings_initializer"] = initializers::serialize(*options_.embeddings_initializer);
  config["embeddings_regularizer"] = regularizers::serialize(options_.embeddings_regularizer);
  config["activity_regularizer"] = regularizers::serialize(options_.activity_regularizer);
  config["embeddings_constraint"] = constraints::serialize(options_.embeddings_constraint);
  config["mask_zero"] = options_.mask_zero;
  return config;
}

Embedding Embedding::from_config(const nlohmann::json& config) {
  EmbeddingOptions options{.mask_zero = config.value("mask_zero", false), .name = config.value("name", "")};
  options.embeddings_initializer =
      initializer_from(config, "embeddings_initializer", options.embeddings_initializer);
  options.embeddings_regularizer = regularizer_from(config, "embeddings_regularizer");
  options.activity_regularizer = regularizer_from(config, "activity_regularizer");
  options.embeddings_constraint = constraint_from(config, "embeddings_constraint");
  Embedding layer(config.at("input_dim").get<int64_t>(), config.at("output_dim").get<int64_t>(),
                  std::move(options));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
