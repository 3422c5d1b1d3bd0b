#include <nlohmann/json.hpp>
#include <strata/layers/activation.h>

namespace strata::layers {

Activation::Activation(activations::Function activation, std::string name)
    : Layer("Activation", std::move(name)), activation_(std::move(activation)) {
  set_supports_masking(true);
}

at::Tensor Activation::call(const at::Tensor& inputs, bool training) { return activation_(inputs); }

nlohmann::json Activation::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["activation"] = activation_.name();
  return config;
}

Activation Activation::from_config(const nlohmann::json& config) {
  Activation layer(activations::Function(config.at("activation").get<std::string>()), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
