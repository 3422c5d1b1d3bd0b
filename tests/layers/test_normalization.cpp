// Normalization layers: BatchNormalization (training output from batch statistics, moving statistics after
// two steps, inference and frozen behaviour, weight order and counts), LayerNormalization,
// GroupNormalization and UnitNormalization against formulas evaluated with plain loops, gradients against
// central finite differences, configs and errors.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/normalization.h>
#include <strata/layers/registry.h>
#include <strata/models/sequential.h>

#include "../support/tensor_checks.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using test_support::values_of;

void check_close(const at::Tensor& actual, const std::vector<double>& expected, double tol = 1e-5) {
  test_support::check_values(actual, expected, tol);
}

at::Tensor floats(const std::vector<float>& values) { return at::tensor(values, at::kFloat); }

// Per-channel mean and biased variance of a channels_last tensor viewed as (rows, channels).
struct Moments {
  std::vector<double> mean, var;
};
Moments channel_moments(const std::vector<double>& v, int64_t channels) {
  const int64_t rows = static_cast<int64_t>(v.size()) / channels;
  Moments m{std::vector<double>(channels, 0), std::vector<double>(channels, 0)};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) m.mean[c] += v[r * channels + c] / rows;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) {
      const double d = v[r * channels + c] - m.mean[c];
      m.var[c] += d * d / rows;  // biased: divided by n, not n - 1
    }
  return m;
}

// (x - mean) / sqrt(var + eps) * gamma + beta per channel of a channels_last tensor.
std::vector<double> normalize_channels(const std::vector<double>& v, const Moments& m, const std::vector<double>& gamma,
                                       const std::vector<double>& beta, double eps) {
  const int64_t channels = static_cast<int64_t>(gamma.size());
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t c = static_cast<int64_t>(i) % channels;
    out[i] = (v[i] - m.mean[c]) / std::sqrt(m.var[c] + eps) * gamma[c] + beta[c];
  }
  return out;
}

