// Core utilities: activations, initializers, naming, Logs and shape formatting. Every expected value comes
// from the formula written out here or from a published constant, never from the code under test.

#include <ATen/ATen.h>
#include <strata/core/activations.h>
#include <strata/core/error.h>
#include <strata/core/initializers.h>
#include <strata/core/logs.h>
#include <strata/core/naming.h>
#include <strata/core/random.h>
#include <strata/core/shape.h>
#include <strata/layers/dense.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

const std::vector<double> kPoints = {-4.0, -1.5, -0.5, -1e-3, 0.0, 0.25, 1.0, 2.5, 7.0};

at::Tensor points() { return at::tensor(kPoints, at::kDouble); }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Applies `fn` (a library activation) to kPoints in double precision and compares with `formula` at each
// point.
void check_elementwise(const std::string& name, const activations::Function& fn,
                       const std::function<double(double)>& formula) {
  at::Tensor out = fn(points());
  REQUIRE(out.sizes() == points().sizes());
  for (size_t i = 0; i < kPoints.size(); ++i) {
    INFO(name << " at x = " << kPoints[i]);
    CHECK(out[i].item<double>() == Approx(formula(kPoints[i])).margin(1e-12).epsilon(1e-10));
  }
}

double variance_of(const at::Tensor& t) { return t.to(at::kDouble).var(/*unbiased=*/false).item<double>(); }
double mean_of(const at::Tensor& t) { return t.to(at::kDouble).mean().item<double>(); }
double max_abs(const at::Tensor& t) { return t.to(at::kDouble).abs().max().item<double>(); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Activations

TEST_CASE("each named activation matches its formula", "[core][activations]") {
  // SELU constants as published by Klambauer et al. 2017 ("Self-Normalizing Neural Networks").
  const double selu_alpha = 1.6732632423543772848170429916717;
  const double selu_scale = 1.0507009873554804934193349852946;

  check_elementwise("relu", "relu", [](double x) { return x > 0 ? x : 0.0; });
  check_elementwise("relu6", "relu6", [](double x) { return std::min(std::max(x, 0.0), 6.0); });
  check_elementwise("sigmoid", "sigmoid", [](double x) { return sigmoid(x); });
  check_elementwise("tanh", "tanh", [](double x) { return std::tanh(x); });
  check_elementwise("gelu", "gelu", [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); });
  check_elementwise("elu", "elu", [](double x) { return x > 0 ? x : std::exp(x) - 1.0; });
  check_elementwise("selu", "selu",
                    [&](double x) { return selu_scale * (x > 0 ? x : selu_alpha * (std::exp(x) - 1.0)); });
  check_elementwise("leaky_relu", "leaky_relu", [](double x) { return x > 0 ? x : 0.2 * x; });
  check_elementwise("silu", "silu", [](double x) { return x * sigmoid(x); });
  check_elementwise("swish", "swish", [](double x) { return x * sigmoid(x); });
  check_elementwise("softplus", "softplus", [](double x) { return std::log1p(std::exp(x)); });
  check_elementwise("softsign", "softsign", [](double x) { return x / (std::abs(x) + 1.0); });
  // hard_sigmoid(x) = relu6(x + 3) / 6.
  check_elementwise("hard_sigmoid", "hard_sigmoid",
                    [](double x) { return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; });
  check_elementwise("exponential", "exponential", [](double x) { return std::exp(x); });
  check_elementwise("mish", "mish", [](double x) { return x * std::tanh(std::log1p(std::exp(x))); });
  check_elementwise("linear", "linear", [](double x) { return x; });
  check_elementwise("empty name is linear", "", [](double x) { return x; });
}

