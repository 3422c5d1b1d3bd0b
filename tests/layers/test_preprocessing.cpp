// Preprocessing and image augmentation layers: Rescaling and Normalization against formulas written out with
// loops (adapt's statistics computed independently, Keras' documented examples), CenterCrop and Resizing
// against hand-worked small images (half-pixel bilinear, TF's nearest rounding), the augmentation layers
// against transforms forced through degenerate ranges and every fill mode on a hand-worked row, identity at
// inference, seeded reproducibility, gradients against central finite differences, configs and errors.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/image_augmentation.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/preprocessing.h>
#include <strata/layers/registry.h>
#include <strata/layers/reshaping.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/sgd.h>

#include "../support/tensor_checks.h"

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using test_support::values_of;

void check_close(const at::Tensor& actual, const std::vector<double>& expected, double tol = 1e-5) {
  test_support::check_values(actual, expected, tol);
}

// A one-channel image batch of one image, rows given top to bottom.
at::Tensor image(const std::vector<double>& values, int64_t height, int64_t width) {
  return at::tensor(values, at::kFloat).reshape({1, height, width, 1});
}

at::Tensor random_images(Shape shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::rand(shape, gen, at::kFloat);
}

bool same(const at::Tensor& a, const at::Tensor& b) { return a.sizes() == b.sizes() && at::equal(a, b); }

// Central finite differences of sum(probe * f(x)) against autograd, in double precision.
void check_input_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x0) {
  const at::Tensor x = x0.to(at::kDouble).clone().requires_grad_();
  const at::Tensor probe = at::rand(f(x).sizes(), at::kDouble);
  (f(x) * probe).sum().backward();
  const at::Tensor grad = x.grad().clone();
  const double eps = 1e-6;
  at::Tensor flat = x.detach().reshape({-1});
  for (int64_t i = 0; i < flat.numel(); ++i) {
    at::Tensor plus = flat.clone(), minus = flat.clone();
    plus[i] += eps;
    minus[i] -= eps;
    const double numeric = ((f(plus.view(x.sizes())) * probe).sum().item<double>() -
                            (f(minus.view(x.sizes())) * probe).sum().item<double>()) /
                           (2 * eps);
    INFO("input element " << i);
    CHECK(grad.reshape({-1})[i].item<double>() == Approx(numeric).margin(1e-6));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Rescaling

TEST_CASE("Rescaling computes inputs * scale + offset", "[preprocessing]") {
  layers::Rescaling layer(1.0 / 127.5, {.offset = -1.0});
  const at::Tensor x = at::tensor({0.0f, 127.5f, 255.0f, 51.0f}).reshape({2, 2});
  check_close(layer(x), {-1.0, 0.0, 1.0, 51.0 / 127.5 - 1.0});

  SECTION("integer pixels become float32") {
    const at::Tensor pixels = at::tensor({0, 255}, at::kByte).reshape({1, 2});
    const at::Tensor out = layers::Rescaling(1.0 / 255)(pixels);
    CHECK(out.scalar_type() == at::kFloat);
    check_close(out, {0.0, 1.0});
  }
  SECTION("config round trip") {
    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->class_name() == "Rescaling");
    CHECK(copy->get_config().at("scale") == layer.get_config().at("scale"));
    CHECK(same((*copy)(x), layer(x)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Normalization

TEST_CASE("Normalization.adapt learns the per-feature mean and biased variance", "[preprocessing]") {
  const at::Tensor data = random_images({6, 3}, 1) * 10.0 - 3.0;
  layers::Normalization layer;
  layer.adapt(data);

  std::vector<double> v = values_of(data), mean(3, 0.0), var(3, 0.0);
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 3; ++c) mean[c] += v[r * 3 + c] / 6;
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 3; ++c) var[c] += (v[r * 3 + c] - mean[c]) * (v[r * 3 + c] - mean[c]) / 6;

  // Keras' weights: mean, variance, count, none trainable.
  const auto vars = layer.variables();
  REQUIRE(vars.size() == 3);
  CHECK(vars[0].name == layer.name() + "/mean");
  CHECK(vars[1].name == layer.name() + "/variance");
  CHECK(vars[2].name == layer.name() + "/count");
  CHECK(layer.trainable_weights().empty());
  CHECK(vars[0].value.sizes() == at::IntArrayRef{3});
  CHECK(vars[2].value.dim() == 0);
  check_close(layer.mean(), mean);
  check_close(layer.variance(), var);
  CHECK(layer.get_weights()[2].item<double>() == 0.0);  // Keras 3 keeps count for old files only

  const at::Tensor x = random_images({4, 3}, 2);
  std::vector<double> xv = values_of(x), expected;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) expected.push_back((xv[r * 3 + c] - mean[c]) / std::sqrt(var[c]));
  check_close(layer(x), expected);

  SECTION("the gradient is 1 / std per feature") {
    const at::Tensor xg = x.clone().requires_grad_();
    layer(xg).sum().backward();
    std::vector<double> expected_grad;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 3; ++c) expected_grad.push_back(1.0 / std::sqrt(var[c]));
    check_close(xg.grad(), expected_grad);
  }
  SECTION("Keras' documented examples, forward and inverted") {
    const at::Tensor adapt_data =
        at::tensor({0.f, 7.f, 4.f, 2.f, 9.f, 6.f, 0.f, 7.f, 4.f, 2.f, 9.f, 6.f}).reshape({4, 3});
    layers::Normalization forward;
    forward.adapt(adapt_data);
    check_close(forward(at::tensor({0.f, 7.f, 4.f}).reshape({1, 3})), {-1, -1, -1});
    layers::Normalization inverse({.invert = true});
    inverse.adapt(adapt_data);
    check_close(inverse(at::tensor({1.f, 2.f, 3.f}).reshape({1, 3})), {2, 10, 8});

    layers::Normalization scalar({.axis = {}});
    scalar.adapt(at::tensor({1.f, 2.f, 3.f, 4.f, 5.f}));
    CHECK(scalar.mean().dim() == 0);
    check_close(scalar(at::tensor({1.f, 2.f, 3.f})), {-1.4142135, -0.70710677, 0.0});
    check_close(scalar(at::tensor({3.f, 4.f}).reshape({2, 1})), {0.0, 0.70710677});
  }
  SECTION("an adapted layer survives get_config / from_config with its weights") {
    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config() == layer.get_config());
    copy->ensure_built(Shape{kNone, 3});
    copy->set_weights(layer.get_weights());
    CHECK(same((*copy)(x), layer(x)));
  }
}

