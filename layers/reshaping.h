#pragma once
// Layers that only rearrange values: Flatten and Reshape (the batch dimension is always kept).

#include <strata/layers/layer.h>

namespace strata::layers {

// (batch, d1, d2, ...) -> (batch, d1 * d2 * ...); a rank-1 input becomes (batch, 1).
class Flatten : public Layer {
 public:
  explicit Flatten(std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Flatten from_config(const nlohmann::json& config);
};

// (batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1 and is inferred.
class Reshape : public Layer {
 public:
  explicit Reshape(Shape target_shape, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Reshape from_config(const nlohmann::json& config);

 private:
  // The target shape with its -1 resolved for `values_per_sample`; throws when it cannot fit.
  Shape resolve_target(int64_t values_per_sample, const std::string& input_description) const;

  Shape target_shape_;
};

}  // namespace strata::layers
