// optimizers::serialize / deserialize: every built-in optimizer class (LossScaleOptimizer included) round-trips
// in both Keras dialects, JSON that real Keras wrote loads, custom optimizers register once.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/loss_scale_optimizer.h>
#include <strata/optimizers/schedules.h>
#include <strata/optimizers/serialization.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <cctype>

using namespace strata;
using namespace strata::optimizers;
using Catch::Matchers::Contains;

namespace {

const std::vector<std::string> kClasses = {"SGD",     "Adam",     "AdamW", "RMSprop", "Adamax", "Nadam",
                                           "Adagrad", "Adadelta", "Ftrl",  "Lion",    "Adafactor"};

// The weights after three updates with fixed gradients.
std::vector<at::Tensor> after_three_steps(Optimizer& optimizer) {
  std::vector<at::Tensor> weights = {at::linspace(-1.0, 1.0, 6, at::kFloat).reshape({3, 2}), at::tensor({0.5f})};
  for (int step = 0; step < 3; ++step)
    optimizer.apply({weights[0] * 0.5 - 0.1 * step, weights[1] + 0.2}, weights);
  return weights;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

TEST_CASE("every built-in optimizer round-trips through serialize/deserialize", "[serialization][optimizers]") {
  for (const auto dialect : {KerasDialect::kKeras3, KerasDialect::kKeras2}) {
    for (const auto& class_name : kClasses) {
      INFO(class_name);
      const auto original = optimizers::get(lower(class_name));
      const nlohmann::json spec = serialize(*original, dialect);
      CHECK(spec.at("class_name") == class_name);
      if (dialect == KerasDialect::kKeras3) CHECK(spec.at("module") == "keras.optimizers");
      // tf.keras 2.15's optimizers take no loss_scale_factor or gradient_accumulation_steps.
      if (dialect == KerasDialect::kKeras2) CHECK_FALSE(spec.at("config").contains("gradient_accumulation_steps"));
      const auto restored = deserialize(spec);
      CHECK(restored->class_name() == class_name);
      CHECK(restored->get_config() == original->get_config());
      const auto a = after_three_steps(*original), b = after_three_steps(*restored);
      for (size_t i = 0; i < a.size(); ++i) CHECK(at::equal(a[i], b[i]));
    }
  }
}

TEST_CASE("LossScaleOptimizer and schedules round-trip inside optimizer configs", "[serialization][optimizers]") {
  const LossScaleOptimizer wrapped(
      Adam({.learning_rate = schedules::ExponentialDecay(0.1, 10, 0.9)}),
      {.initial_scale = 1024.0, .dynamic_growth_steps = 5});
  const nlohmann::json spec = serialize(wrapped);
  CHECK(spec.at("config").at("inner_optimizer").at("class_name") == "Adam");
  const auto restored = deserialize(spec);
  REQUIRE(restored->class_name() == "LossScaleOptimizer");
  CHECK(restored->get_config() == wrapped.get_config());
  const auto& lso = dynamic_cast<const LossScaleOptimizer&>(*restored);
  CHECK(lso.dynamic_scale() == 1024.0);
  CHECK(lso.inner_optimizer().learning_rate_spec().is_schedule());
}

TEST_CASE("optimizers that real Keras serialized load", "[serialization][optimizers]") {
  // keras.optimizers.serialize(Adam(ExponentialDecay(0.1, 10, 0.9))) in Keras 3.15: the schedule module-wrapped.
  const auto adam = deserialize(nlohmann::json::parse(R"({"module": "keras.optimizers", "class_name": "Adam",
      "config": {"name": "adam_6", "learning_rate": {"module": "keras.optimizers.schedules",
        "class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 10,
        "decay_rate": 0.9, "staircase": false, "name": "ExponentialDecay"}, "registered_name": null},
      "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false,
      "ema_momentum": 0.99, "ema_overwrite_frequency": null, "loss_scale_factor": null,
      "gradient_accumulation_steps": null, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false},
      "registered_name": null})"));
  CHECK(adam->name() == "adam_6");
  CHECK(adam->learning_rate() == Approx(0.1));
  // tf.keras 2.15's training_config optimizer_config: "Custom>SGD" and its extra keys.
  const auto sgd = deserialize(nlohmann::json::parse(R"({"class_name": "Custom>SGD", "config": {"name": "SGD",
      "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false,
      "ema_momentum": 0.99, "ema_overwrite_frequency": null, "jit_compile": false, "is_legacy_optimizer": false,
      "learning_rate": 0.009999999776482582, "momentum": 0.5, "nesterov": false}})"));
  CHECK(sgd->class_name() == "SGD");
  CHECK(sgd->get_config().at("momentum") == 0.5);
  // Keras 3.15's LossScaleOptimizer(Adam()).
  const auto lso = deserialize(nlohmann::json::parse(R"({"module": "keras.optimizers", "class_name":
      "LossScaleOptimizer", "config": {"name": "loss_scale_optimizer_1", "inner_optimizer": {"module":
      "keras.optimizers", "class_name": "Adam", "config": {"name": "adam_5", "learning_rate": 0.0010000000474974513,
      "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}, "registered_name": null},
      "initial_scale": 32768.0, "dynamic_growth_steps": 2000}, "registered_name": null})"));
  CHECK(dynamic_cast<const LossScaleOptimizer&>(*lso).inner_optimizer().name() == "adam_5");
  CHECK(deserialize("rmsprop")->class_name() == "RMSprop");
}

TEST_CASE("unknown optimizer classes fail with the known ones listed", "[serialization][optimizers]") {
  CHECK_THROWS_WITH(deserialize(nlohmann::json::parse(R"({"class_name": "Sophia", "config": {}})")),
                    Contains("unknown optimizer class 'Sophia'") && Contains("Adam") && Contains("LossScaleOptimizer"));
  CHECK_THROWS_WITH(deserialize(nlohmann::json::parse(R"({"class_name": "LossScaleOptimizer", "config": {}})")),
                    Contains("inner_optimizer"));
}

namespace {

// A user optimizer: plain gradient descent at half the learning rate.
class HalfStep : public Optimizer {
 public:
  explicit HalfStep(double learning_rate = 0.1) : Optimizer("HalfStep", "half_step", learning_rate) {}
  static HalfStep from_config(const nlohmann::json& config) {
    return HalfStep(config.at("learning_rate").get<double>());
  }

 protected:
  void update_step(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables,
                   const std::vector<std::vector<at::Tensor>>&, double learning_rate, int64_t) override {
    for (size_t i = 0; i < variables.size(); ++i) variables[i].sub_(grads[i] * (0.5 * learning_rate));
  }
};

}  // namespace

TEST_CASE("a registered custom optimizer round-trips", "[serialization][optimizers]") {
  register_optimizer<HalfStep>("HalfStep");
  const HalfStep optimizer(0.3);
  const auto restored = deserialize(serialize(optimizer));
  CHECK(restored->class_name() == "HalfStep");
  CHECK(restored->learning_rate() == Approx(0.3));
}
