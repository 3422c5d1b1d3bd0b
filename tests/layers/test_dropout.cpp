// Regularization layers: Dropout's noise_shape, SpatialDropout1D/2D/3D, GaussianDropout, GaussianNoise,
// AlphaDropout. Statistics over many draws against the distributions (tolerances of several standard
// errors), the channel-wise zeroing pattern, identity at inference, gradients, configs and errors.
// (Dropout's basics are in test_layers.cpp, ActivityRegularization in tests/core/test_regularizers.cpp.)

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/layers/dropout.h>
#include <strata/layers/registry.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

double mean_of(const at::Tensor& t) { return t.to(at::kDouble).mean().item<double>(); }
double variance_of(const at::Tensor& t) { return t.to(at::kDouble).var(/*unbiased=*/false).item<double>(); }

// True when every (sample, channel) slice of `y` (channel axis `channel_axis`) is constant.
bool constant_per_channel(const at::Tensor& y, int64_t channel_axis) {
  const at::Tensor moved = y.movedim(channel_axis, 1).flatten(2);  // (batch, channels, positions)
  return at::equal(moved, moved.select(2, 0).unsqueeze(2).expand_as(moved));
}

// A config round trip through layers::serialize / deserialize.
std::shared_ptr<Layer> round_trip(const Layer& layer) { return layers::deserialize(layers::serialize(layer)); }

}  // namespace

TEST_CASE("Dropout noise_shape shares the keep decision along its size-1 axes", "[regularization]") {
  const double rate = 0.4;
  layers::Dropout dropout(rate, {.noise_shape = {kNone, 1, kNone}, .seed = 3});
  const at::Tensor x = at::ones({50, 6, 40});
  const at::Tensor y = dropout(x, true);
  // Every timestep of a (sample, feature) pair shares one decision: constant along axis 1.
  CHECK(at::equal(y, y.select(1, 0).unsqueeze(1).expand_as(y)));
  const at::Tensor values = std::get<0>(at::_unique(y));
  CHECK(at::allclose(values, at::tensor({0.0f, static_cast<float>(1.0 / (1.0 - rate))})));
  // 2000 decisions: std of the dropped fraction sqrt(0.24 / 2000) = 0.011; 0.055 is 5 sigma.
  CHECK(mean_of(y.select(1, 0) == 0) == Approx(rate).margin(0.055));
  CHECK(at::equal(dropout(x, false), x));

  const nlohmann::json config = dropout.get_config();
  CHECK(config.at("noise_shape") == nlohmann::json::parse("[null, 1, null]"));
  CHECK(config.at("seed") == 3);
  const auto copy = round_trip(dropout);
  CHECK(at::equal((*copy)(x, true), layers::Dropout(rate, {.noise_shape = {kNone, 1, kNone}, .seed = 3})(x, true)));

  layers::Dropout bad(0.5, {.noise_shape = {kNone, 2, kNone}});
  CHECK_THROWS_WITH(bad(x, true), Contains("noise_shape") && Contains("[50, 6, 40]"));
  layers::Dropout wrong_rank(0.5, {.noise_shape = {kNone, 1}});
  CHECK_THROWS_AS(wrong_rank(x, true), ShapeError);
  CHECK_THROWS_AS(layers::Dropout(0.5, {.noise_shape = {0, 1}}), ValueError);
}

