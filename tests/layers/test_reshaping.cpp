// Reshaping layers Permute, RepeatVector, ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D: output
// shapes against the shape arithmetic for Keras' int / per-axis / pair forms, values against hand-worked
// cases and element loops (bilinear against tf.image.resize's half-pixel formula written out), gradients
// against central finite differences, config round trips, and argument and shape errors.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/layers/registry.h>
#include <strata/layers/reshaping.h>

#include "../support/tensor_checks.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using test_support::random;
using test_support::sequence;
using test_support::values_of;

void check_values(const at::Tensor& actual, const std::vector<double>& expected, double tol = 1e-12) {
  test_support::check_values(actual, expected, tol);
}

// Central finite differences of sum(layer(x) * weights) against autograd, in float64.
void check_gradient(Layer& layer, const at::Tensor& x0) {
  test_support::check_input_gradient([&](const at::Tensor& x) { return layer(x); }, x0, 1e-6, 1e-6, 1e-6);
}

// Element loops over a (N, D, H, W, C) tensor; lower ranks are viewed with size-1 leading spatial axes.
at::Tensor as_5d(const at::Tensor& t) {
  at::Tensor out = t;
  while (out.dim() < 5) out = out.unsqueeze(1);
  return out;
}

// Zero padding written as a loop: out[p] = x[p - before] where that lies inside x, else 0.
at::Tensor reference_pad(const at::Tensor& x, std::vector<layers::SidePair> pads) {
  const int64_t rank = x.dim() - 2;
  while (pads.size() < 3) pads.insert(pads.begin(), {0, 0});
  const at::Tensor x5 = as_5d(x);
  std::vector<int64_t> out_shape = {x5.size(0)};
  for (int a = 0; a < 3; ++a) out_shape.push_back(x5.size(1 + a) + pads[a].first + pads[a].second);
  out_shape.push_back(x5.size(4));
  at::Tensor out = at::zeros(out_shape, at::kDouble);
  for (int64_t n = 0; n < x5.size(0); ++n)
    for (int64_t i = 0; i < x5.size(1); ++i)
      for (int64_t j = 0; j < x5.size(2); ++j)
        for (int64_t k = 0; k < x5.size(3); ++k)
          for (int64_t c = 0; c < x5.size(4); ++c)
            out[n][i + pads[0].first][j + pads[1].first][k + pads[2].first][c] = x5[n][i][j][k][c];
  std::vector<int64_t> final_shape = {out_shape[0]};
  for (int64_t a = 3 - rank; a < 3; ++a) final_shape.push_back(out_shape[1 + a]);
  final_shape.push_back(out_shape[4]);
  return out.reshape(final_shape);
}

// Nearest up-sampling as a loop: out[p] = x[p / size].
at::Tensor reference_repeat(const at::Tensor& x, std::vector<int64_t> size) {
  const int64_t rank = x.dim() - 2;
  while (size.size() < 3) size.insert(size.begin(), 1);
  const at::Tensor x5 = as_5d(x);
  at::Tensor out =
      at::zeros({x5.size(0), x5.size(1) * size[0], x5.size(2) * size[1], x5.size(3) * size[2], x5.size(4)},
                at::kDouble);
  for (int64_t n = 0; n < out.size(0); ++n)
    for (int64_t i = 0; i < out.size(1); ++i)
      for (int64_t j = 0; j < out.size(2); ++j)
        for (int64_t k = 0; k < out.size(3); ++k)
          for (int64_t c = 0; c < out.size(4); ++c)
            out[n][i][j][k][c] = x5[n][i / size[0]][j / size[1]][k / size[2]][c];
  std::vector<int64_t> final_shape = {out.size(0)};
  for (int64_t a = 3 - rank; a < 3; ++a) final_shape.push_back(out.size(1 + a));
  final_shape.push_back(out.size(4));
  return out.reshape(final_shape);
}

