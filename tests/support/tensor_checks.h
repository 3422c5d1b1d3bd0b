// Checks and tensor helpers shared by the layer tests. Tolerances are always the caller's: each test file
// keeps the tolerances it was written with (thin wrappers there supply its defaults).
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <strata/layers/layer.h>
#include <strata/layers/registry.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace strata::test_support {

// The elements of `t` in row-major order, as doubles.
inline std::vector<double> values_of(const at::Tensor& t) {
  at::Tensor flat = t.detach().to(at::kDouble).contiguous().reshape({-1});
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

// Element by element: |got - expected| <= tol * max(1, |expected|).
inline void check_values(const at::Tensor& actual, const std::vector<double>& expected, double tol) {
  const std::vector<double> got = values_of(actual);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", expected " << expected[i]);
    CHECK(std::abs(got[i] - expected[i]) <= tol * std::max(1.0, std::abs(expected[i])));
  }
}

// The largest absolute difference between two tensors of the same shape, in double.
inline double max_abs_difference(const at::Tensor& actual, const at::Tensor& expected) {
  REQUIRE(actual.sizes() == expected.sizes());
  return (actual.detach().to(at::kDouble) - expected.detach().to(at::kDouble)).abs().max().item<double>();
}

// Same shape and max |actual - expected| < tol (strictly).
inline void check_close(const at::Tensor& actual, const at::Tensor& expected, double tol) {
  const double diff = max_abs_difference(actual, expected);
  INFO("max abs difference " << diff);
  CHECK(diff < tol);
}

// `f` throws an E whose message contains every fragment.
template <class E>
void expect_error(const std::function<void()>& f, std::vector<std::string> fragments) {
  try {
    f();
    FAIL("expected an exception");
  } catch (const E& e) {
    for (const auto& fragment : fragments) CHECK_THAT(e.what(), Catch::Matchers::Contains(fragment));
  }
}

// Uniform in [-1, 1), drawn in double from a generator seeded with `seed`, then cast to `dtype`.
inline at::Tensor rnd(at::IntArrayRef shape, uint64_t seed, at::ScalarType dtype = at::kFloat) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return (at::rand(shape, gen, at::kDouble) * 2 - 1).to(dtype);
}

// Standard normal float64 values from the global generator.
inline at::Tensor random(at::IntArrayRef shape) { return at::randn(shape, at::kDouble); }

// A (1, length, 1) float64 sequence.
inline at::Tensor sequence(std::vector<double> values) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kDouble).reshape({1, n, 1});
}

// Makes every weight of `layer` float64 in place, so the whole computation runs in double.
inline void to_double(Layer& layer) {
  for (auto w : layer.weights()) w.set_data(w.detach().to(at::kDouble));
}

// Central finite differences (step h) of sum(f(x) * weights) with respect to every element of x0, weights
// standard normal, against autograd: |numeric - autograd| <= abs_tol + rel_tol * |numeric|.
inline void check_input_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x0,
                                 double h, double abs_tol, double rel_tol) {
  at::Tensor x = x0.clone().requires_grad_(true);
  const at::Tensor weights = at::randn(f(x0).sizes(), at::kDouble);
  auto loss = [&](const at::Tensor& t) { return (f(t).to(at::kDouble) * weights).sum(); };
  loss(x).backward();
  const std::vector<double> analytic = values_of(x.grad());
  for (int64_t i = 0; i < x0.numel(); ++i) {
    at::Tensor up = x0.clone(), down = x0.clone();
    up.view({-1})[i] += h;
    down.view({-1})[i] -= h;
    const double numeric = (loss(up).item<double>() - loss(down).item<double>()) / (2 * h);
    INFO("element " << i << ": autograd " << analytic[i] << ", finite differences " << numeric);
    CHECK(std::abs(numeric - analytic[i]) <= abs_tol + rel_tol * std::abs(numeric));
  }
}

// `layer` serialized and deserialized; checks that the copy has the same class and config.
inline std::shared_ptr<Layer> restored(const Layer& layer) {
  auto copy = layers::deserialize(layers::serialize(layer));
  CHECK(copy->class_name() == layer.class_name());
  CHECK(copy->get_config() == layer.get_config());
  return copy;
}

// (N, C, spatial...) -> (N, spatial..., C) and back, for checking data_format "channels_first".
inline at::Tensor channels_first_to_last(const at::Tensor& x) {
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < x.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return x.permute(perm).contiguous();
}
inline at::Tensor channels_last_to_first(const at::Tensor& x) {
  std::vector<int64_t> perm{0, x.dim() - 1};
  for (int64_t i = 1; i < x.dim() - 1; ++i) perm.push_back(i);
  return x.permute(perm).contiguous();
}

}  // namespace strata::test_support