TEST_CASE("a few activation values checked by hand", "[core][activations]") {
  // selu(1) = scale * 1; selu(-1) = scale * alpha * (e^-1 - 1) = 1.0507009873554805 * 1.6732632423543772 *
  // -0.6321205588
  //         = -1.1113307378
  at::Tensor x = at::tensor({1.0, -1.0}, at::kDouble);
  at::Tensor selu = activations::selu(x);
  CHECK(selu[0].item<double>() == Approx(1.0507009873554805));
  CHECK(selu[1].item<double>() == Approx(-1.1113307378).epsilon(1e-9));
  // gelu(1) = 0.5 * (1 + erf(1/sqrt2)) = 0.5 * 1.6826894921 = 0.8413447461 (the standard normal CDF at 1).
  CHECK(activations::gelu(at::tensor({1.0}, at::kDouble)).item<double>() ==
        Approx(0.8413447461).epsilon(1e-9));
  // hard_sigmoid: -3 -> 0, 0 -> 0.5, 1.5 -> 4.5/6 = 0.75, 3 -> 1.
  at::Tensor hs = activations::hard_sigmoid(at::tensor({-3.5, 0.0, 1.5, 3.5}, at::kDouble));
  CHECK(hs[0].item<double>() == 0.0);
  CHECK(hs[1].item<double>() == Approx(0.5));
  CHECK(hs[2].item<double>() == Approx(0.75));
  CHECK(hs[3].item<double>() == 1.0);
  // leaky_relu(-5) = 0.2 * -5 = -1; softsign(3) = 3/4.
  CHECK(activations::leaky_relu(at::tensor({-5.0}, at::kDouble)).item<double>() == Approx(-1.0));
  CHECK(activations::softsign(at::tensor({3.0}, at::kDouble)).item<double>() == Approx(0.75));
}

TEST_CASE("softmax and log_softmax work over the last axis", "[core][activations]") {
  at::Tensor x = at::tensor({1.0, 2.0, 3.0, -1.0, 0.0, 1.0}, at::kDouble).reshape({2, 3});
  at::Tensor sm = activations::softmax(x);
  at::Tensor lsm = activations::log_softmax(x);
  for (int r = 0; r < 2; ++r) {
    double denom = 0.0;
    for (int c = 0; c < 3; ++c) denom += std::exp(x[r][c].item<double>());
    for (int c = 0; c < 3; ++c) {
      const double expected = std::exp(x[r][c].item<double>()) / denom;
      CHECK(sm[r][c].item<double>() == Approx(expected));
      CHECK(lsm[r][c].item<double>() == Approx(std::log(expected)));
    }
  }
  // Both rows are shifted copies of each other, so the softmax is the same: e^2/(1+e+e^2) = 0.6652409558.
  CHECK(sm[0][2].item<double>() == Approx(0.6652409558));
  CHECK(sm[1][2].item<double>() == Approx(0.6652409558));
}

TEST_CASE("activation Function carries its name, custom functions work", "[core][activations]") {
  activations::Function relu = "relu";
  CHECK(relu.name() == "relu");
  CHECK_FALSE(relu.is_linear());
  CHECK(activations::Function().is_linear());
  CHECK(activations::Function().name() == "linear");
  activations::Function twice("twice", [](const at::Tensor& x) { return x * 2.0; });
  CHECK(twice.name() == "twice");
  CHECK(twice(at::tensor({1.5}, at::kDouble)).item<double>() == 3.0);
  CHECK_THROWS_AS(activations::Function("empty", activations::Function::Fn()), ValueError);

  for (const char* expected :
       {"relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "selu", "elu", "leaky_relu", "silu",
        "swish", "softplus", "softsign", "hard_sigmoid", "exponential", "linear", "relu6"})
    CHECK(activations::get(expected).name() == expected);
}

TEST_CASE("an unknown activation name throws ValueError listing the known names",
          "[core][activations][errors]") {
  CHECK_THROWS_AS(activations::get("relu7"), ValueError);
  CHECK_THROWS_WITH(activations::get("relu7"), Contains("relu7") && Contains("relu") && Contains("sigmoid") &&
                                                   Contains("softmax") && Contains("gelu"));
  CHECK_THROWS_AS(activations::Function("not_an_activation"), ValueError);
  CHECK_THROWS_AS(layers::Dense(3, {.activation = "rleu"}), ValueError);
}

// ---------------------------------------------------------------------------------------------------------------
// Initializers