TEST_CASE("Normalization keeps statistics along the chosen axes of images", "[preprocessing]") {
  const at::Tensor data = random_images({2, 3, 4, 2}, 3) * 4.0;
  SECTION("axis -1: one statistic per channel over batch, height and width") {
    layers::Normalization layer;
    layer.adapt(data);
    const std::vector<double> v = values_of(data);
    std::vector<double> mean(2, 0.0), var(2, 0.0);
    for (size_t i = 0; i < v.size(); ++i) mean[i % 2] += v[i] / 24;
    for (size_t i = 0; i < v.size(); ++i) var[i % 2] += (v[i] - mean[i % 2]) * (v[i] - mean[i % 2]) / 24;
    check_close(layer.mean(), mean);
    check_close(layer.variance(), var);
    std::vector<double> expected;
    for (size_t i = 0; i < v.size(); ++i) expected.push_back((v[i] - mean[i % 2]) / std::sqrt(var[i % 2]));
    check_close(layer(data), expected, 1e-4);
  }
  SECTION("axis (1, 2): one statistic per pixel over batch and channels") {
    layers::Normalization layer({.axis = {2, 1}});
    layer.adapt(data);
    REQUIRE(layer.mean().sizes() == at::IntArrayRef{3, 4});
    const at::Tensor d = data.to(at::kDouble);
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t w = 0; w < 4; ++w) {
        double m = 0, s = 0;
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t c = 0; c < 2; ++c) m += d[n][h][w][c].item<double>() / 4;
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t c = 0; c < 2; ++c) s += std::pow(d[n][h][w][c].item<double>() - m, 2) / 4;
        CHECK(layer.mean()[h][w].item<double>() == Approx(m).epsilon(1e-5));
        CHECK(layer.variance()[h][w].item<double>() == Approx(s).epsilon(1e-5));
      }
  }
}