TEST_CASE("SpatialDropout1D/2D/3D drop whole channels", "[regularization]") {
  const double rate = 0.3;
  const double scale = 1.0 / (1.0 - rate);
  SECTION("1D, (batch, steps, channels)") {
    layers::SpatialDropout1D layer(rate, {.seed = 1});
    const at::Tensor x = at::ones({100, 7, 20});
    const at::Tensor y = layer(x, true);
    CHECK(constant_per_channel(y, 2));
    // 2000 channel decisions: sigma of the dropped fraction = 0.0102; margin 5 sigma.
    CHECK(mean_of(y.select(1, 0) == 0) == Approx(rate).margin(0.051));
    CHECK(at::allclose(y.masked_select(y != 0), at::full({1}, scale, at::kFloat)));
    CHECK(at::equal(layer(x, false), x));
  }
  SECTION("2D, channels_last and channels_first") {
    layers::SpatialDropout2D last(rate, {.seed = 2});
    const at::Tensor x = at::ones({40, 3, 4, 50});
    const at::Tensor y = last(x, true);
    CHECK(constant_per_channel(y, 3));
    CHECK(mean_of(y.select(1, 0).select(1, 0) == 0) == Approx(rate).margin(0.051));
    CHECK_FALSE(constant_per_channel(y, 1));  // not constant along another axis

    layers::SpatialDropout2D first(rate, {.data_format = "channels_first", .seed = 2});
    const at::Tensor z = first(x, true);
    CHECK(constant_per_channel(z, 1));
    CHECK_FALSE(constant_per_channel(z, 3));
  }
  SECTION("3D, (batch, d1, d2, d3, channels)") {
    layers::SpatialDropout3D layer(rate, {.seed = 3});
    const at::Tensor x = at::rand({40, 2, 3, 2, 50}) + 0.5;  // no zeros, so y != 0 tells the kept channels
    const at::Tensor y = layer(x, true);
    // Each channel is either all zero or all x * scale.
    const at::Tensor keep = (y != 0).to(at::kFloat);
    CHECK(constant_per_channel(keep, 4));
    CHECK(at::allclose(y, x * keep * scale));
    CHECK(at::equal(layer(x, false), x));
  }
  SECTION("gradient: the kept channels pass it scaled, the dropped ones block it") {
    layers::SpatialDropout1D layer(rate, {.seed = 4});
    const at::Tensor x = at::randn({8, 5, 6}, at::kDouble).requires_grad_(true);
    const at::Tensor y = layer(x, true);
    y.sum().backward();
    const at::Tensor keep = (y.detach() != 0).to(at::kDouble) * scale;
    CHECK(at::allclose(x.grad(), keep, 1e-12, 1e-12));
  }
  SECTION("configs, errors") {
    layers::SpatialDropout2D layer(0.25, {.data_format = "channels_first", .seed = 9, .name = "sd"});
    const nlohmann::json config = layer.get_config();
    CHECK(config.at("rate") == 0.25);
    CHECK(config.at("data_format") == "channels_first");
    CHECK(config.at("seed") == 9);
    CHECK(config.at("name") == "sd");
    const auto copy = round_trip(layer);
    CHECK(copy->class_name() == "SpatialDropout2D");
    const at::Tensor x = at::ones({4, 6, 3, 3});
    CHECK(at::equal((*copy)(x, true), layer(x, true)));
    CHECK_FALSE(layers::SpatialDropout1D(0.5).get_config().contains("data_format"));
    CHECK(round_trip(layers::SpatialDropout1D(0.5))->class_name() == "SpatialDropout1D");
    CHECK(round_trip(layers::SpatialDropout3D(0.5))->get_config().at("data_format") == "channels_last");

    CHECK_THROWS_WITH(layers::SpatialDropout1D(1.0), Contains("rate") && Contains("SpatialDropout1D"));
    CHECK_THROWS_AS(layers::SpatialDropout3D(-0.5), ValueError);
    CHECK_THROWS_WITH(layers::SpatialDropout2D(0.5, {.data_format = "NHWC"}), Contains("NHWC"));
    layers::SpatialDropout2D two(0.5);
    CHECK_THROWS_AS(two(at::ones({2, 3, 4}), true), ShapeError);
  }
}

TEST_CASE("GaussianDropout multiplies by N(1, rate / (1 - rate)) noise while training", "[regularization]") {
  const double rate = 0.2;  // noise variance 0.25
  layers::GaussianDropout layer(rate, {.seed = 11});
  const at::Tensor x = at::full({400, 250}, 2.0f);
  const at::Tensor y = layer(x, true);
  // n = 100000: the noise mean has std error 0.5 / sqrt(n) = 0.0016 (0.01 is 6 sigma); the sample
  // variance of normal noise has std error 0.25 * sqrt(2 / n) = 0.0011 (0.007 is 6 sigma).
  const at::Tensor noise = y / x;
  CHECK(mean_of(noise) == Approx(1.0).margin(0.01));
  CHECK(variance_of(noise) == Approx(0.25).margin(0.007));
  CHECK(at::equal(layer(x, false), x));
  CHECK_FALSE(at::equal(layer(x, true), y));  // new noise each step
  layers::GaussianDropout none(0.0);
  CHECK(at::equal(none(x, true), x));

  // The gradient with respect to the input is the noise itself.
  const at::Tensor xd = at::randn({6, 5}, at::kDouble).requires_grad_(true);
  layers::GaussianDropout seeded(0.5, {.seed = 1});
  const at::Tensor out = seeded(xd, true);
  out.sum().backward();
  CHECK(at::allclose(xd.grad(), out.detach() / xd.detach(), 1e-10, 1e-12));

  const nlohmann::json config = layer.get_config();
  CHECK(config.at("rate") == rate);
  CHECK(config.at("seed") == 11);
  layers::GaussianDropout fresh(rate, {.seed = 11});
  CHECK(at::equal((*round_trip(fresh))(x, true), layers::GaussianDropout(rate, {.seed = 11})(x, true)));
  CHECK_THROWS_WITH(layers::GaussianDropout(1.0), Contains("rate") && Contains("GaussianDropout"));
  CHECK_THROWS_AS(layers::GaussianDropout(-0.1), ValueError);
  CHECK_THROWS_WITH(layer(at::ones({2, 2}, at::kLong), true), Contains("floating"));
}

