#pragma once
// The weight arguments that Dense, the convolutions and MultiHeadAttention share, under the same Keras
// keys: kernel/bias initializers, regularizers and constraints, and the activity regularizer. Used by
// their get_config/from_config (source files only: it needs the full JSON header).

#include <nlohmann/json.hpp>
#include <strata/layers/registry.h>

namespace strata::layers {

template <class Options>
void write_kernel_bias_config(const Options& options, nlohmann::json& config) {
  config["kernel_initializer"] = initializers::serialize(*options.kernel_initializer);
  config["bias_initializer"] = initializers::serialize(*options.bias_initializer);
  config["kernel_regularizer"] = regularizers::serialize(options.kernel_regularizer);
  config["bias_regularizer"] = regularizers::serialize(options.bias_regularizer);
  config["activity_regularizer"] = regularizers::serialize(options.activity_regularizer);
  config["kernel_constraint"] = constraints::serialize(options.kernel_constraint);
  config["bias_constraint"] = constraints::serialize(options.bias_constraint);
}

// Keys absent from `config` keep the option's default.
template <class Options>
void read_kernel_bias_config(const nlohmann::json& config, Options& options) {
  options.kernel_initializer = initializer_from(config, "kernel_initializer", options.kernel_initializer);
  options.bias_initializer = initializer_from(config, "bias_initializer", options.bias_initializer);
  options.kernel_regularizer = regularizer_from(config, "kernel_regularizer");
  options.bias_regularizer = regularizer_from(config, "bias_regularizer");
  options.activity_regularizer = regularizer_from(config, "activity_regularizer");
  options.kernel_constraint = constraint_from(config, "kernel_constraint");
  options.bias_constraint = constraint_from(config, "bias_constraint");
}

}  // namespace strata::layers
