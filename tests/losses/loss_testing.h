#pragma once
// Helpers shared by the loss tests: small double tensors, scalar reads, and a central finite-difference check of a
// loss's gradient with respect to y_pred.

#include <ATen/ATen.h>
#include <strata/losses/loss.h>

#include <catch2/catch.hpp>
#include <vector>

namespace loss_testing {

inline at::Tensor rows(std::vector<double> values, int64_t cols) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kDouble).reshape({n / cols, cols});
}

inline double value(const at::Tensor& t) { return t.item<double>(); }

// d loss / d y_pred from autograd against central differences (step 1e-6, double precision).
inline void check_gradient(const strata::losses::Loss& loss, const at::Tensor& y_true, const at::Tensor& y_pred,
                           const at::Tensor& sample_weight = {}, double tolerance = 1e-6) {
  at::Tensor x = y_pred.detach().clone().requires_grad_(true);
  loss(y_true, x, sample_weight).backward();
  const at::Tensor grad = x.grad().reshape({-1});
  REQUIRE(at::isfinite(grad).all().item<bool>());
  const double h = 1e-6;
  for (int64_t i = 0; i < y_pred.numel(); ++i) {
    at::Tensor plus = y_pred.detach().clone().reshape({-1}), minus = plus.clone();
    plus[i] += h;
    minus[i] -= h;
    const double up = loss(y_true, plus.view_as(y_pred), sample_weight).item<double>();
    const double down = loss(y_true, minus.view_as(y_pred), sample_weight).item<double>();
    CHECK(grad[i].item<double>() == Approx((up - down) / (2 * h)).margin(tolerance));
  }
}

// Every entry of the gradient of the loss with respect to y_pred is finite.
inline bool gradient_finite(const strata::losses::Loss& loss, const at::Tensor& y_true, const at::Tensor& y_pred) {
  at::Tensor x = y_pred.detach().clone().requires_grad_(true);
  loss(y_true, x).backward();
  return at::isfinite(x.grad()).all().item<bool>();
}

}  // namespace loss_testing
