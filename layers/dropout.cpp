#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/dropout.h>

namespace strata::layers {

Dropout::Dropout(double rate, DropoutOptions options)
    : Layer("Dropout", std::move(options.name)), rate_(rate), seed_(options.seed), generator_(generator_for(options.seed)) {
  if (!(rate_ >= 0.0 && rate_ < 1.0))
    throw ValueError(describe() + ": expected rate in [0, 1), got " + std::to_string(rate_));
}

at::Tensor Dropout::call(const at::Tensor& inputs, bool training) {
  if (!training || rate_ == 0.0) return inputs;
  at::Tensor scaled_keep = at::empty_like(inputs).bernoulli_(1.0 - rate_, generator_).mul_(1.0 / (1.0 - rate_));
  return inputs * scaled_keep;
}

nlohmann::json Dropout::get_config() const {
  nlohmann::json config = Layer::get_config();
  config["rate"] = rate_;
  config["noise_shape"] = nullptr;
  config["seed"] = seed_ ? nlohmann::json(*seed_) : nlohmann::json(nullptr);
  return config;
}

Dropout Dropout::from_config(const nlohmann::json& config) {
  DropoutOptions options{.name = config.value("name", "")};
  if (config.contains("seed") && !config.at("seed").is_null()) options.seed = config.at("seed").get<uint64_t>();
  Dropout layer(config.at("rate").get<double>(), std::move(options));
  layer.apply_base_config(config);
  return layer;
}

}  // namespace strata::layers