TEST_CASE("compute_fans follows Keras' definition", "[core][initializers]") {
  // Conv kernel (kh, kw, in, out) = (3, 3, 16, 32): receptive field 9, fan_in = 16*9 = 144, fan_out = 32*9 =
  // 288.
  auto conv = initializers::compute_fans({3, 3, 16, 32});
  CHECK(conv.fan_in == 144.0);
  CHECK(conv.fan_out == 288.0);
  auto dense = initializers::compute_fans({784, 128});
  CHECK(dense.fan_in == 784.0);
  CHECK(dense.fan_out == 128.0);
  auto vec = initializers::compute_fans({7});
  CHECK(vec.fan_in == 7.0);
  CHECK(vec.fan_out == 7.0);
  auto scalar = initializers::compute_fans({});
  CHECK(scalar.fan_in == 1.0);
  CHECK(scalar.fan_out == 1.0);
}

TEST_CASE("glorot_uniform: bounded by sqrt(6/(fan_in+fan_out)) with variance limit^2/3",
          "[core][initializers]") {
  // Shape (400, 600): limit = sqrt(6 / 1000) = 0.0774597; a uniform on [-l, l] has variance l^2 / 3 = 0.002.
  const double limit = std::sqrt(6.0 / (400.0 + 600.0));
  at::Tensor w = initializers::GlorotUniform(1)({400, 600});
  CHECK(w.scalar_type() == at::kFloat);
  CHECK(w.sizes() == at::IntArrayRef({400, 600}));
  CHECK(max_abs(w) <= limit * (1.0 + 1e-6));  // 1e-6: the float32 rounding of the bound itself
  CHECK(max_abs(w) > 0.99 * limit);           // 240000 draws reach close to the edge
  CHECK(variance_of(w) == Approx(limit * limit / 3.0).epsilon(0.02));
  CHECK(std::abs(mean_of(w)) < 1e-3);
  // The name-based spelling is the same distribution.
  at::Tensor by_name = (*initializers::get("glorot_uniform"))({400, 600});
  CHECK(max_abs(by_name) <= limit * (1.0 + 1e-6));
  CHECK(initializers::get("glorot_uniform")->class_name() == "GlorotUniform");
}

TEST_CASE("glorot_normal: truncated normal with std sqrt(2/(fan_in+fan_out))", "[core][initializers]") {
  // fan_avg = (300 + 500)/2 = 400, variance 1/400, sampled std = sqrt(1/400) = 0.05 (the truncation is
  // corrected).
  const double stddev = std::sqrt(2.0 / (300.0 + 500.0));
  at::Tensor w = initializers::GlorotNormal(3)({300, 500});
  CHECK(std::sqrt(variance_of(w)) == Approx(stddev).epsilon(0.02));
  CHECK(max_abs(w) <= 2.0 * stddev / 0.87962566 * (1.0 + 1e-6));
}

TEST_CASE("he_normal: truncated, std sqrt(2/fan_in), nothing beyond two untruncated std devs",
          "[core][initializers]") {
  // fan_in = 256: target std sqrt(2/256) = 0.0883883. Keras draws from a normal of std 0.0883883 / 0.87962566
  // (0.87962566 = std of a unit normal truncated to [-2, 2]) and cuts it at 2 of those std devs.
  const double fan_in = 256.0;
  const double target_std = std::sqrt(2.0 / fan_in);
  const double bound = 2.0 * (target_std / 0.87962566);
  at::Tensor w = initializers::HeNormal(5)({256, 800});
  CHECK(std::sqrt(variance_of(w)) == Approx(target_std).epsilon(0.02));
  CHECK(max_abs(w) <= bound * (1.0 + 1e-6));
  CHECK(max_abs(w) > 0.95 * bound);  // truncation, not a narrower distribution
  CHECK(std::abs(mean_of(w)) < 2e-3);
}