// Central finite differences of sum(f(x) * weights) against autograd. float32 layers get h = 1e-3 and a
// relative tolerance of 1e-2; float64 ones h = 1e-6 and 1e-6.
void check_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x0) {
  const bool single = x0.scalar_type() == at::kFloat;
  const double h = single ? 1e-3 : 1e-6, tol = single ? 1e-2 : 1e-6, floor = single ? 2e-3 : 1e-8;
  test_support::check_input_gradient(f, x0, h, floor, tol);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// BatchNormalization

TEST_CASE("BatchNormalization in training normalizes with the batch mean and biased variance",
          "[normalization][batchnorm]") {
  at::manual_seed(1);
  const at::Tensor x = at::randn({5, 3}) * 2 + 1;
  layers::BatchNormalization bn;
  bn.ensure_built({kNone, 3});
  const std::vector<double> gamma = {1.5, -0.5, 2.0}, beta = {0.1, 0.2, -0.3};
  bn.set_weights({floats({1.5f, -0.5f, 2.0f}), floats({0.1f, 0.2f, -0.3f}), at::zeros({3}), at::ones({3})});
  const std::vector<double> v = values_of(x);
  const Moments m = channel_moments(v, 3);
  check_close(bn(x, /*training=*/true), normalize_channels(v, m, gamma, beta, 1e-3));

  SECTION("over N, H and W of an NHWC input") {
    const at::Tensor image = at::randn({2, 3, 3, 4});
    layers::BatchNormalization bn4;
    const std::vector<double> iv = values_of(image);
    const Moments im = channel_moments(iv, 4);
    check_close(bn4(image, true), normalize_channels(iv, im, {1, 1, 1, 1}, {0, 0, 0, 0}, 1e-3));
  }
  SECTION("axis 1 of a (batch, channels, steps) input") {
    const at::Tensor cf = at::randn({2, 3, 4});
    layers::BatchNormalization bn1({.axis = 1, .epsilon = 0.01});
    // The channels_last reference on the transposed data, transposed back.
    const at::Tensor last = cf.permute({0, 2, 1}).contiguous();
    const std::vector<double> lv = values_of(last);
    const std::vector<double> expected = normalize_channels(lv, channel_moments(lv, 3), {1, 1, 1}, {0, 0, 0}, 0.01);
    const at::Tensor out = bn1(cf, true);
    CHECK(out.sizes() == cf.sizes());
    check_close(out.permute({0, 2, 1}), expected);
  }
}

TEST_CASE("BatchNormalization moving statistics after two training steps follow Keras' formula",
          "[normalization][batchnorm]") {
  at::manual_seed(2);
  const at::Tensor x1 = at::randn({6, 2}) * 3 + 2, x2 = at::randn({6, 2}) - 1;
  for (const double momentum : {0.99, 0.5}) {
    INFO("momentum " << momentum);
    layers::BatchNormalization bn({.momentum = momentum});
    bn(x1, true);
    bn(x2, true);
    const Moments m1 = channel_moments(values_of(x1), 2), m2 = channel_moments(values_of(x2), 2);
    std::vector<double> mean(2), var(2);
    for (int c = 0; c < 2; ++c) {
      // initial moving_mean 0, moving_variance 1; moving = moving * momentum + batch * (1 - momentum)
      const double mean1 = 0 * momentum + m1.mean[c] * (1 - momentum);
      const double var1 = 1 * momentum + m1.var[c] * (1 - momentum);
      mean[c] = mean1 * momentum + m2.mean[c] * (1 - momentum);
      var[c] = var1 * momentum + m2.var[c] * (1 - momentum);
    }
    check_close(bn.moving_mean(), mean);
    check_close(bn.moving_variance(), var);
    CHECK_FALSE(bn.moving_mean().requires_grad());

    // Inference uses the moving statistics (gamma 1, beta 0) and changes nothing.
    const at::Tensor probe = at::randn({4, 2});
    const std::vector<double> expected =
        normalize_channels(values_of(probe), Moments{mean, var}, {1, 1}, {0, 0}, 1e-3);
    check_close(bn(probe, /*training=*/false), expected);
    check_close(bn.moving_mean(), mean);

    // A frozen layer runs in inference mode even when called with training=true, and updates nothing.
    bn.set_trainable(false);
    check_close(bn(probe, /*training=*/true), expected);
    check_close(bn.moving_mean(), mean);
    check_close(bn.moving_variance(), var);
  }
}

TEST_CASE("BatchNormalization weights are gamma, beta, moving_mean, moving_variance in Keras' order",
          "[normalization][batchnorm][weights]") {
  clear_session();
  layers::BatchNormalization bn;
  bn.ensure_built({kNone, 4, 4, 64});
  const auto vars = bn.variables();
  REQUIRE(vars.size() == 4);
  CHECK(vars[0].name == "batch_normalization/gamma");
  CHECK(vars[1].name == "batch_normalization/beta");
  CHECK(vars[2].name == "batch_normalization/moving_mean");
  CHECK(vars[3].name == "batch_normalization/moving_variance");
  CHECK(vars[0].trainable);
  CHECK(vars[1].trainable);
  CHECK_FALSE(vars[2].trainable);
  CHECK_FALSE(vars[3].trainable);
  const auto weights = bn.get_weights();
  for (const auto& w : weights) CHECK(w.sizes() == at::IntArrayRef({64}));
  check_close(weights[0], std::vector<double>(64, 1.0));  // gamma ones
  check_close(weights[1], std::vector<double>(64, 0.0));  // beta zeros
  check_close(weights[2], std::vector<double>(64, 0.0));  // moving_mean zeros
  check_close(weights[3], std::vector<double>(64, 1.0));  // moving_variance ones
  CHECK(bn.trainable_weights().size() == 2);
  CHECK(bn.non_trainable_weights().size() == 2);
  CHECK(bn.count_params() == 4 * 64);

  // Without scale there is no gamma, without center no beta; the moving statistics always exist.
  layers::BatchNormalization no_scale({.scale = false});
  no_scale.ensure_built({kNone, 3});
  CHECK(no_scale.variables().size() == 3);
  CHECK(no_scale.variables()[0].name.ends_with("/beta"));
  layers::BatchNormalization bare({.center = false, .scale = false});
  bare.ensure_built({kNone, 3});
  CHECK(bare.trainable_weights().empty());
  CHECK(bare.non_trainable_weights().size() == 2);
  // Without gamma and beta the output is the plain normalized value.
  const at::Tensor x = at::randn({4, 3});
  const std::vector<double> v = values_of(x);
  check_close(bare(x, true), normalize_channels(v, channel_moments(v, 3), {1, 1, 1}, {0, 0, 0}, 1e-3));
}

TEST_CASE("summary() of a model with BatchNormalization(64 channels) counts 128 non-trainable params",
          "[normalization][batchnorm][summary]") {
  clear_session();
  Sequential model({layers::Input({8, 8, 64}), layers::BatchNormalization()});
  std::ostringstream out;
  model.summary(out);
  const std::string text = out.str();
  INFO(text);
  // gamma + beta = 64 + 64 = 128 trainable; moving_mean + moving_variance = 64 + 64 = 128 non-trainable;
  // total 128 + 128 = 256.
  CHECK_THAT(text, Contains("Total params: 256"));
  CHECK_THAT(text, Contains("Trainable params: 128"));
  CHECK_THAT(text, Contains("Non-trainable params: 128"));
  // The layer's row (its type wraps onto a second line, as in tf.keras) shows its 256 params.
  CHECK_THAT(text, Contains("batch_normalization (Batch") && Contains("(None, 8, 8, 64)          256"));
}

TEST_CASE("BatchNormalization input gradient in training matches central finite differences",
          "[normalization][batchnorm][gradient]") {
  at::manual_seed(4);
  layers::BatchNormalization bn;
  bn.ensure_built({kNone, 3});
  bn.set_weights({floats({1.5f, -0.5f, 2.0f}), floats({0.1f, 0.2f, -0.3f}), at::zeros({3}), at::ones({3})});
  check_gradient([&](const at::Tensor& t) { return bn(t, true); }, at::randn({4, 3}));
  check_gradient([&](const at::Tensor& t) { return bn(t, false); }, at::randn({4, 3}));
  // gamma's gradient is sum(w * x_hat) and beta's sum(w), per channel (a fresh layer: no accumulated grads).
  layers::BatchNormalization fresh;
  const at::Tensor x = at::randn({4, 3});
  const at::Tensor w = at::randn({4, 3});
  (fresh(x, true) * w).sum().backward();
  const std::vector<double> v = values_of(x), wv = values_of(w);
  const Moments m = channel_moments(v, 3);
  std::vector<double> dgamma(3, 0), dbeta(3, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    dgamma[i % 3] += wv[i] * (v[i] - m.mean[i % 3]) / std::sqrt(m.var[i % 3] + 1e-3);
    dbeta[i % 3] += wv[i];
  }
  check_close(fresh.gamma().grad(), dgamma, 1e-4);
  check_close(fresh.beta().grad(), dbeta, 1e-4);
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNormalization

TEST_CASE("LayerNormalization normalizes each sample over its axes with gamma and beta shaped like them",
          "[normalization][layernorm]") {
  at::manual_seed(6);
  const at::Tensor x = at::randn({2, 3, 4}) * 2 + 0.5;
  const std::vector<double> v = values_of(x);
  // Reference over a set of axes of the (2, 3, 4) tensor: loops over every element, grouping by the kept axes.
  auto reference = [&](const std::vector<bool>& reduce, const std::vector<double>& gamma,
                       const std::vector<double>& beta, double eps) {
    const int64_t dims[3] = {2, 3, 4};
    auto key = [&](int64_t i, int64_t j, int64_t k) {  // index among the kept axes
      int64_t idx[3] = {i, j, k}, out = 0;
      for (int d = 0; d < 3; ++d)
        if (!reduce[d]) out = out * dims[d] + idx[d];
      return out;
    };
    auto param = [&](int64_t i, int64_t j, int64_t k) {  // index among the reduced axes
      int64_t idx[3] = {i, j, k}, out = 0;
      for (int d = 0; d < 3; ++d)
        if (reduce[d]) out = out * dims[d] + idx[d];
      return out;
    };
    std::vector<double> sum(24, 0), sq(24, 0), count(24, 0);
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          sum[key(i, j, k)] += v[(i * 3 + j) * 4 + k];
          count[key(i, j, k)] += 1;
        }
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t g = key(i, j, k);
          const double d = v[(i * 3 + j) * 4 + k] - sum[g] / count[g];
          sq[g] += d * d;
        }
    std::vector<double> out;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t g = key(i, j, k), p = param(i, j, k);
          const double mean = sum[g] / count[g], var = sq[g] / count[g];
          out.push_back((v[(i * 3 + j) * 4 + k] - mean) / std::sqrt(var + eps) * gamma[p] + beta[p]);
        }
    return out;
  };
  auto ramp = [](int64_t n, double start, double step) {
    std::vector<double> out;
    for (int64_t i = 0; i < n; ++i) out.push_back(start + step * i);
    return out;
  };
  auto as_tensor = [](const std::vector<double>& values, at::IntArrayRef shape) {
    return at::tensor(values, at::kDouble).to(at::kFloat).reshape(shape);
  };

  SECTION("axis -1: (4,) gamma and beta, ATen's fused path") {
    layers::LayerNormalization ln;
    ln.ensure_built({kNone, 3, 4});
    const auto gamma = ramp(4, 0.5, 0.25), beta = ramp(4, -0.2, 0.1);
    ln.set_weights({as_tensor(gamma, {4}), as_tensor(beta, {4})});
    check_close(ln(x), reference({false, false, true}, gamma, beta, 1e-3));
  }
  SECTION("axis [1, 2]: (3, 4) gamma and beta") {
    layers::LayerNormalization ln({.axis = {-1, 1}, .epsilon = 1e-2});
    ln.ensure_built({kNone, 3, 4});
    CHECK(ln.gamma().sizes() == at::IntArrayRef({3, 4}));
    const auto gamma = ramp(12, 0.5, 0.1), beta = ramp(12, -1, 0.15);
    ln.set_weights({as_tensor(gamma, {3, 4}), as_tensor(beta, {3, 4})});
    check_close(ln(x), reference({false, true, true}, gamma, beta, 1e-2));
  }
  SECTION("axis 1 of three: not the last axes, (3,) gamma and beta") {
    layers::LayerNormalization ln({.axis = {1}});
    ln.ensure_built({kNone, 3, 4});
    CHECK(ln.gamma().sizes() == at::IntArrayRef({3}));
    const auto gamma = ramp(3, 2, -0.5), beta = ramp(3, 0.3, 0.2);
    ln.set_weights({as_tensor(gamma, {3}), as_tensor(beta, {3})});
    check_close(ln(x), reference({false, true, false}, gamma, beta, 1e-3));
  }
  SECTION("without center and scale there are no weights") {
    layers::LayerNormalization ln({.center = false, .scale = false});
    CHECK(ln(x).sizes() == x.sizes());
    CHECK(ln.weights().empty());
    check_close(ln(x), reference({false, false, true}, {1, 1, 1, 1}, {0, 0, 0, 0}, 1e-3));
  }
}

