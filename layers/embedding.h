#pragma once
// Embedding: maps integer indices in [0, input_dim) to rows of a trainable (input_dim, output_dim) table.
// Inputs of any rank give outputs of that shape plus (output_dim,). Floating inputs holding whole numbers
// are cast to integers, as Keras does. With mask_zero, index 0 is padding: compute_mask reports
// inputs != 0 so masks flow on to later layers (so index 0 is then not a real token; size the
// vocabulary as input_dim = tokens + 1, as Keras advises).

#include <strata/core/constraints.h>
#include <strata/core/initializers.h>
#include <strata/core/regularizers.h>
#include <strata/layers/layer.h>

namespace strata::layers {

struct EmbeddingOptions {
  initializers::Spec embeddings_initializer = "uniform";  // Keras: RandomUniform(-0.05, 0.05)
  regularizers::Spec embeddings_regularizer = {};
  regularizers::Spec activity_regularizer = {};
  constraints::Spec embeddings_constraint = {};
  bool mask_zero = false;
  std::string name = "";
};

class Embedding : public Layer {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  // inputs != 0 with mask_zero; no mask otherwise.
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Embedding from_config(const nlohmann::json& config);

  int64_t input_dim() const { return input_dim_; }
  int64_t output_dim() const { return output_dim_; }
  bool mask_zero() const { return options_.mask_zero; }
  const at::Tensor& embeddings() const { return embeddings_; }  // (input_dim, output_dim)

 protected:
  void build(const Shape& input_shape) override;

 private:
  // The inputs as int64 indices, checked to be whole numbers inside [0, input_dim).
  at::Tensor indices_of(const at::Tensor& inputs) const;

  int64_t input_dim_;
  int64_t output_dim_;
  EmbeddingOptions options_;
  at::Tensor embeddings_;
};

}  // namespace strata::layers
