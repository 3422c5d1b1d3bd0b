// The activation layers against their formulas, written out here with plain arithmetic.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <strata/layers/registry.h>
#include <strata/strata.h>

using namespace strata;

namespace {
const at::Tensor kInputs = at::tensor({-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 2.0f, 7.0f}).reshape({1, 7});

void check_elementwise(Layer& layer, double (*formula)(double)) {
  const at::Tensor out = layer(kInputs);
  for (int64_t i = 0; i < kInputs.size(1); ++i)
    CHECK(out[0][i].item<double>() == Approx(formula(kInputs[0][i].item<double>())).margin(1e-6));
}
}  // namespace

TEST_CASE("ReLU with max_value, negative_slope and threshold follows Keras' piecewise definition",
          "[layers][activation_layers]") {
  layers::ReLU plain;
  check_elementwise(plain, [](double x) { return x > 0 ? x : 0.0; });
  layers::ReLU capped({.max_value = 6.0});
  check_elementwise(capped, [](double x) { return std::min(std::max(x, 0.0), 6.0); });
  layers::ReLU shaped({.max_value = 5.0, .negative_slope = 0.1, .threshold = 0.5});
  // x >= 5: 5; 0.5 <= x < 5: x; below: 0.1 * (x - 0.5), e.g. -3 -> -0.35.
  check_elementwise(shaped, [](double x) { return x >= 5.0 ? 5.0 : (x >= 0.5 ? x : 0.1 * (x - 0.5)); });
  CHECK_THROWS_AS(layers::ReLU({.max_value = -1.0}), ValueError);
}

TEST_CASE("LeakyReLU, ELU and Softmax match their formulas", "[layers][activation_layers]") {
  layers::LeakyReLU leaky;  // Keras' layer default slope 0.3
  check_elementwise(leaky, [](double x) { return x >= 0 ? x : 0.3 * x; });
  layers::ELU elu(0.5);
  check_elementwise(elu, [](double x) { return x > 0 ? x : 0.5 * (std::exp(x) - 1.0); });

  layers::Softmax softmax;
  const at::Tensor out = softmax(kInputs);
  double total = 0;
  for (int64_t i = 0; i < 7; ++i) total += std::exp(kInputs[0][i].item<double>());
  for (int64_t i = 0; i < 7; ++i)
    CHECK(out[0][i].item<double>() == Approx(std::exp(kInputs[0][i].item<double>()) / total).margin(1e-6));
  layers::Softmax over_rows(0);
  CHECK(over_rows(kInputs).sum().item<double>() == Approx(7.0));  // one row: every entry becomes 1
  layers::Softmax bad_axis(3);
  CHECK_THROWS_AS(bad_axis(kInputs), ShapeError);
}

TEST_CASE("PReLU learns one slope per element, shared along shared_axes", "[layers][activation_layers]") {
  layers::PReLU prelu({.alpha_initializer = initializers::Constant(0.25)});
  at::Tensor x = at::tensor({-2.0f, 3.0f, -4.0f, -1.0f, 1.0f, 0.0f}).reshape({1, 2, 3});
  at::Tensor out = prelu(x);
  CHECK(prelu.get_weights()[0].sizes() == at::IntArrayRef({2, 3}));
  CHECK(at::allclose(out, at::tensor({-0.5f, 3.0f, -1.0f, -0.25f, 1.0f, 0.0f}).reshape({1, 2, 3})));
  // d out / d alpha = min(x, 0): the gradient of the sum is x where x < 0, else 0.
  prelu.weights()[0].mutable_grad().reset();
  prelu(x).sum().backward();
  CHECK(at::allclose(prelu.weights()[0].grad(), at::tensor({-2.0f, 0.0f, -4.0f, -1.0f, 0.0f, 0.0f}).reshape({2, 3})));

  layers::PReLU shared({.shared_axes = {1}});
  shared(x);
  CHECK(shared.get_weights()[0].sizes() == at::IntArrayRef({1, 3}));
  layers::PReLU bad({.shared_axes = {3}});
  CHECK_THROWS_AS(bad(x), ValueError);
}

TEST_CASE("activation layers round-trip through their Keras configs", "[layers][activation_layers][registry]") {
  layers::ReLU relu({.max_value = 6.0, .negative_slope = 0.1});
  layers::LeakyReLU leaky(0.2);
  layers::PReLU prelu({.shared_axes = {1, 2}});
  layers::ELU elu(0.7);
  layers::Softmax softmax(1);
  for (const Layer* layer : std::initializer_list<const Layer*>{&relu, &leaky, &prelu, &elu, &softmax}) {
    const nlohmann::json spec = layers::serialize(*layer);
    CHECK(layers::serialize(*layers::deserialize(spec)) == spec);
  }
  // tf.keras spelled LeakyReLU's slope `alpha`.
  auto old = layers::deserialize({{"class_name", "LeakyReLU"}, {"config", {{"alpha", 0.1}}}});
  CHECK((*old)(at::full({1, 1}, -10.0)).item<float>() == Approx(-1.0f));
}