TEST_CASE("Normalization with given mean and variance broadcasts them over the kept axes",
          "[preprocessing]") {
  SECTION("Keras' documented example: scalars") {
    layers::Normalization layer({.mean = at::scalar_tensor(3.0), .variance = at::scalar_tensor(2.0)});
    check_close(layer(at::tensor({1.f, 2.f, 3.f}).reshape({3, 1})), {-1.4142135, -0.70710677, 0.0});
    CHECK(layer.get_weights().empty());  // given statistics are constants, not weights
  }
  SECTION("a (2,) mean lines up with the last of the kept axes (1, 2)") {
    layers::Normalization layer(
        {.axis = {1, 2}, .mean = at::tensor({1.0, -1.0}), .variance = at::tensor({4.0, 0.25})});
    const at::Tensor x = random_images({2, 3, 2}, 4);
    const std::vector<double> v = values_of(x);
    std::vector<double> expected;
    for (size_t i = 0; i < v.size(); ++i)
      expected.push_back(i % 2 == 0 ? (v[i] - 1.0) / 2.0 : (v[i] + 1.0) / 0.5);
    check_close(layer(x), expected);
    CHECK(layer.mean().sizes() == at::IntArrayRef{3, 2});

    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config().at("mean") == nlohmann::json({1.0, -1.0}));
    CHECK(same((*copy)(x), layer(x)));
  }
  SECTION("a zero variance divides by Keras' epsilon 1e-7") {
    layers::Normalization layer({.mean = at::scalar_tensor(1.0), .variance = at::scalar_tensor(0.0)});
    CHECK(layer(at::tensor({1.5f}).reshape({1, 1})).item<double>() == Approx(0.5 / 1e-7).epsilon(1e-5));
  }
}

TEST_CASE("Normalization before adapt, and misuse", "[preprocessing]") {
  SECTION("before adapt the initial zeros and ones make it the identity, as in Keras; loaded weights apply") {
    layers::Normalization layer;
    const at::Tensor x = random_images({2, 3}, 16);
    CHECK(same(layer(x), x));
    layer.set_weights({at::tensor({1.f, 2.f, 3.f}), at::full({3}, 4.f), at::scalar_tensor(0.f)});
    check_close(layer(at::ones({1, 3})), {0.0, -0.5, -1.0});
  }
  CHECK_THROWS_WITH(layers::Normalization({.mean = at::scalar_tensor(1.0)}),
                    Contains("both mean and variance"));
  CHECK_THROWS_WITH(layers::Normalization({.mean = at::zeros({2}), .variance = at::ones({3})}),
                    Contains("same shape"));
  CHECK_THROWS_WITH(layers::Normalization({.axis = {3}})(at::ones({2, 3})), Contains("axis"));
  CHECK_THROWS_WITH(
      layers::Normalization({.mean = at::zeros({4}), .variance = at::ones({4})})(at::ones({2, 3})),
      Contains("do not broadcast"));
  layers::Normalization built;
  built.adapt(at::ones({4, 3}));
  CHECK_THROWS_WITH(built.adapt(at::ones({4, 5})), Contains("adapt() got data of shape [4, 5]"));
  CHECK_THROWS_AS(built(at::ones({4, 5})), ShapeError);
  CHECK_THROWS_AS(built(at::ones({4, 1, 3})), ShapeError);
  CHECK_THROWS_AS(
      layers::Normalization({.mean = at::zeros({3}), .variance = at::ones({3})}).adapt(at::ones({2, 3})),
      ValueError);
}

// ---------------------------------------------------------------------------------------------------------------
// CenterCrop and Resizing

TEST_CASE("CenterCrop takes the central window, resizing images smaller than the target", "[preprocessing]") {
  // 4 x 5 image with values 0..19 row by row.
  const at::Tensor x = at::arange(20, at::kFloat).reshape({1, 4, 5, 1});
  layers::CenterCrop crop(2, 3);
  check_close(crop(x), {6, 7, 8, 11, 12, 13});  // rows 1-2, columns 1-3
  CHECK(crop.compute_output_shape({kNone, 4, 5, 1}) == Shape{kNone, 2, 3, 1});
  CHECK(crop.compute_output_shape({4, 5, 1}) == Shape{2, 3, 1});
  check_close(crop(x[0]), {6, 7, 8, 11, 12, 13});  // unbatched
  CHECK(crop(x[0]).sizes() == at::IntArrayRef{2, 3, 1});

  SECTION("an image smaller than the target is cropped to the aspect ratio and resized bilinearly") {
    // [[1, 3], [5, 7]] to 4 x 2: the 2:1 window is column 0, (1, 5), resized with half-pixel centers.
    const at::Tensor small = image({1, 3, 5, 7}, 2, 2);
    check_close(layers::CenterCrop(4, 2)(small), {1, 1, 2, 2, 4, 4, 5, 5});
  }
  SECTION("config round trip") {
    auto copy = layers::deserialize(layers::serialize(crop));
    CHECK(copy->get_config() == crop.get_config());
    CHECK(same((*copy)(x), crop(x)));
  }
  CHECK_THROWS_WITH(crop(at::ones({4, 5})), Contains("rank 4"));
  CHECK_THROWS_AS(layers::CenterCrop(0, 2), ValueError);
}

