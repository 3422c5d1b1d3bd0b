#pragma once
// Dropout: while training, zeroes each input with probability `rate` and scales the rest by
// 1 / (1 - rate) so the expected sum is unchanged; at inference it passes inputs through.

#include <ATen/core/Generator.h>
#include <strata/core/initializers.h>
#include <strata/layers/layer.h>

namespace strata::layers {

struct DropoutOptions {
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

class Dropout : public Layer {
 public:
  explicit Dropout(double rate, DropoutOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static Dropout from_config(const nlohmann::json& config);

  double rate() const { return rate_; }

 private:
  double rate_;
  initializers::Seed seed_;
  at::Generator generator_;  // its own stream when seeded, so masks differ step to step yet repeat run to run
};

}  // namespace strata::layers
