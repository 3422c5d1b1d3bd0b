// Keras-form serialization of the foundation layers: serialize -> deserialize gives a layer with the same
// config and, given the same weights, the same outputs.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <strata/strata.h>
#include <strata/layers/registry.h>

using namespace strata;
using Catch::Matchers::Contains;

TEST_CASE("foundation layers round-trip through layers::serialize and layers::deserialize", "[layers][registry]") {
  layers::Dense dense(3, {.activation = "tanh", .kernel_initializer = initializers::HeNormal(5), .name = "probe"});
  dense(at::ones({2, 4}));
  const nlohmann::json spec = layers::serialize(dense);
  CHECK(spec.at("class_name") == "Dense");
  CHECK(spec.at("config").at("kernel_initializer").at("class_name") == "HeNormal");
  CHECK(spec.at("config").at("kernel_initializer").at("config").at("seed") == 5);

  auto copy = layers::deserialize(spec);
  CHECK(copy->name() == "probe");
  CHECK(layers::serialize(*copy) == spec);
  // Same weights in, same outputs out: tanh(x W + b) is fully described by the config plus the weights.
  const at::Tensor x = at::randn({5, 4});
  (*copy)(x);
  copy->set_weights(dense.get_weights());
  CHECK(at::allclose((*copy)(x), dense(x)));

  layers::Dropout dropout(0.3, {.seed = 9, .name = "drop"});
  layers::Reshape reshape({2, -1});
  layers::Activation softmax("softmax");
  layers::Flatten flatten;
  for (const Layer* layer : std::initializer_list<const Layer*>{&dropout, &reshape, &softmax, &flatten}) {
    const nlohmann::json original = layers::serialize(*layer);
    CHECK(layers::serialize(*layers::deserialize(original)) == original);
  }
  auto input = layers::deserialize({{"class_name", "InputLayer"},
                                    {"config", {{"batch_input_shape", {nullptr, 28, 28}}, {"name", "pixels"}}}});
  CHECK(std::dynamic_pointer_cast<layers::InputLayer>(input)->batch_shape() == Shape{kNone, 28, 28});
}

TEST_CASE("a frozen layer stays frozen after a round trip", "[layers][registry]") {
  layers::Dense dense(2);
  dense.set_trainable(false);
  auto copy = layers::deserialize(layers::serialize(dense));
  (*copy)(at::ones({1, 3}));
  CHECK_FALSE(copy->trainable());
  CHECK(copy->trainable_weights().empty());
  CHECK(copy->non_trainable_weights().size() == 2);
}

TEST_CASE("unknown layer classes and malformed specs are rejected with the reason", "[layers][registry][errors]") {
  CHECK_THROWS_WITH(layers::deserialize({{"class_name", "Dance"}, {"config", nlohmann::json::object()}}),
                    Contains("Dance") && Contains("Dense"));
  CHECK_THROWS_AS(layers::deserialize({{"config", nlohmann::json::object()}}), ValueError);
  CHECK_THROWS_WITH(layers::deserialize({{"class_name", "Dense"}, {"config", {{"units", "many"}}}}),
                    Contains("Dense") && Contains("bad config"));
}

TEST_CASE("custom layers can be registered for deserialize", "[layers][registry]") {
  layers::register_layer("Doubler", [](const nlohmann::json& config) {
    return std::make_shared<layers::Activation>(
        activations::Function("doubler", [](const at::Tensor& x) { return x * 2.0; }), config.value("name", ""));
  });
  auto layer = layers::deserialize({{"class_name", "Doubler"}, {"config", {{"name", "twice"}}}});
  CHECK(layer->name() == "twice");
  CHECK((*layer)(at::full({1, 1}, 3.0)).item<float>() == 6.0f);
}