// tf.image.resize bilinear (half_pixel_centers, no antialias) on one axis: the source coordinate of output i
// is (i + 0.5) / scale - 0.5; lower = max(floor, 0), upper = min(ceil, n - 1), weight = coordinate - floor.
struct Tap {
  int64_t lower, upper;
  double lerp;
};
Tap bilinear_tap(int64_t i, int64_t in_size, int64_t scale) {
  const double source = (static_cast<double>(i) + 0.5) / static_cast<double>(scale) - 0.5;
  const double floor = std::floor(source);
  return {std::max<int64_t>(static_cast<int64_t>(floor), 0),
          std::min<int64_t>(static_cast<int64_t>(std::ceil(source)), in_size - 1), source - floor};
}

at::Tensor reference_bilinear(const at::Tensor& x, int64_t sh, int64_t sw) {
  const int64_t H = x.size(1), W = x.size(2);
  at::Tensor out = at::zeros({x.size(0), H * sh, W * sw, x.size(3)}, at::kDouble);
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t i = 0; i < H * sh; ++i)
      for (int64_t j = 0; j < W * sw; ++j)
        for (int64_t c = 0; c < x.size(3); ++c) {
          const Tap r = bilinear_tap(i, H, sh), q = bilinear_tap(j, W, sw);
          auto at_ = [&](int64_t a, int64_t b) { return x[n][a][b][c].item<double>(); };
          const double top = at_(r.lower, q.lower) + (at_(r.lower, q.upper) - at_(r.lower, q.lower)) * q.lerp;
          const double bottom =
              at_(r.upper, q.lower) + (at_(r.upper, q.upper) - at_(r.upper, q.lower)) * q.lerp;
          out[n][i][j][c] = top + (bottom - top) * r.lerp;
        }
  return out;
}

void check_same(const at::Tensor& actual, const at::Tensor& expected) {
  REQUIRE(actual.sizes() == expected.sizes());
  check_values(actual, values_of(expected), 1e-12);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Permute and RepeatVector

TEST_CASE("Permute reorders the non-batch axes by 1-based dims", "[reshaping][permute]") {
  layers::Permute permute({3, 1, 2});
  CHECK(permute.compute_output_shape({kNone, 3, 4, 5}) == Shape{kNone, 5, 3, 4});
  CHECK(layers::Permute({2, 1}).compute_output_shape({kNone, 10, 64}) == Shape{kNone, 64, 10});
  const at::Tensor x = random({2, 3, 4, 5});
  const at::Tensor out = permute(x);
  REQUIRE(shape_of(out) == Shape{2, 5, 3, 4});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t a = 0; a < 5; ++a)
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t c = 0; c < 4; ++c) CHECK(out[n][a][b][c].item<double>() == x[n][b][c][a].item<double>());
}

TEST_CASE("RepeatVector repeats a feature vector n times", "[reshaping][repeat]") {
  layers::RepeatVector repeat(3);
  CHECK(repeat.compute_output_shape({kNone, 4}) == Shape{kNone, 3, 4});
  const at::Tensor x = at::tensor({1.0, 2.0, 3.0, 4.0}, at::kDouble).reshape({2, 2});
  check_values(repeat(x), {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4});
  CHECK(shape_of(repeat(x)) == Shape{2, 3, 2});
}

// ---------------------------------------------------------------------------------------------------------------
// ZeroPadding

TEST_CASE("ZeroPadding shapes for Keras' int, per-axis and pair forms", "[reshaping][padding]") {
  CHECK(layers::ZeroPadding1D().compute_output_shape({kNone, 5, 2}) == Shape{kNone, 7, 2});
  CHECK(layers::ZeroPadding1D({1, 3}).compute_output_shape({kNone, 5, 2}) == Shape{kNone, 9, 2});
  CHECK(layers::ZeroPadding1D(2).compute_output_shape({kNone, kNone, 2}) == Shape{kNone, kNone, 2});
  CHECK(layers::ZeroPadding2D().compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 6, 7, 3});
  CHECK(layers::ZeroPadding2D({1, 2}).compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 6, 9, 3});
  CHECK(layers::ZeroPadding2D({{1, 0}, {2, 3}}).compute_output_shape({kNone, 4, 5, 3}) ==
        Shape{kNone, 5, 10, 3});
  CHECK(layers::ZeroPadding3D().compute_output_shape({kNone, 2, 3, 4, 1}) == Shape{kNone, 4, 5, 6, 1});
  CHECK(layers::ZeroPadding3D({1, 0, 2}).compute_output_shape({kNone, 2, 3, 4, 1}) ==
        Shape{kNone, 4, 3, 8, 1});
  CHECK(layers::ZeroPadding3D({{0, 1}, {2, 0}, {1, 1}}).compute_output_shape({kNone, 2, 3, 4, 1}) ==
        Shape{kNone, 3, 5, 6, 1});
  CHECK(layers::ZeroPadding2D({{1, 0}, {2, 3}}).padding() == std::vector<layers::SidePair>{{1, 0}, {2, 3}});
}