TEST_CASE("Resizing matches tf.image.resize: half-pixel centers, no antialiasing", "[preprocessing]") {
  const at::Tensor x = image({1, 2, 3, 4}, 2, 2);
  SECTION("bilinear 2x2 -> 4x4") {
    // Source coordinates (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 clamp to 0, 0.25, 0.75, 1, so
    // out[y][x] = 1 + f[x] + 2 f[y] with f = (0, 0.25, 0.75, 1).
    layers::Resizing layer(4, 4);
    check_close(layer(x), {1.0, 1.25, 1.75, 2.0,  //
                           1.5, 1.75, 2.25, 2.5,  //
                           2.5, 2.75, 3.25, 3.5,  //
                           3.0, 3.25, 3.75, 4.0});
    CHECK(layer.compute_output_shape({kNone, 2, 2, 3}) == Shape{kNone, 4, 4, 3});
  }
  SECTION("bilinear 4x4 -> 2x2 samples at 0.5 and 2.5 without averaging more pixels") {
    const at::Tensor big = at::arange(16, at::kFloat).reshape({1, 4, 4, 1});  // v = 4 y + x
    check_close(layers::Resizing(2, 2)(big), {2.5, 4.5, 10.5, 12.5});
  }
  SECTION("nearest picks floor((i + 0.5) * in / out), not floor(i * in / out)") {
    check_close(layers::Resizing(4, 4, {.interpolation = "nearest"})(x),
                {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
    const at::Tensor row = image({10, 11, 12, 13}, 1, 4);
    check_close(layers::Resizing(1, 3, {.interpolation = "nearest"})(row), {10, 12, 13});
    const at::Tensor three = image({10, 11, 12}, 1, 3);
    check_close(layers::Resizing(1, 2, {.interpolation = "nearest"})(three), {10, 12});
  }
  SECTION("random sizes against TF's formulas written out with loops") {
    // Bilinear: source (i + 0.5) * in / out - 0.5, clamped below at 0; lower = floor, upper = min(lower + 1,
    // in - 1). Nearest: min(floor((i + 0.5) * in / out), in - 1).
    const auto bilinear_source = [](int64_t i, int64_t in, int64_t out, int64_t& lo, int64_t& hi,
                                    double& frac) {
      const double src = std::max((i + 0.5) * in / out - 0.5, 0.0);
      lo = static_cast<int64_t>(std::floor(src));
      hi = std::min(lo + 1, in - 1);
      frac = src - lo;
    };
    const auto nearest_source = [](int64_t i, int64_t in, int64_t out) {
      return std::min(static_cast<int64_t>(std::floor((i + 0.5) * in / out)), in - 1);
    };
    const std::vector<std::array<int64_t, 4>> sizes = {{3, 5, 4, 2}, {5, 3, 7, 8}, {4, 7, 3, 3}};
    for (const auto& [in_h, in_w, out_h, out_w] : sizes) {
      INFO(in_h << "x" << in_w << " -> " << out_h << "x" << out_w);
      const at::Tensor in = random_images({2, in_h, in_w, 3}, 17).to(at::kDouble);
      const auto at_ = in.accessor<double, 4>();
      std::vector<double> bilinear, nearest;
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t y = 0; y < out_h; ++y)
          for (int64_t x = 0; x < out_w; ++x)
            for (int64_t c = 0; c < 3; ++c) {
              int64_t y0, y1, x0, x1;
              double fy, fx;
              bilinear_source(y, in_h, out_h, y0, y1, fy);
              bilinear_source(x, in_w, out_w, x0, x1, fx);
              const double top = at_[n][y0][x0][c] * (1 - fx) + at_[n][y0][x1][c] * fx;
              const double bottom = at_[n][y1][x0][c] * (1 - fx) + at_[n][y1][x1][c] * fx;
              bilinear.push_back(top * (1 - fy) + bottom * fy);
              nearest.push_back(at_[n][nearest_source(y, in_h, out_h)][nearest_source(x, in_w, out_w)][c]);
            }
      check_close(layers::Resizing(out_h, out_w)(in), bilinear, 1e-12);
      check_close(layers::Resizing(out_h, out_w, {.interpolation = "nearest"})(in), nearest, 0.0);
    }
  }
  SECTION("crop_to_aspect_ratio takes the central window first") {
    const at::Tensor wide = image({0, 1, 2, 3, 4, 5, 6, 7}, 2, 4);
    check_close(layers::Resizing(2, 2, {.crop_to_aspect_ratio = true})(wide), {1, 2, 5, 6});
  }
  SECTION("pad_to_aspect_ratio pads both sides of the short axis with fill_value first") {
    const at::Tensor wide = image({0, 1, 2, 3, 4, 5, 6, 7}, 2, 4);  // 2 x 4 -> 4 x 4: one row above and below
    check_close(layers::Resizing(4, 4, {.pad_to_aspect_ratio = true, .fill_value = 9.0})(wide),
                {9, 9, 9, 9, 0, 1, 2, 3, 4, 5, 6, 7, 9, 9, 9, 9});
    const at::Tensor tall = image({1, 2, 3, 4}, 4, 1);  // 4 x 1 -> 4 x 3: one column left and right
    check_close(layers::Resizing(4, 3, {.pad_to_aspect_ratio = true})(tall),
                {0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0});
    layers::Resizing padded(4, 4, {.pad_to_aspect_ratio = true, .fill_value = 9.0});
    auto copy = layers::deserialize(layers::serialize(padded));
    CHECK(copy->get_config() == padded.get_config());
    CHECK(same((*copy)(wide), padded(wide)));
  }
  SECTION("integer pixels give float32; unbatched images stay unbatched") {
    const at::Tensor pixels = at::tensor({0, 10, 20, 30}, at::kByte).reshape({2, 2, 1});
    const at::Tensor out = layers::Resizing(4, 4)(pixels);
    CHECK(out.scalar_type() == at::kFloat);
    CHECK(out.sizes() == at::IntArrayRef{4, 4, 1});
    CHECK(out[1][1][0].item<double>() == Approx(0 + 10 * 0.25 + 20 * 0.25));
  }
  SECTION("gradient") {
    layers::Resizing layer(3, 5);
    check_input_gradient([&](const at::Tensor& in) { return layer(in); }, random_images({1, 2, 3, 2}, 5));
  }
  SECTION("config round trip") {
    layers::Resizing layer(3, 3, {.interpolation = "nearest", .crop_to_aspect_ratio = true});
    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config() == layer.get_config());
    CHECK(copy->get_config().at("interpolation") == "nearest");
    const at::Tensor in = random_images({2, 4, 6, 3}, 6);
    CHECK(same((*copy)(in), layer(in)));
  }
  CHECK_THROWS_WITH(layers::Resizing(2, 2, {.interpolation = "bicubic"}), Contains("interpolation"));
  CHECK_THROWS_WITH(layers::Resizing(2, 2)(at::ones({2, 2})), Contains("got shape [2, 2]"));
  CHECK_THROWS_WITH(layers::Resizing(2, 2, {.crop_to_aspect_ratio = true, .pad_to_aspect_ratio = true}),
                    Contains("only one of"));
  CHECK_THROWS_WITH(layers::Resizing(2, 2, {.fill_mode = "reflect"}), Contains("fill_mode"));
  nlohmann::json antialiased = layers::serialize(layers::Resizing(2, 2));
  antialiased["config"]["antialias"] = true;
  CHECK_THROWS_WITH(layers::deserialize(antialiased), Contains("antialias"));
}