TEST_CASE("he_uniform and lecun initializers use fan_in", "[core][initializers]") {
  // he_uniform: limit sqrt(6/fan_in); lecun_uniform: sqrt(3/fan_in); lecun_normal: std sqrt(1/fan_in).
  const double fan_in = 300.0;
  at::Tensor he = initializers::HeUniform(11)({300, 700});
  CHECK(max_abs(he) <= std::sqrt(6.0 / fan_in) * (1.0 + 1e-6));
  CHECK(variance_of(he) == Approx(2.0 / fan_in).epsilon(0.02));
  at::Tensor lu = initializers::LecunUniform(12)({300, 700});
  CHECK(max_abs(lu) <= std::sqrt(3.0 / fan_in) * (1.0 + 1e-6));
  CHECK(variance_of(lu) == Approx(1.0 / fan_in).epsilon(0.02));
  at::Tensor ln = initializers::LecunNormal(13)({300, 700});
  CHECK(variance_of(ln) == Approx(1.0 / fan_in).epsilon(0.03));
  CHECK(max_abs(ln) <= 2.0 * std::sqrt(1.0 / fan_in) / 0.87962566 * (1.0 + 1e-6));
}

TEST_CASE("VarianceScaling options: fan_out, untruncated normal, invalid values", "[core][initializers]") {
  // scale 3, fan_out = 500, uniform: limit = sqrt(3 * 3 / 500).
  at::Tensor w = initializers::VarianceScaling(
      {.scale = 3.0, .mode = "fan_out", .distribution = "uniform", .seed = 1})({200, 500});
  CHECK(max_abs(w) <= std::sqrt(9.0 / 500.0) * (1.0 + 1e-6));
  CHECK(variance_of(w) == Approx(3.0 / 500.0).epsilon(0.02));
  at::Tensor n = initializers::VarianceScaling(
      {.scale = 1.0, .mode = "fan_in", .distribution = "untruncated_normal", .seed = 2})({400, 500});
  CHECK(variance_of(n) == Approx(1.0 / 400.0).epsilon(0.02));
  CHECK(max_abs(n) > 2.0 * std::sqrt(1.0 / 400.0) / 0.87962566);  // 200000 untruncated draws pass 2.27 sigma
  CHECK_THROWS_AS(initializers::VarianceScaling({.scale = 0.0}), ValueError);
  CHECK_THROWS_AS(initializers::VarianceScaling({.mode = "fan_sideways"}), ValueError);
  CHECK_THROWS_AS(initializers::VarianceScaling({.distribution = "cauchy"}), ValueError);
}

TEST_CASE("RandomNormal, RandomUniform and TruncatedNormal defaults", "[core][initializers]") {
  // Keras: RandomNormal(mean=0, stddev=0.05); RandomUniform(minval=-0.05, maxval=0.05); TruncatedNormal(0,
  // 0.05).
  at::Tensor n = initializers::RandomNormal({.seed = 1})({500, 400});
  CHECK(std::abs(mean_of(n)) < 1e-3);
  CHECK(std::sqrt(variance_of(n)) == Approx(0.05).epsilon(0.01));

  at::Tensor u = initializers::RandomUniform({.seed = 2})({500, 400});
  CHECK(u.min().item<double>() >= -0.05 * (1.0 + 1e-6));
  CHECK(u.max().item<double>() <= 0.05 * (1.0 + 1e-6));
  CHECK(variance_of(u) == Approx(0.1 * 0.1 / 12.0).epsilon(0.02));  // (b - a)^2 / 12

  // Keras' TruncatedNormal cuts at two stddevs of the mean; its sampled std is 0.05 * 0.87962566.
  at::Tensor t = initializers::TruncatedNormal({.mean = 1.0, .seed = 3})({500, 400});
  CHECK((t - 1.0).abs().max().item<double>() <= 2.0 * 0.05 * (1.0 + 1e-5));
  CHECK(mean_of(t) == Approx(1.0).margin(1e-3));
  CHECK(std::sqrt(variance_of(t)) == Approx(0.05 * 0.87962566).epsilon(0.02));

  CHECK_THROWS_AS(initializers::RandomUniform({.minval = 1.0, .maxval = 1.0}), ValueError);
}