TEST_CASE("LayerNormalization gradients match central finite differences", "[normalization][layernorm][gradient]") {
  at::manual_seed(7);
  layers::LayerNormalization last;
  layers::LayerNormalization middle({.axis = {1}});
  last.ensure_built({kNone, 2, 3});
  last.set_weights({floats({0.5f, 1.5f, -1.0f}), floats({0.1f, 0.0f, 0.2f})});
  check_gradient([&](const at::Tensor& t) { return last(t); }, at::randn({2, 2, 3}));
  check_gradient([&](const at::Tensor& t) { return middle(t); }, at::randn({2, 3, 2}));
}

// ---------------------------------------------------------------------------------------------------------------
// GroupNormalization

TEST_CASE("GroupNormalization normalizes consecutive channel groups over channels and positions",
          "[normalization][groupnorm]") {
  at::manual_seed(8);
  // (2, 5, 6) with 3 groups: each group holds channels {0,1}, {2,3}, {4,5}; per sample and group the
  // statistics run over 5 positions * 2 channels = 10 values.
  const at::Tensor x = at::randn({2, 5, 6}) * 1.5 - 0.5;
  const std::vector<double> v = values_of(x);
  const std::vector<double> gamma = {1, 2, -1, 0.5, 1.5, 0.25}, beta = {0, 0.1, 0.2, 0.3, -0.4, -0.5};
  layers::GroupNormalization gn({.groups = 3});
  gn.ensure_built({kNone, 5, 6});
  gn.set_weights({at::tensor(gamma, at::kDouble).to(at::kFloat), at::tensor(beta, at::kDouble).to(at::kFloat)});
  std::vector<double> expected(v.size());
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t g = 0; g < 3; ++g) {
      double sum = 0, sq = 0;
      for (int64_t p = 0; p < 5; ++p)
        for (int64_t c = 2 * g; c < 2 * g + 2; ++c) sum += v[(n * 5 + p) * 6 + c];
      const double mean = sum / 10;
      for (int64_t p = 0; p < 5; ++p)
        for (int64_t c = 2 * g; c < 2 * g + 2; ++c) sq += std::pow(v[(n * 5 + p) * 6 + c] - mean, 2);
      const double var = sq / 10;
      for (int64_t p = 0; p < 5; ++p)
        for (int64_t c = 2 * g; c < 2 * g + 2; ++c) {
          const int64_t i = (n * 5 + p) * 6 + c;
          expected[i] = (v[i] - mean) / std::sqrt(var + 1e-3) * gamma[c] + beta[c];
        }
    }
  check_close(gn(x), expected);
  CHECK(gn.gamma().sizes() == at::IntArrayRef({6}));
  // The same data channels-first with axis 1 gives the same values, transposed.
  layers::GroupNormalization first({.groups = 3, .axis = 1});
  first.ensure_built({kNone, 6, 5});
  first.set_weights(gn.get_weights());
  check_close(first(x.permute({0, 2, 1})).permute({0, 2, 1}), expected);

  // groups = channels is instance normalization: every channel of every sample on its own (n = 5 values).
  layers::GroupNormalization instance({.groups = 6, .center = false, .scale = false});
  const at::Tensor out = instance(x);
  const at::Tensor ref_mean = x.mean({1}, true), ref_var = (x - ref_mean).pow(2).mean({1}, true);
  CHECK(at::allclose(out, (x - ref_mean) / at::sqrt(ref_var + 1e-3), 1e-5, 1e-5));

  check_gradient([&](const at::Tensor& t) { return gn(t); }, at::randn({1, 3, 6}));
}

