#include <nlohmann/json.hpp>
#include <strata/losses/ctc.h>
#include <strata/losses/focal.h>
#include <strata/losses/hinge.h>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>
#include <strata/losses/segmentation.h>
#include <strata/losses/serialization.h>

namespace strata::losses {
namespace {

ClassRegistry<Loss>& registry() {
  static ClassRegistry<Loss> table(
      "loss", {
                  {"MeanSquaredError", from_config_factory<Loss, MeanSquaredError>()},
                  {"MeanAbsoluteError", from_config_factory<Loss, MeanAbsoluteError>()},
                  {"MeanAbsolutePercentageError", from_config_factory<Loss, MeanAbsolutePercentageError>()},
                  {"MeanSquaredLogarithmicError", from_config_factory<Loss, MeanSquaredLogarithmicError>()},
                  {"Huber", from_config_factory<Loss, Huber>()},
                  {"LogCosh", from_config_factory<Loss, LogCosh>()},
                  {"CosineSimilarity", from_config_factory<Loss, CosineSimilarity>()},
                  {"BinaryCrossentropy", from_config_factory<Loss, BinaryCrossentropy>()},
                  {"CategoricalCrossentropy", from_config_factory<Loss, CategoricalCrossentropy>()},
                  {"SparseCategoricalCrossentropy", from_config_factory<Loss, SparseCategoricalCrossentropy>()},
                  {"KLDivergence", from_config_factory<Loss, KLDivergence>()},
                  {"Poisson", from_config_factory<Loss, Poisson>()},
                  {"Hinge", from_config_factory<Loss, Hinge>()},
                  {"SquaredHinge", from_config_factory<Loss, SquaredHinge>()},
                  {"CategoricalHinge", from_config_factory<Loss, CategoricalHinge>()},
                  {"BinaryFocalCrossentropy", from_config_factory<Loss, BinaryFocalCrossentropy>()},
                  {"CategoricalFocalCrossentropy", from_config_factory<Loss, CategoricalFocalCrossentropy>()},
                  {"Dice", from_config_factory<Loss, Dice>()},
                  {"Tversky", from_config_factory<Loss, Tversky>()},
                  {"CTC", from_config_factory<Loss, CTC>()},
              });
  return table;
}

}  // namespace

nlohmann::json serialize(const Loss& loss, KerasDialect dialect) {
  return write_serialized_class("keras.losses", loss.class_name(), loss.get_config(),
                                registry().is_custom(loss.class_name()), dialect);
}

std::shared_ptr<Loss> deserialize(const nlohmann::json& spec) {
  if (spec.is_string()) return get(spec.get<std::string>());
  return registry().deserialize(spec);
}

void register_loss(const std::string& class_name, LossFactory factory) { registry().add(class_name, std::move(factory)); }

}  // namespace strata::losses