// ---------------------------------------------------------------------------------------------------------------
// RandomFlip

TEST_CASE("RandomFlip flips whole images while training only", "[preprocessing]") {
  // One 2 x 3 image repeated: every output must be the image or its flip, written out here.
  const at::Tensor x = image({1, 2, 3, 4, 5, 6}, 2, 3).repeat({32, 1, 1, 1});
  const at::Tensor original = image({1, 2, 3, 4, 5, 6}, 2, 3)[0];
  const auto count_matches = [](const at::Tensor& out, const at::Tensor& candidate) {
    int matches = 0;
    for (int64_t i = 0; i < out.size(0); ++i) matches += at::equal(out[i], candidate) ? 1 : 0;
    return matches;
  };
  const std::vector<std::pair<std::string, std::vector<double>>> modes = {
      {"horizontal", {3, 2, 1, 6, 5, 4}},
      {"vertical", {4, 5, 6, 1, 2, 3}},
      {"horizontal_and_vertical", {6, 5, 4, 3, 2, 1}}};  // one draw decides both flips, as in Keras 3
  for (const auto& [mode, flipped_values] : modes) {
    INFO(mode);
    layers::RandomFlip layer(mode, {.seed = 7});
    CHECK(same(layer(x, false), x));
    const at::Tensor out = layer(x, true);
    const int kept = count_matches(out, original);
    const int flipped = count_matches(out, image(flipped_values, 2, 3)[0]);
    CHECK(kept + flipped == 32);
    CHECK(kept > 0);
    CHECK(flipped > 0);
  }
  SECTION("seeded layers repeat; successive calls draw anew") {
    layers::RandomFlip a("horizontal", {.seed = 11}), b("horizontal", {.seed = 11});
    const at::Tensor first = a(x, true);
    CHECK(same(first, b(x, true)));
    CHECK_FALSE(same(first, a(x, true)));
  }
  SECTION("unbatched images, config round trip") {
    layers::RandomFlip layer("vertical", {.seed = 3});
    CHECK(layer(x[0], true).sizes() == at::IntArrayRef{2, 3, 1});
    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config() == layer.get_config());
    CHECK(same((*copy)(x, true), layers::RandomFlip("vertical", {.seed = 3})(x, true)));
  }
  CHECK_THROWS_WITH(layers::RandomFlip("diagonal"), Contains("mode"));
  CHECK_THROWS_WITH(layers::RandomFlip()(at::ones({3, 3}), true), Contains("rank 4"));
}

