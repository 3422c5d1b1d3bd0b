#pragma once
// Masking: marks the timesteps whose features all equal `mask_value` as padding. The output is the input
// with those timesteps zeroed, and its Keras mask (batch, timesteps) is false there, so recurrent layers
// skip them and losses and metrics ignore them.

#include <strata/layers/layer.h>

namespace strata::layers {

class Masking : public Layer {
 public:
  explicit Masking(double mask_value = 0.0, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  // any(inputs != mask_value) over the last axis.
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  nlohmann::json get_config() const override;
  static Masking from_config(const nlohmann::json& config);

  double mask_value() const { return mask_value_; }

 private:
  at::Tensor keep(const at::Tensor& inputs) const;

  double mask_value_;
};

}  // namespace strata::layers