TEST_CASE("ZeroPadding values: hand-worked 1-D and loops for 2-D and 3-D", "[reshaping][padding]") {
  check_values(layers::ZeroPadding1D({1, 2})(sequence({4, 5})), {0, 4, 5, 0, 0});
  const at::Tensor x2 = random({2, 3, 2, 2});
  check_same(layers::ZeroPadding2D({{1, 0}, {2, 3}})(x2), reference_pad(x2, {{1, 0}, {2, 3}}));
  check_same(layers::ZeroPadding2D({2, 1})(x2), reference_pad(x2, {{2, 2}, {1, 1}}));
  const at::Tensor x3 = random({1, 2, 3, 2, 2});
  check_same(layers::ZeroPadding3D({{0, 1}, {2, 0}, {1, 1}})(x3),
             reference_pad(x3, {{0, 1}, {2, 0}, {1, 1}}));
}

// ---------------------------------------------------------------------------------------------------------------
// Cropping

TEST_CASE("Cropping shapes for Keras' defaults, int, per-axis and pair forms", "[reshaping][cropping]") {
  CHECK(layers::Cropping1D().compute_output_shape({kNone, 5, 2}) == Shape{kNone, 3, 2});
  CHECK(layers::Cropping1D({0, 2}).compute_output_shape({kNone, 5, 2}) == Shape{kNone, 3, 2});
  CHECK(layers::Cropping2D().compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 4, 5, 3});
  CHECK(layers::Cropping2D(1).compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 2, 3, 3});
  CHECK(layers::Cropping2D({1, 2}).compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 2, 1, 3});
  CHECK(layers::Cropping2D({{1, 0}, {0, 2}}).compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 3, 3, 3});
  CHECK(layers::Cropping2D({{1, 0}, {0, 2}}).compute_output_shape({kNone, kNone, 5, 3}) ==
        Shape{kNone, kNone, 3, 3});
  CHECK(layers::Cropping3D().compute_output_shape({kNone, 3, 4, 5, 1}) == Shape{kNone, 1, 2, 3, 1});
  CHECK(layers::Cropping3D({{0, 1}, {1, 0}, {2, 2}}).compute_output_shape({kNone, 3, 4, 5, 1}) ==
        Shape{kNone, 2, 3, 1, 1});
}

TEST_CASE("Cropping values: hand-worked 1-D and the inverse of zero padding", "[reshaping][cropping]") {
  check_values(layers::Cropping1D()(sequence({1, 2, 3, 4, 5})), {2, 3, 4});
  check_values(layers::Cropping1D({0, 3})(sequence({1, 2, 3, 4, 5})), {1, 2});
  // Cropping exactly what the loop reference padded gives the original back.
  const at::Tensor x2 = random({2, 3, 2, 2});
  check_same(layers::Cropping2D({{1, 0}, {2, 3}})(reference_pad(x2, {{1, 0}, {2, 3}})), x2);
  const at::Tensor x3 = random({1, 2, 3, 2, 2});
  check_same(layers::Cropping3D({{0, 1}, {2, 0}, {1, 1}})(reference_pad(x3, {{0, 1}, {2, 0}, {1, 1}})), x3);
  // And a hand-worked 2-D case: rows 1..2, columns 0..1 of a 3 x 4 grid numbered 0..11.
  const at::Tensor grid = at::arange(12, at::kDouble).reshape({1, 3, 4, 1});
  check_values(layers::Cropping2D({{1, 0}, {0, 2}})(grid), {4, 5, 8, 9});
}

// ---------------------------------------------------------------------------------------------------------------
// UpSampling

