// losses::serialize / deserialize: every built-in loss class round-trips in both Keras dialects, JSON that
// real Keras wrote (Keras 3.15 and tf.keras 2.15, copied from their output) loads, custom losses register once.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/losses/probabilistic.h>
#include <strata/losses/regression.h>
#include <strata/losses/serialization.h>

#include <catch2/catch.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

const std::vector<std::string> kLossClasses = {
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
    "Huber", "LogCosh", "CosineSimilarity", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
    "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "Dice", "Tversky", "CTC"};

// Targets and predictions each loss accepts: one-hot rows and softmax rows, integer labels for the sparse
// loss, label sequences and per-step probabilities for CTC.
std::pair<at::Tensor, at::Tensor> inputs_for(const std::string& class_name) {
  at::Tensor logits = at::tensor({0.2, 1.1, -0.4, 0.7, -1.2, 0.3, 0.0, 0.5, 1.5}, at::kFloat).reshape({3, 3});
  at::Tensor probabilities = at::softmax(logits, -1);
  if (class_name == "SparseCategoricalCrossentropy") return {at::tensor({1, 0, 2}, at::kLong), probabilities};
  if (class_name == "CTC") {
    at::Tensor steps = at::softmax(at::arange(24, at::kFloat).reshape({2, 4, 3}).sin(), -1);
    return {at::tensor({1, 1, 1, 0}, at::kLong).reshape({2, 2}), steps};
  }
  return {at::eye(3, at::kFloat).index({at::tensor({1, 0, 2}, at::kLong)}), probabilities};
}

}  // namespace

TEST_CASE("every built-in loss round-trips through serialize/deserialize", "[serialization][losses]") {
  for (const auto dialect : {KerasDialect::kKeras3, KerasDialect::kKeras2}) {
    for (const auto& class_name : kLossClasses) {
      INFO(class_name);
      const auto original = losses::get(class_name);
      const nlohmann::json spec = losses::serialize(*original, dialect);
      CHECK(spec.at("class_name") == class_name);
      CHECK(spec.contains("module") == (dialect == KerasDialect::kKeras3));
      if (dialect == KerasDialect::kKeras3) CHECK(spec.at("module") == "keras.losses");
      const auto restored = losses::deserialize(spec);
      CHECK(restored->class_name() == class_name);
      CHECK(restored->get_config() == original->get_config());
      const auto [y_true, y_pred] = inputs_for(class_name);
      CHECK(at::equal((*restored)(y_true, y_pred), (*original)(y_true, y_pred)));
    }
  }
}

TEST_CASE("losses with non-default arguments keep them", "[serialization][losses]") {
  const losses::Huber huber({.delta = 2.5, .reduction = losses::Reduction::kSum, .name = "h"});
  const auto restored = losses::deserialize(losses::serialize(huber));
  CHECK(restored->get_config() == huber.get_config());
  CHECK(restored->get_config().at("delta") == 2.5);
  CHECK(restored->reduction() == losses::Reduction::kSum);
  const losses::BinaryCrossentropy bce({.from_logits = true, .label_smoothing = 0.1});
  CHECK(losses::deserialize(losses::serialize(bce, KerasDialect::kKeras2))->get_config() == bce.get_config());
}

TEST_CASE("losses that real Keras serialized load", "[serialization][losses]") {
  // keras.losses.serialize(keras.losses.MeanSquaredError()) in Keras 3.15.
  const auto mse = losses::deserialize(nlohmann::json::parse(
      R"({"module": "keras.losses", "class_name": "MeanSquaredError",
          "config": {"name": "mean_squared_error", "reduction": "sum_over_batch_size"}, "registered_name": null})"));
  CHECK(mse->class_name() == "MeanSquaredError");
  CHECK(mse->name() == "mean_squared_error");
  // tf.keras 2.15's training_config entry for Huber(delta=2.0): "auto" reduction and the "fn" key.
  const auto huber = losses::deserialize(nlohmann::json::parse(
      R"({"class_name": "Huber", "config": {"reduction": "auto", "name": "huber_loss", "delta": 2.0, "fn": "huber"}})"));
  CHECK(huber->class_name() == "Huber");
  CHECK(huber->get_config().at("delta") == 2.0);
  CHECK(huber->reduction() == losses::Reduction::kSumOverBatchSize);
  // A name, as compile(loss="mse") is saved.
  CHECK(losses::deserialize("sparse_categorical_crossentropy")->class_name() == "SparseCategoricalCrossentropy");
}

TEST_CASE("unknown loss classes and malformed specs fail clearly", "[serialization][losses]") {
  CHECK_THROWS_WITH(losses::deserialize(nlohmann::json::parse(R"({"class_name": "NoSuchLoss", "config": {}})")),
                    Contains("unknown loss class 'NoSuchLoss'") && Contains("MeanSquaredError"));
  CHECK_THROWS_AS(losses::deserialize(nlohmann::json::parse(R"({"config": {}})")), ValueError);
  CHECK_THROWS_WITH(
      losses::deserialize(nlohmann::json::parse(R"({"class_name": "Huber", "config": {"delta": "big"}})")),
      Contains("bad loss config for Huber"));
}

namespace {

// A user loss: |y_true - y_pred| * scale per entry, averaged over the last axis.
class ScaledAbsolute : public losses::Loss {
 public:
  explicit ScaledAbsolute(double scale = 1.0, std::string name = "scaled_absolute")
      : Loss("ScaledAbsolute", std::move(name), losses::Reduction::kSumOverBatchSize), scale_(scale) {}
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override {
    return ((y_true - y_pred).abs() * scale_).mean(-1);
  }
  nlohmann::json get_config() const override {
    nlohmann::json config = Loss::get_config();
    config["scale"] = scale_;
    return config;
  }
  static ScaledAbsolute from_config(const nlohmann::json& config) {
    return ScaledAbsolute(config.at("scale").get<double>(), config.at("name").get<std::string>());
  }

 private:
  double scale_;
};

}  // namespace

TEST_CASE("a registered custom loss round-trips in Keras 3's custom form", "[serialization][losses]") {
  losses::register_loss<ScaledAbsolute>("ScaledAbsolute");
  const ScaledAbsolute loss(3.0, "mine");
  const nlohmann::json spec = losses::serialize(loss);
  // What Keras 3.15 writes for a @register_keras_serializable() loss.
  CHECK(spec.at("module").is_null());
  CHECK(spec.at("registered_name") == "Custom>ScaledAbsolute");
  const auto restored = losses::deserialize(spec);
  CHECK(restored->get_config() == loss.get_config());
  const auto [y_true, y_pred] = inputs_for("MeanSquaredError");
  CHECK(at::equal((*restored)(y_true, y_pred), loss(y_true, y_pred)));
}
