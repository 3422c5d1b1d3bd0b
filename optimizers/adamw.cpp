#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/adamw.h>

namespace strata::optimizers {

namespace {

AdamOptions adam_options(const AdamWOptions& options) {
  if (!options.weight_decay)
    throw ValueError("AdamW '" + options.name + "': weight_decay must be a number, got none");
  AdamOptions adam{.beta_1 = options.beta_1, .beta_2 = options.beta_2, .epsilon = options.epsilon,
                   .amsgrad = options.amsgrad};
  set_common_options(adam, common_options(options));
  return adam;
}

}  // namespace

AdamW::AdamW(AdamWOptions options) : Adam("AdamW", adam_options(options)) {}

AdamW AdamW::from_config(const nlohmann::json& config) {
  AdamWOptions options;
  options.beta_1 = config.value("beta_1", options.beta_1);
  options.beta_2 = config.value("beta_2", options.beta_2);
  options.epsilon = config.value("epsilon", options.epsilon);
  options.amsgrad = config.value("amsgrad", options.amsgrad);
  read_common_options(config, options);
  return AdamW(std::move(options));
}

}  // namespace strata::optimizers