TEST_CASE("UpSampling nearest repeats each position size times", "[reshaping][upsampling]") {
  CHECK(layers::UpSampling1D().compute_output_shape({kNone, 5, 2}) == Shape{kNone, 10, 2});
  CHECK(layers::UpSampling1D(3).compute_output_shape({kNone, kNone, 2}) == Shape{kNone, kNone, 2});
  CHECK(layers::UpSampling2D().compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 8, 10, 3});
  CHECK(layers::UpSampling2D({1, 3}).compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, 4, 15, 3});
  CHECK(layers::UpSampling3D().compute_output_shape({kNone, 1, 2, 3, 1}) == Shape{kNone, 2, 4, 6, 1});
  CHECK(layers::UpSampling3D({2, 1, 3}).compute_output_shape({kNone, 1, 2, 3, 1}) ==
        Shape{kNone, 2, 2, 9, 1});

  check_values(layers::UpSampling1D()(sequence({1, 2})), {1, 1, 2, 2});
  check_values(layers::UpSampling1D(3)(sequence({1, 2})), {1, 1, 1, 2, 2, 2});
  const at::Tensor x2 = random({2, 2, 3, 2});
  check_same(layers::UpSampling2D({2, 3})(x2), reference_repeat(x2, {2, 3}));
  const at::Tensor x3 = random({1, 2, 1, 2, 2});
  check_same(layers::UpSampling3D({2, 3, 1})(x3), reference_repeat(x3, {2, 3, 1}));
}

TEST_CASE("UpSampling2D bilinear matches tf.image.resize's half-pixel bilinear", "[reshaping][upsampling]") {
  // Hand-worked 1 x 2 -> 1 x 4 row [0, 4]: source columns -0.25, 0.25, 0.75, 1.25 -> 0, 1, 3, 4.
  const at::Tensor row = at::tensor({0.0, 4.0}, at::kDouble).reshape({1, 1, 2, 1});
  check_values(layers::UpSampling2D({1, 2}, {.interpolation = "bilinear"})(row), {0, 1, 3, 4});
  const at::Tensor x = random({2, 3, 4, 2});
  check_same(layers::UpSampling2D(2, {.interpolation = "bilinear"})(x), reference_bilinear(x, 2, 2));
  check_same(layers::UpSampling2D({3, 2}, {.interpolation = "bilinear"})(x), reference_bilinear(x, 3, 2));
  const at::Tensor out = layers::UpSampling2D(2, {.interpolation = "bilinear"})(x.to(at::kFloat));
  CHECK(out.scalar_type() == at::kFloat);
  CHECK(out.is_contiguous());
}

// ---------------------------------------------------------------------------------------------------------------
// Gradients

