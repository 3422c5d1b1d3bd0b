#pragma once
// Dense: outputs = activation(inputs · kernel + bias), applied along the last axis of inputs of any rank.

#include <strata/core/activations.h>
#include <strata/core/initializers.h>
#include <strata/layers/layer.h>

namespace strata::layers {

struct DenseOptions {
  activations::Function activation = "linear";
  bool use_bias = true;
  initializers::Spec kernel_initializer = "glorot_uniform";
  initializers::Spec bias_initializer = "zeros";
  regularizers::Spec kernel_regularizer = {};
  regularizers::Spec bias_regularizer = {};
  regularizers::Spec activity_regularizer = {};  // its penalty on the outputs / batch size joins losses()
  constraints::Spec kernel_constraint = {};
  constraints::Spec bias_constraint = {};
  std::string name = "";
};

class Dense : public Layer {
 public:
  explicit Dense(int64_t units, DenseOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Dense from_config(const nlohmann::json& config);

  int64_t units() const { return units_; }
  const at::Tensor& kernel() const { return kernel_; }  // (input_dim, units), Keras' layout
  const at::Tensor& bias() const { return bias_; }      // (units,), undefined without use_bias

 protected:
  void build(const Shape& input_shape) override;

 private:
  int64_t units_;
  DenseOptions options_;
  at::Tensor kernel_;
  at::Tensor bias_;
};

}  // namespace strata::layers
