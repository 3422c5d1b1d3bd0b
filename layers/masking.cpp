#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/layers/masking.h>

#include <nlohmann/json.hpp>

namespace strata::layers {

Masking::Masking(double mask_value, std::string name)
    : Layer("Masking", std::move(name)), mask_value_(mask_value) {
  set_supports_masking(true);
  set_input_spec({.min_ndim = 2});
}

at::Tensor Masking::keep(const at::Tensor& inputs) const { return inputs.ne(mask_value_).any(-1); }

at::Tensor Masking::call(const at::Tensor& inputs, bool training) {
  return inputs * keep(inputs).unsqueeze(-1).to(inputs.scalar_type());
}

Tensors Masking::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  return {keep(inputs.front())};
}

nlohmann::json Masking::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["mask_value"] = mask_value_;
  return config;
}

Masking Masking::from_config(const nlohmann::json& config) {
  Masking layer(config.value("mask_value", 0.0), config.value("name", ""));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