TEST_CASE("reshaping gradients match central finite differences", "[reshaping][gradient]") {
  std::vector<std::pair<std::shared_ptr<Layer>, Shape>> cases = {
      {std::make_shared<layers::Permute>(std::vector<int64_t>{2, 3, 1}), {2, 2, 3, 2}},
      {std::make_shared<layers::RepeatVector>(3), {2, 3}},
      {std::make_shared<layers::ZeroPadding1D>(layers::SidePairs{1, 2}), {2, 3, 2}},
      {std::make_shared<layers::ZeroPadding2D>(layers::SidePairs{{1, 0}, {0, 2}}), {1, 2, 3, 2}},
      {std::make_shared<layers::ZeroPadding3D>(1), {1, 2, 1, 2, 1}},
      {std::make_shared<layers::Cropping1D>(), {2, 4, 2}},
      {std::make_shared<layers::Cropping2D>(layers::SidePairs{{1, 0}, {0, 1}}), {1, 3, 3, 2}},
      {std::make_shared<layers::Cropping3D>(layers::SidePairs{{1, 0}, {0, 1}, {1, 1}}), {1, 2, 2, 3, 1}},
      {std::make_shared<layers::UpSampling1D>(), {2, 3, 2}},
      {std::make_shared<layers::UpSampling2D>(layers::SpatialSizes{2, 3}), {1, 2, 2, 2}},
      {std::make_shared<layers::UpSampling2D>(2, layers::UpSamplingOptions{.interpolation = "bilinear"}),
       {1, 3, 2, 2}},
      {std::make_shared<layers::UpSampling3D>(), {1, 1, 2, 2, 1}},
  };
  for (auto& [layer, shape] : cases) {
    INFO(layer->class_name());
    check_gradient(*layer, random(shape));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Configs

TEST_CASE("reshaping configs hold Keras' keys and round-trip through serialize and deserialize",
          "[reshaping][config]") {
  CHECK(layers::Permute({2, 1}).get_config().at("dims") == nlohmann::json({2, 1}));
  CHECK(layers::RepeatVector(4).get_config().at("n") == 4);
  CHECK(layers::ZeroPadding1D(2).get_config().at("padding") == nlohmann::json({2, 2}));
  const nlohmann::json pad2 = layers::ZeroPadding2D({1, 2}).get_config();
  CHECK(pad2.at("padding") == nlohmann::json::parse("[[1, 1], [2, 2]]"));
  CHECK(pad2.at("data_format") == "channels_last");
  CHECK(layers::Cropping1D().get_config().at("cropping") == nlohmann::json({1, 1}));
  CHECK(layers::Cropping2D().get_config().at("cropping") == nlohmann::json::parse("[[0, 0], [0, 0]]"));
  CHECK(layers::Cropping3D().get_config().at("cropping") ==
        nlohmann::json::parse("[[1, 1], [1, 1], [1, 1]]"));
  CHECK(layers::UpSampling1D(3).get_config().at("size") == 3);
  const nlohmann::json up2 = layers::UpSampling2D(2, {.interpolation = "bilinear"}).get_config();
  CHECK(up2.at("size") == nlohmann::json({2, 2}));
  CHECK(up2.at("interpolation") == "bilinear");
  CHECK(layers::UpSampling3D().get_config().at("size") == nlohmann::json({2, 2, 2}));

  // Keras' int and per-axis forms in a config are read too.
  const auto from_keras = layers::deserialize(nlohmann::json::parse(
      R"({"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [1, 2], "data_format": null}})"));
  CHECK(from_keras->get_config().at("padding") == nlohmann::json::parse("[[1, 1], [2, 2]]"));
  const auto cropping = layers::deserialize(
      nlohmann::json::parse(R"({"class_name": "Cropping2D", "config": {"name": "cr", "cropping": 1}})"));
  CHECK(cropping->get_config().at("cropping") == nlohmann::json::parse("[[1, 1], [1, 1]]"));

  std::vector<std::pair<std::shared_ptr<Layer>, Shape>> cases = {
      {std::make_shared<layers::Permute>(std::vector<int64_t>{2, 3, 1}), {2, 2, 3, 2}},
      {std::make_shared<layers::RepeatVector>(3), {2, 3}},
      {std::make_shared<layers::ZeroPadding1D>(layers::SidePairs{1, 2}), {2, 3, 2}},
      {std::make_shared<layers::ZeroPadding2D>(layers::SidePairs{{1, 0}, {0, 2}}), {1, 2, 3, 2}},
      {std::make_shared<layers::ZeroPadding3D>(layers::SidePairs{1, 0, 2}), {1, 2, 1, 2, 1}},
      {std::make_shared<layers::Cropping1D>(layers::SidePairs{0, 2}), {2, 4, 2}},
      {std::make_shared<layers::Cropping2D>(layers::SidePairs{{1, 0}, {0, 1}}), {1, 3, 3, 2}},
      {std::make_shared<layers::Cropping3D>(layers::SidePairs{{1, 0}, {0, 1}, {1, 1}}), {1, 2, 2, 3, 1}},
      {std::make_shared<layers::UpSampling1D>(3), {2, 3, 2}},
      {std::make_shared<layers::UpSampling2D>(layers::SpatialSizes{2, 3}), {1, 2, 2, 2}},
      {std::make_shared<layers::UpSampling2D>(2, layers::UpSamplingOptions{.interpolation = "bilinear"}),
       {1, 3, 2, 2}},
      {std::make_shared<layers::UpSampling3D>(layers::SpatialSizes{1, 2, 3}), {1, 1, 2, 2, 1}},
  };
  for (auto& [original, shape] : cases) {
    INFO(original->class_name());
    const std::shared_ptr<Layer> copy = layers::deserialize(layers::serialize(*original));
    CHECK(copy->class_name() == original->class_name());
    CHECK(copy->get_config() == original->get_config());
    const at::Tensor x = random(shape);
    CHECK(at::equal((*copy)(x), (*original)(x)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

TEST_CASE("bad reshaping arguments throw a ValueError naming the layer", "[reshaping][errors]") {
  CHECK_THROWS_AS(layers::Permute({1, 1, 2}), ValueError);
  CHECK_THROWS_WITH(layers::Permute({1, 1, 2}, "perm"),
                    Contains("Permute 'perm'") && Contains("permutation of 1..3") && Contains("(1, 1, 2)"));
  CHECK_THROWS_WITH(layers::Permute({0, 1}), Contains("permutation of 1..2"));
  CHECK_THROWS_WITH(layers::Permute({1, 3}), Contains("permutation"));
  CHECK_THROWS_WITH(layers::RepeatVector(0), Contains("RepeatVector '") && Contains("n >= 1"));

  CHECK_THROWS_WITH(layers::ZeroPadding2D({1, 2, 3}), Contains("ZeroPadding2D '") &&
                                                          Contains("2 ints, or 2 (before, after) pairs") &&
                                                          Contains("(1, 2, 3)"));
  CHECK_THROWS_WITH(layers::ZeroPadding1D({1, 2, 3}), Contains("a pair (before, after)"));
  CHECK_THROWS_WITH(layers::ZeroPadding2D({{1, 1}, {1, 1}, {1, 1}}), Contains("ZeroPadding2D"));
  CHECK_THROWS_WITH(layers::ZeroPadding2D(-1), Contains("padding >= 0"));
  CHECK_THROWS_WITH(layers::Cropping3D({{0, 1}, {-1, 0}, {0, 0}}), Contains("cropping >= 0"));
  CHECK_THROWS_WITH(layers::ZeroPadding2D(1, {.data_format = "channels_first"}),
                    Contains("only data_format \"channels_last\"") && Contains("channels_first"));
  CHECK_THROWS_WITH(layers::Cropping2D(0, {.data_format = "channels_first"}), Contains("channels_last"));
  CHECK_THROWS_WITH(layers::UpSampling3D(2, {.data_format = "channels_first"}), Contains("channels_last"));
  CHECK_THROWS_WITH(
      layers::UpSampling2D(2, {.interpolation = "bicubic"}),
      Contains("UpSampling2D '") && Contains("\"nearest\" or \"bilinear\"") && Contains("bicubic"));
  CHECK_THROWS_WITH(layers::UpSampling1D(2, {.interpolation = "bilinear"}),
                    Contains("expected interpolation"));
  CHECK_THROWS_WITH(layers::UpSampling2D({2, 0}), Contains("positive"));
  CHECK_THROWS_WITH(layers::UpSampling3D({2, 2}), Contains("1 or 3"));
}

TEST_CASE("reshaping layers reject cropping larger than the input and wrong ranks", "[reshaping][errors]") {
  CHECK_THROWS_AS(layers::Cropping1D({2, 3})(random({1, 5, 1})), ShapeError);
  CHECK_THROWS_WITH(layers::Cropping2D({{1, 1}, {0, 0}})(random({1, 2, 4, 1})),
                    Contains("Cropping2D '") && Contains("at least one element") && Contains("(1, 2, 4, 1)"));
  CHECK_THROWS_WITH(layers::Cropping3D().compute_output_shape({kNone, 3, 2, 3, 1}), Contains("at least one"));
  // Built on a large input, a later smaller one is still checked.
  layers::Cropping1D crop({1, 1});
  crop(random({1, 5, 1}));
  CHECK_THROWS_AS(crop(random({1, 2, 1})), ShapeError);

  CHECK_THROWS_AS(layers::ZeroPadding2D()(random({1, 4, 4})), ShapeError);
  CHECK_THROWS_AS(layers::UpSampling1D()(random({4, 4})), ShapeError);
  CHECK_THROWS_AS(layers::Permute({2, 1})(random({1, 2, 3, 4})), ShapeError);
  CHECK_THROWS_AS(layers::RepeatVector(2)(random({1, 2, 3})), ShapeError);
}