// ---------------------------------------------------------------------------------------------------------------
// RandomRotation, RandomTranslation, RandomZoom

TEST_CASE("RandomRotation by forced angles", "[preprocessing]") {
  const at::Tensor x = image({1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
  for (const std::string interpolation : {"bilinear", "nearest"}) {
    INFO(interpolation);
    // A quarter turn counter-clockwise: out[y][x] = in[x][2 - y].
    check_close(layers::RandomRotation({0.25, 0.25}, {.interpolation = interpolation})(x, true),
                {3, 6, 9, 2, 5, 8, 1, 4, 7});
    check_close(layers::RandomRotation({-0.25, -0.25}, {.interpolation = interpolation})(x, true),
                {7, 4, 1, 8, 5, 2, 9, 6, 3});
    // Half a turn of a non-square image about its center: out[y][x] = in[1 - y][2 - x].
    check_close(layers::RandomRotation({0.5, 0.5}, {.interpolation = interpolation})(
                    image({1, 2, 3, 4, 5, 6}, 2, 3), true),
                {6, 5, 4, 3, 2, 1});
  }
  SECTION("identity at inference, one angle per image, seeded repeats") {
    const at::Tensor batch = random_images({1, 5, 5, 1}, 8).repeat({6, 1, 1, 1});
    layers::RandomRotation layer(0.2, {.seed = 5});
    CHECK(same(layer(batch, false), batch));
    const at::Tensor out = layer(batch, true);
    for (int64_t i = 1; i < 6; ++i) CHECK_FALSE(at::allclose(out[0], out[i]));
    CHECK(same(layers::RandomRotation(0.2, {.seed = 5})(batch, true), out));
  }
  SECTION("gradient of the resampling") {
    const auto rotate = [](const at::Tensor& in) {
      return layers::RandomRotation(0.1, {.fill_mode = "constant", .seed = 2, .fill_value = 0.5})(in, true);
    };
    check_input_gradient(rotate, random_images({1, 4, 4, 1}, 9));
  }
  SECTION("config round trip") {
    layers::RandomRotation layer(
        0.3, {.fill_mode = "wrap", .interpolation = "nearest", .seed = 4, .fill_value = 2.0});
    CHECK(layer.get_config().at("factor") == nlohmann::json({-0.3, 0.3}));
    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config() == layer.get_config());
    const at::Tensor in = random_images({3, 4, 5, 2}, 10);
    CHECK(same((*copy)(in, true), layer(in, true)));
  }
  CHECK_THROWS_WITH(layers::RandomRotation(1.5), Contains("factor"));
  CHECK_THROWS_WITH(layers::RandomRotation(0.1, {.fill_mode = "mirror"}), Contains("fill_mode"));
  CHECK_THROWS_WITH(layers::RandomRotation(0.1, {.interpolation = "bicubic"}), Contains("interpolation"));
  CHECK_THROWS_WITH(layers::RandomRotation(0.1)(at::ones({2, 3, 4, 5, 6}), true), Contains("rank 4"));
}

TEST_CASE("RandomTranslation fills each mode as Keras draws it", "[preprocessing]") {
  // The row a b c d = 1 2 3 4 shifted by two whole pixels: output x reads input x - dx.
  const at::Tensor row = image({1, 2, 3, 4}, 1, 4);
  struct Case {
    std::string fill_mode;
    std::vector<double> right, left;  // dx = +2, dx = -2
  };
  const std::vector<Case> cases = {{"reflect", {2, 1, 1, 2}, {3, 4, 4, 3}},   // d c b a | a b c d | d c b a
                                   {"wrap", {3, 4, 1, 2}, {3, 4, 1, 2}},      // a b c d | a b c d | a b c d
                                   {"constant", {9, 9, 1, 2}, {3, 4, 9, 9}},  // k k k k | a b c d | k k k k
                                   {"nearest", {1, 1, 1, 2}, {3, 4, 4, 4}}};  // a a a a | a b c d | d d d d
  for (const auto& c : cases)
    for (const std::string interpolation : {"bilinear", "nearest"}) {
      INFO(c.fill_mode << ", " << interpolation);
      const layers::RandomTranslationOptions options{
          .fill_mode = c.fill_mode, .interpolation = interpolation, .fill_value = 9.0};
      check_close(layers::RandomTranslation(0.0, {0.5, 0.5}, options)(row, true), c.right);
      check_close(layers::RandomTranslation(0.0, {-0.5, -0.5}, options)(row, true), c.left);
    }
  SECTION("vertical shifts move the content down") {
    const at::Tensor column = image({1, 2, 3, 4}, 4, 1);
    check_close(layers::RandomTranslation({0.25, 0.25}, 0.0, {.fill_mode = "constant"})(column, true),
                {0, 1, 2, 3});
  }
  SECTION("half-pixel shifts interpolate; the edge neighbour reads fill_value") {
    // dx = 0.5: sources -0.5, 0.5, 1.5, 2.5.
    check_close(layers::RandomTranslation(0.0, {0.125, 0.125}, {.fill_mode = "constant", .fill_value = 9.0})(
                    row, true),
                {5, 1.5, 2.5, 3.5});
    check_close(layers::RandomTranslation(0.0, {0.125, 0.125})(row, true), {1, 1.5, 2.5, 3.5});
    // Nearest rounds half away from zero: -0.5 -> -1 (outside), 0.5 -> 1, 1.5 -> 2, 2.5 -> 3.
    check_close(layers::RandomTranslation(
                    0.0, {0.125, 0.125},
                    {.fill_mode = "constant", .interpolation = "nearest", .fill_value = 9.0})(row, true),
                {9, 2, 3, 4});
  }
  SECTION("identity at inference; different images get different shifts; configs") {
    const at::Tensor batch = random_images({1, 4, 4, 1}, 12).repeat({6, 1, 1, 1});
    layers::RandomTranslation layer(0.5, {-0.2, 0.4}, {.seed = 13});
    CHECK(same(layer(batch, false), batch));
    const at::Tensor out = layer(batch, true);
    for (int64_t i = 1; i < 6; ++i) CHECK_FALSE(at::allclose(out[0], out[i]));
    CHECK(layer.get_config().at("height_factor") == 0.5);
    CHECK(layer.get_config().at("width_factor") == nlohmann::json({-0.2, 0.4}));
    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config() == layer.get_config());
    CHECK(same((*copy)(batch, true), layers::RandomTranslation(0.5, {-0.2, 0.4}, {.seed = 13})(batch, true)));
  }
  CHECK_THROWS_WITH(layers::RandomTranslation(1.5, 0.1), Contains("height_factor"));
  CHECK_THROWS_WITH(layers::RandomTranslation(0.1, {-2.0, 0.1}), Contains("width_factor"));
}