TEST_CASE("GaussianNoise adds N(0, stddev^2) noise while training", "[regularization]") {
  layers::GaussianNoise layer(0.5, {.seed = 12});
  const at::Tensor x = at::full({400, 250}, 3.0f);
  const at::Tensor y = layer(x, true);
  const at::Tensor noise = y - x;
  CHECK(mean_of(noise) == Approx(0.0).margin(0.01));
  CHECK(variance_of(noise) == Approx(0.25).margin(0.007));
  CHECK(at::equal(layer(x, false), x));
  // Additive noise: the gradient is 1 everywhere.
  const at::Tensor xd = at::randn({4, 3}, at::kDouble).requires_grad_(true);
  layer(xd, true).sum().backward();
  CHECK(at::allclose(xd.grad(), at::ones_like(xd)));

  const nlohmann::json config = layer.get_config();
  CHECK(config.at("stddev") == 0.5);
  CHECK(config.at("seed") == 12);
  CHECK(at::equal((*round_trip(layers::GaussianNoise(0.5, {.seed = 4})))(x, true),
                  layers::GaussianNoise(0.5, {.seed = 4})(x, true)));
  CHECK_THROWS_WITH(layers::GaussianNoise(-1.0), Contains("stddev") && Contains("-1"));
}

TEST_CASE("AlphaDropout keeps zero mean and unit variance with SELU's saturation value", "[regularization]") {
  const double rate = 0.2;
  const double alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  const double a = std::pow((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p), -0.5);
  const double b = -a * alpha_p * rate;
  layers::AlphaDropout layer(rate, {.seed = 13});
  const at::Tensor x = at::randn({400, 250}, at::kDouble);
  const at::Tensor y = layer(x, true);
  // Every output is either a * x + b (kept) or a * alpha_p + b (dropped).
  const at::Tensor kept = at::isclose(y, a * x + b, 1e-12, 1e-12);
  const at::Tensor dropped = at::isclose(y, at::full_like(y, a * alpha_p + b), 1e-12, 1e-12);
  CHECK((kept | dropped).all().item<bool>());
  CHECK(mean_of(dropped) == Approx(rate).margin(0.007));  // sigma 0.0013
  // Standard normal inputs keep mean 0 and variance 1 (std errors about 0.003 and 0.005).
  CHECK(mean_of(y) == Approx(0.0).margin(0.02));
  CHECK(variance_of(y) == Approx(1.0).margin(0.03));
  CHECK(at::equal(layer(x, false), x));
  CHECK(at::equal(layers::AlphaDropout(0.0)(x, true), x));

  // Gradient: a on the kept entries, 0 on the dropped ones.
  const at::Tensor xd = at::randn({10, 10}, at::kDouble).requires_grad_(true);
  layers::AlphaDropout seeded(0.5, {.seed = 2});
  const at::Tensor out = seeded(xd, true);
  out.sum().backward();
  const double a5 = std::pow(0.5 * (1.0 + 0.5 * alpha_p * alpha_p), -0.5);
  const double b5 = -a5 * alpha_p * 0.5;
  const at::Tensor kept5 = at::isclose(out.detach(), a5 * xd.detach() + b5, 1e-12, 1e-12).to(at::kDouble);
  CHECK(at::allclose(xd.grad(), kept5 * a5, 1e-12, 1e-12));

  // noise_shape: one decision per (sample, feature), shared over axis 1.
  layers::AlphaDropout shared(rate, {.noise_shape = {kNone, 1, kNone}, .seed = 5});
  const at::Tensor x3 = at::randn({20, 4, 10}, at::kDouble);
  const at::Tensor y3 = shared(x3, true);
  const at::Tensor dropped3 = at::isclose(y3, at::full_like(y3, a * alpha_p + b), 1e-12, 1e-12);
  CHECK(at::equal(dropped3, dropped3.select(1, 0).unsqueeze(1).expand_as(dropped3)));

  const nlohmann::json config = shared.get_config();
  CHECK(config.at("rate") == rate);
  CHECK(config.at("noise_shape") == nlohmann::json::parse("[null, 1, null]"));
  const auto copy = round_trip(layers::AlphaDropout(rate, {.noise_shape = {kNone, 1, kNone}, .seed = 5}));
  CHECK(at::equal((*copy)(x3, true), layers::AlphaDropout(rate, {.noise_shape = {kNone, 1, kNone}, .seed = 5})(x3, true)));
  CHECK_THROWS_WITH(layers::AlphaDropout(1.0), Contains("rate") && Contains("AlphaDropout"));
  CHECK_THROWS_AS(layers::AlphaDropout(-0.01), ValueError);
  CHECK_THROWS_WITH(layers::AlphaDropout(0.5, {.noise_shape = {kNone, 0, 3}}), Contains("noise_shape") && Contains("AlphaDropout"));
}