TEST_CASE("GroupNormalization channels must be a multiple of groups", "[normalization][groupnorm][errors]") {
  layers::GroupNormalization gn({.groups = 4, .name = "gn_bad"});
  CHECK_THROWS_AS(gn(at::zeros({2, 6})), ValueError);
  CHECK_THROWS_WITH(gn(at::zeros({2, 6})), Contains("GroupNormalization 'gn_bad'") && Contains("6") && Contains("4"));
  CHECK_THROWS_AS(layers::GroupNormalization({.groups = 8})(at::zeros({2, 6})), ValueError);
  CHECK_THROWS_WITH(layers::GroupNormalization({.groups = 0, .name = "gn_zero"}), Contains("gn_zero") && Contains("groups"));
  CHECK_THROWS_AS(layers::GroupNormalization({.groups = 2, .axis = 0})(at::zeros({2, 6})), ValueError);
  CHECK_THROWS_AS(layers::GroupNormalization({.groups = 2, .epsilon = 0})(at::zeros({2, 6})), ValueError);
}

// ---------------------------------------------------------------------------------------------------------------
// UnitNormalization

TEST_CASE("UnitNormalization divides by the L2 norm, clamping the squared sum at 1e-12", "[normalization][unitnorm]") {
  // Row [3, 4]: norm 5 -> [0.6, 0.8]; row [0, 0] stays 0; row [1e-7, 0]: squared sum 1e-14 < 1e-12,
  // so it is divided by sqrt(1e-12) = 1e-6 -> [0.1, 0] (not 1, as a clamp on the norm itself would give).
  const at::Tensor x = at::tensor({3.0, 4.0, 0.0, 0.0, 1e-7, 0.0}, at::kDouble).reshape({3, 2});
  layers::UnitNormalization unit;
  const at::Tensor out = unit(x);
  CHECK(out.scalar_type() == at::kDouble);
  check_close(out, {0.6, 0.8, 0, 0, 0.1, 0}, 1e-12);

  // Over axes [1, 2] of (2, 2, 2): sample 0 = [1, 2, 2, 4] has norm sqrt(1 + 4 + 4 + 16) = 5.
  const at::Tensor y = at::tensor({1.0, 2.0, 2.0, 4.0, 0.0, 0.0, 0.0, 2.0}, at::kDouble).reshape({2, 2, 2});
  check_close(layers::UnitNormalization({.axis = {1, 2}})(y), {0.2, 0.4, 0.4, 0.8, 0, 0, 0, 1}, 1e-12);
  // Over axis 1 only: columns [1, 2] and [2, 4] of sample 0 have norms sqrt(5) and sqrt(20).
  const double r5 = std::sqrt(5.0), r20 = std::sqrt(20.0);
  check_close(layers::UnitNormalization({.axis = {1}})(y), {1 / r5, 2 / r20, 2 / r5, 4 / r20, 0, 0, 0, 1}, 1e-12);

  layers::UnitNormalization grad_layer;
  check_gradient([&](const at::Tensor& t) { return grad_layer(t); }, at::randn({2, 4}, at::kDouble));
}

