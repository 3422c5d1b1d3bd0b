#include <nlohmann/json.hpp>
#include <strata/optimizers/adadelta.h>
#include <strata/optimizers/adafactor.h>
#include <strata/optimizers/adagrad.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/adamax.h>
#include <strata/optimizers/adamw.h>
#include <strata/optimizers/ftrl.h>
#include <strata/optimizers/lion.h>
#include <strata/optimizers/loss_scale_optimizer.h>
#include <strata/optimizers/nadam.h>
#include <strata/optimizers/rmsprop.h>
#include <strata/optimizers/serialization.h>
#include <strata/optimizers/sgd.h>

namespace strata::optimizers {
namespace {

ClassRegistry<Optimizer>& registry() {
  static ClassRegistry<Optimizer> table(
      "optimizer", {
                       {"SGD", from_config_factory<Optimizer, SGD>()},
                       {"Adam", from_config_factory<Optimizer, Adam>()},
                       {"AdamW", from_config_factory<Optimizer, AdamW>()},
                       {"RMSprop", from_config_factory<Optimizer, RMSprop>()},
                       {"Adamax", from_config_factory<Optimizer, Adamax>()},
                       {"Nadam", from_config_factory<Optimizer, Nadam>()},
                       {"Adagrad", from_config_factory<Optimizer, Adagrad>()},
                       {"Adadelta", from_config_factory<Optimizer, Adadelta>()},
                       {"Ftrl", from_config_factory<Optimizer, Ftrl>()},
                       {"Lion", from_config_factory<Optimizer, Lion>()},
                       {"Adafactor", from_config_factory<Optimizer, Adafactor>()},
                       {"LossScaleOptimizer", from_config_factory<Optimizer, LossScaleOptimizer>()},
                   });
  return table;
}

}  // namespace

nlohmann::json serialize(const Optimizer& optimizer, KerasDialect dialect) {
  nlohmann::json config = optimizer.get_config();
  if (dialect == KerasDialect::kKeras2)
    for (const char* key : {"loss_scale_factor", "gradient_accumulation_steps"})
      if (config.contains(key) && config.at(key).is_null()) config.erase(key);
  return write_serialized_class("keras.optimizers", optimizer.class_name(), config,
                                registry().is_custom(optimizer.class_name()), dialect);
}

std::shared_ptr<Optimizer> deserialize(const nlohmann::json& spec) {
  if (spec.is_string()) return get(spec.get<std::string>());
  return registry().deserialize(spec);
}

void register_optimizer(const std::string& class_name, OptimizerFactory factory) {
  registry().add(class_name, std::move(factory));
}

}  // namespace strata::optimizers
