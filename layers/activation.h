#pragma once
// Activation: applies an activation function by name or as a function, with no weights.

#include <strata/core/activations.h>
#include <strata/layers/layer.h>

namespace strata::layers {

class Activation : public Layer {
 public:
  explicit Activation(activations::Function activation, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static Activation from_config(const nlohmann::json& config);

 private:
  activations::Function activation_;
};

}  // namespace strata::layers