TEST_CASE("RandomZoom scales about the image center", "[preprocessing]") {
  const at::Tensor row = image({1, 2, 3, 4}, 1, 4);
  // Zoom in 2x along the width: sources 0.5 x + 0.75 = 0.75, 1.25, 1.75, 2.25.
  check_close(layers::RandomZoom(0.0, {.width_factor = layers::Factor(-0.5, -0.5)})(row, true),
              {1.75, 2.25, 2.75, 3.25});
  // Zoom out 2x: sources 2 x - 1.5 = -1.5, 0.5, 2.5, 4.5.
  check_close(layers::RandomZoom(0.0, {.width_factor = layers::Factor(1.0, 1.0)})(row, true),
              {1.5, 1.5, 3.5, 3.5});
  check_close(
      layers::RandomZoom(0.0, {.width_factor = layers::Factor(1.0, 1.0), .fill_mode = "constant"})(row, true),
      {0, 1.5, 3.5, 0});
  SECTION("without width_factor both axes zoom by the same draw") {
    // v = 3 y + x + 1 on 3 x 3; zoom 0.5 reads (0.5 y + 0.5, 0.5 x + 0.5), and bilinear is exact on a plane.
    const at::Tensor plane = image({1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
    std::vector<double> expected;
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x) expected.push_back(3 * (0.5 * y + 0.5) + (0.5 * x + 0.5) + 1);
    check_close(layers::RandomZoom({-0.5, -0.5})(plane, true), expected);
  }
  SECTION("identity at inference, configs") {
    layers::RandomZoom layer(0.3, {.width_factor = layers::Factor(-0.1, 0.2), .seed = 14});
    const at::Tensor batch = random_images({3, 4, 4, 2}, 15);
    CHECK(same(layer(batch, false), batch));
    const at::Tensor same_images = batch.narrow(0, 0, 1).repeat({6, 1, 1, 1});
    const at::Tensor zoomed = layer(same_images, true);
    for (int64_t i = 1; i < 6; ++i) CHECK_FALSE(at::allclose(zoomed[0], zoomed[i]));
    CHECK(layer.get_config().at("width_factor") == nlohmann::json({-0.1, 0.2}));
    CHECK(layers::RandomZoom(0.3).get_config().at("width_factor").is_null());
    auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config() == layer.get_config());
    CHECK(same((*copy)(batch, true), layers::RandomZoom(0.3, {.width_factor = layers::Factor(-0.1, 0.2),
                                                              .seed = 14})(batch, true)));
  }
  CHECK_THROWS_WITH(layers::RandomZoom(-1.5), Contains("height_factor"));
  CHECK_THROWS_WITH(layers::RandomZoom(0.1, {.width_factor = layers::Factor(0.1, 1.5)}),
                    Contains("width_factor"));
}