TEST_CASE("Zeros, Ones, Constant, Identity", "[core][initializers]") {
  CHECK(at::equal(initializers::Zeros()({2, 3}), at::zeros({2, 3})));
  CHECK(at::equal(initializers::Ones()({4}), at::ones({4})));
  CHECK(at::equal(initializers::Constant(2.5)({2, 2}), at::full({2, 2}, 2.5)));
  at::Tensor id = initializers::Identity(3.0)({3, 4});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) CHECK(id[i][j].item<double>() == (i == j ? 3.0 : 0.0));
  CHECK_THROWS_AS(initializers::Identity()({2, 2, 2}), ShapeError);
  CHECK(initializers::Zeros()({3}, at::kDouble).scalar_type() == at::kDouble);
}

TEST_CASE("Orthogonal gives orthonormal columns (tall) or rows (wide), scaled by gain",
          "[core][initializers]") {
  const double gain = 1.5;
  SECTION("tall") {
    at::Tensor q = initializers::Orthogonal({.gain = gain, .seed = 4})({64, 16}).to(at::kDouble);
    at::Tensor qtq = at::matmul(q.t(), q);
    CHECK(at::allclose(qtq, at::eye(16, at::kDouble) * gain * gain, 1e-5, 1e-5));
  }
  SECTION("wide") {
    at::Tensor q = initializers::Orthogonal({.gain = gain, .seed = 4})({10, 40}).to(at::kDouble);
    at::Tensor qqt = at::matmul(q, q.t());
    CHECK(at::allclose(qqt, at::eye(10, at::kDouble) * gain * gain, 1e-5, 1e-5));
  }
  SECTION("square, default gain") {
    at::Tensor q = initializers::Orthogonal({.seed = 9})({20, 20}).to(at::kDouble);
    CHECK(at::allclose(at::matmul(q.t(), q), at::eye(20, at::kDouble), 1e-5, 1e-5));
    CHECK(at::allclose(at::matmul(q, q.t()), at::eye(20, at::kDouble), 1e-5, 1e-5));
  }
  SECTION("conv kernel flattens to (kh*kw*in, out)") {
    at::Tensor q = initializers::Orthogonal({.seed = 2})({3, 3, 4, 8}).to(at::kDouble).reshape({36, 8});
    CHECK(at::allclose(at::matmul(q.t(), q), at::eye(8, at::kDouble), 1e-5, 1e-5));
  }
  CHECK_THROWS_AS(initializers::Orthogonal()({5}), ShapeError);
}

TEST_CASE("seeded initializers repeat, different seeds differ", "[core][initializers][random]") {
  const Shape shape = {30, 20};
  CHECK(at::equal(initializers::GlorotUniform(42)(shape), initializers::GlorotUniform(42)(shape)));
  CHECK_FALSE(at::equal(initializers::GlorotUniform(42)(shape), initializers::GlorotUniform(43)(shape)));
  CHECK(at::equal(initializers::HeNormal(7)(shape), initializers::HeNormal(7)(shape)));
  CHECK_FALSE(at::equal(initializers::HeNormal(7)(shape), initializers::HeNormal(8)(shape)));
  CHECK(at::equal(initializers::RandomNormal({.seed = 1})(shape),
                  initializers::RandomNormal({.seed = 1})(shape)));
  CHECK(
      at::equal(initializers::Orthogonal({.seed = 1})(shape), initializers::Orthogonal({.seed = 1})(shape)));
  // The same seeded object returns the same values on every call.
  initializers::RandomUniform uniform({.seed = 5});
  CHECK(at::equal(uniform(shape), uniform(shape)));
}

TEST_CASE("set_random_seed makes unseeded draws reproducible", "[core][random]") {
  const Shape shape = {16, 8};
  set_random_seed(1234);
  at::Tensor first = initializers::GlorotUniform()(shape);
  at::Tensor second = initializers::GlorotUniform()(shape);
  CHECK_FALSE(at::equal(first, second));  // the global stream advances
  set_random_seed(1234);
  CHECK(at::equal(initializers::GlorotUniform()(shape), first));
  CHECK(at::equal(initializers::GlorotUniform()(shape), second));
  set_random_seed(1235);
  CHECK_FALSE(at::equal(initializers::GlorotUniform()(shape), first));

  // A Dense layer built after the same seed gets the same kernel.
  set_random_seed(99);
  layers::Dense a(4);
  a(at::ones({1, 3}));
  set_random_seed(99);
  layers::Dense b(4);
  b(at::ones({1, 3}));
  CHECK(at::equal(a.kernel(), b.kernel()));
}