// ---------------------------------------------------------------------------------------------------------------
// Config

TEST_CASE("normalization get_config holds Keras' keys and round-trips through serialize and deserialize",
          "[normalization][config]") {
  clear_session();
  layers::BatchNormalization bn({.momentum = 0.9, .epsilon = 1e-5, .center = false, .gamma_initializer = "zeros"});
  const nlohmann::json config = bn.get_config();
  CHECK(config.at("name") == "batch_normalization");
  CHECK(config.at("axis") == -1);
  CHECK(config.at("momentum") == 0.9);
  CHECK(config.at("epsilon") == 1e-5);
  CHECK(config.at("center") == false);
  CHECK(config.at("scale") == true);
  CHECK(config.at("gamma_initializer").at("class_name") == "Zeros");
  CHECK(config.at("beta_initializer").at("class_name") == "Zeros");
  CHECK(config.at("moving_mean_initializer").at("class_name") == "Zeros");
  CHECK(config.at("moving_variance_initializer").at("class_name") == "Ones");
  CHECK(config.at("gamma_regularizer").is_null());
  CHECK(layers::LayerNormalization().get_config().at("axis") == -1);
  CHECK(layers::LayerNormalization({.axis = {1, 2}}).get_config().at("axis") == nlohmann::json::array({1, 2}));
  CHECK(layers::GroupNormalization().get_config().at("groups") == 32);

  const std::vector<std::shared_ptr<Layer>> originals = {
      std::make_shared<layers::BatchNormalization>(std::move(bn)),
      std::make_shared<layers::BatchNormalization>(layers::BatchNormalizationOptions{.axis = 1}),
      std::make_shared<layers::LayerNormalization>(layers::LayerNormalizationOptions{.axis = {1, 2}, .epsilon = 1e-6, .scale = false}),
      std::make_shared<layers::LayerNormalization>(),
      std::make_shared<layers::GroupNormalization>(layers::GroupNormalizationOptions{.groups = 4, .axis = 1, .center = false}),
      std::make_shared<layers::UnitNormalization>(layers::UnitNormalizationOptions{.axis = {1, -1}}),
      std::make_shared<layers::UnitNormalization>(),
  };
  for (const auto& original : originals) {
    INFO(original->describe());
    const auto restored = layers::deserialize(layers::serialize(*original));
    CHECK(restored->class_name() == original->class_name());
    CHECK(restored->get_config() == original->get_config());
  }
  // A frozen layer comes back frozen; tf.keras' built axis list [3] is read as axis 3.
  layers::BatchNormalization frozen;
  frozen.set_trainable(false);
  CHECK_FALSE(layers::deserialize(layers::serialize(frozen))->trainable());
  nlohmann::json tf_config = layers::BatchNormalization().get_config();
  tf_config["axis"] = nlohmann::json::array({3});
  CHECK(layers::deserialize({{"class_name", "BatchNormalization"}, {"config", tf_config}})->get_config().at("axis") == 3);
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

TEST_CASE("bad normalization arguments throw a strata::Error naming the layer", "[normalization][errors]") {
  CHECK_THROWS_AS(layers::BatchNormalization({.momentum = 1.5}), ValueError);
  CHECK_THROWS_AS(layers::BatchNormalization({.momentum = -0.1}), ValueError);
  CHECK_THROWS_WITH(layers::BatchNormalization({.momentum = 2, .name = "bn_m"}),
                    Contains("BatchNormalization 'bn_m'") && Contains("momentum"));
  CHECK_NOTHROW(layers::BatchNormalization({.momentum = 0.0}));
  CHECK_NOTHROW(layers::BatchNormalization({.momentum = 1.0}));
  CHECK_THROWS_AS(layers::BatchNormalization({.epsilon = 0}), ValueError);
  CHECK_THROWS_WITH(layers::BatchNormalization({.epsilon = -1e-3, .name = "bn_e"}), Contains("bn_e") && Contains("epsilon"));
  CHECK_THROWS_AS(layers::LayerNormalization({.epsilon = 0}), ValueError);
  CHECK_THROWS_AS(layers::LayerNormalization({.axis = {}}), ValueError);

  // An axis outside the input's rank is found when the layer sees its input.
  layers::BatchNormalization bad_axis({.axis = 3, .name = "bn_axis"});
  CHECK_THROWS_AS(bad_axis(at::zeros({2, 3, 4})), ValueError);
  CHECK_THROWS_WITH(bad_axis(at::zeros({2, 3, 4})), Contains("bn_axis") && Contains("axis 3"));
  CHECK_THROWS_AS(layers::LayerNormalization({.axis = {-4}})(at::zeros({2, 3, 4})), ValueError);
  CHECK_THROWS_WITH(layers::LayerNormalization({.axis = {1, -2}, .name = "ln_dup"})(at::zeros({2, 3, 4})),
                    Contains("ln_dup") && Contains("twice"));
  CHECK_THROWS_AS(layers::UnitNormalization({.axis = {2}})(at::zeros({2, 3})), ValueError);

  // A built layer checks the channel count of later inputs.
  layers::BatchNormalization bn({.name = "bn_channels"});
  bn(at::zeros({2, 3}), true);
  CHECK_THROWS_AS(bn(at::zeros({2, 4})), ShapeError);
  CHECK_THROWS_WITH(bn(at::zeros({2, 4})), Contains("bn_channels"));
  CHECK_THROWS_AS(bn(at::zeros({2, 3}, at::kLong)), ValueError);
}

TEST_CASE("BatchNormalization moving statistics of an NHWC batch are its per-channel mean and biased variance",
          "[normalization][batchnorm]") {
  at::manual_seed(3);
  // Channel 0 spread out, channel 1 constant (variance 0), channel 2 with a variance far below epsilon:
  // the variance is recovered from the normalization's 1/sqrt(var + eps), so the small ones test its precision.
  const at::Tensor x = at::stack({at::randn({2, 5, 5}) * 3 + 1, at::full({2, 5, 5}, 2.5), at::randn({2, 5, 5}) * 1e-3},
                                 /*dim=*/3);
  const Moments m = channel_moments(values_of(x), 3);
  for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    INFO("dtype " << c10::toString(dtype));
    layers::BatchNormalization bn({.momentum = 0.0});  // moving = batch statistics after one step
    bn.ensure_built({kNone, 5, 5, 3});
    bn.set_weights({at::ones({3}, dtype), at::zeros({3}, dtype), at::zeros({3}, dtype), at::ones({3}, dtype)});
    bn(x.to(dtype), /*training=*/true);
    check_close(bn.moving_mean(), m.mean, 1e-6);
    check_close(bn.moving_variance(), m.var, 1e-6);
    CHECK(bn.moving_variance().min().item<double>() >= 0.0);
  }
}