// ---------------------------------------------------------------------------------------------------------------
// In a model

TEST_CASE("A Normalization inside a built Sequential adapts in place", "[preprocessing]") {
  // Building the Sequential runs a forward pass before adapt(), as it does in Keras.
  auto norm = std::make_shared<layers::Normalization>();
  Sequential model({layers::Input({2}), norm});
  const at::Tensor data = at::tensor({1.f, 10.f, 3.f, 30.f}).reshape({2, 2});  // means 2, 20; stds 1, 10
  norm->adapt(data);
  check_close(model.predict(at::tensor({2.f, 40.f}).reshape({1, 2})), {0.0, 2.0});
  CHECK(model.get_weights().size() == 3);
}

TEST_CASE("A Sequential with Rescaling and RandomFlip trains and predicts deterministically",
          "[preprocessing]") {
  set_random_seed(21);
  const at::Tensor x = at::randint(0, 256, {64, 4, 4, 1}).to(at::kFloat);
  // The target is symmetric under horizontal flips, so augmentation does not fight the fit.
  const at::Tensor y = (x / 255.0).mean({1, 2, 3}).unsqueeze(1);
  auto rescaling = std::make_shared<layers::Rescaling>(1.0 / 255);
  auto dense = std::make_shared<layers::Dense>(1);
  Sequential model({layers::Input({4, 4, 1}), rescaling, layers::RandomFlip("horizontal", {.seed = 1}),
                    layers::Flatten(), dense});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  auto history = model.fit(x, y, {.batch_size = 16, .epochs = 20, .verbose = 0});
  const auto& loss = history.history.at("loss");
  CHECK(loss.back() < 0.5 * loss.front());

  const at::Tensor first = model.predict(x);
  CHECK(same(first, model.predict(x)));
  // At inference the flip is the identity: the prediction is the Dense of the rescaled pixels.
  const at::Tensor expected = at::matmul((x / 255.0).reshape({64, 16}), dense->kernel()) + dense->bias();
  CHECK(at::allclose(first, expected, 1e-5, 1e-6));
}