TEST_CASE("initializers by name, unknown names, serialization", "[core][initializers]") {
  CHECK(initializers::get("zeros")->class_name() == "Zeros");
  CHECK(initializers::get("he_normal")->class_name() == "HeNormal");
  CHECK(initializers::get("orthogonal")->class_name() == "Orthogonal");
  CHECK(initializers::get("random_normal")->class_name() == "RandomNormal");
  CHECK_THROWS_AS(initializers::get("glorot"), ValueError);
  CHECK_THROWS_WITH(initializers::get("glorot"), Contains("glorot") && Contains("glorot_uniform"));
}

// ---------------------------------------------------------------------------------------------------------------
// Naming, Logs, shapes

TEST_CASE("to_snake_case follows Keras' conversion", "[core][naming]") {
  CHECK(to_snake_case("BatchNormalization") == "batch_normalization");
  CHECK(to_snake_case("Dense") == "dense");
  CHECK(to_snake_case("Conv2D") == "conv2d");
  CHECK(to_snake_case("InputLayer") == "input_layer");
  CHECK(to_snake_case("HTTPServer") == "http_server");
}

TEST_CASE("unique names count up per base and clear_session resets them", "[core][naming]") {
  clear_session();
  CHECK(unique_name("widget") == "widget");
  CHECK(unique_name("widget") == "widget_1");
  CHECK(unique_name("gadget") == "gadget");
  CHECK(unique_name("widget") == "widget_2");

  clear_session();
  layers::Dense first(2), second(2);
  layers::Dense named(2, {.name = "head"});
  CHECK(first.name() == "dense");
  CHECK(second.name() == "dense_1");
  CHECK(named.name() == "head");
  CHECK(first.describe() == "Dense 'dense'");
  clear_session();
  CHECK(layers::Dense(2).name() == "dense");
  CHECK(unique_name("widget") == "widget");
}

TEST_CASE("Logs keep insertion order, overwrite in place, and name missing keys", "[core][logs]") {
  Logs logs;
  CHECK(logs.empty());
  logs.set("loss", 0.5);
  logs.set("accuracy", 0.75);
  logs.set("val_loss", 0.625);
  logs.set("loss", 0.25);  // overwrite keeps the position
  REQUIRE(logs.size() == 3);
  std::vector<std::string> keys;
  for (const auto& [key, value] : logs) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"loss", "accuracy", "val_loss"});
  CHECK(logs.at("loss") == 0.25);
  CHECK(logs.contains("accuracy"));
  CHECK_FALSE(logs.contains("val_accuracy"));
  CHECK(logs.get("val_loss").value_or(-1.0) == 0.625);
  CHECK_FALSE(logs.get("nope").has_value());
  CHECK_THROWS_AS(logs.at("val_accuracy"), ValueError);
  CHECK_THROWS_WITH(logs.at("val_accuracy"),
                    Contains("val_accuracy") && Contains("loss") && Contains("accuracy"));
}

TEST_CASE("shapes print the Keras way", "[core][shape]") {
  CHECK(format_shape({kNone, 784}) == "(None, 784)");
  CHECK(format_shape({10}) == "(10,)");
  CHECK(format_shape({kNone, 28, 28}) == "(None, 28, 28)");
  CHECK(format_shape({}) == "()");
  CHECK(format_dims(std::vector<int64_t>{32, 10}) == "[32, 10]");
  CHECK(with_batch_none({32, 5}) == Shape{kNone, 5});
  CHECK(shape_of(at::zeros({2, 3, 4})) == Shape{2, 3, 4});
  CHECK(num_elements({2, 3, 4}) == 24);
  CHECK_THROWS_AS(num_elements({kNone, 3}), ShapeError);
}
