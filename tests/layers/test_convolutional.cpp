// Convolution layers: output shapes against the Keras / TensorFlow shape arithmetic written out here, outputs
// against direct loop convolutions over explicitly zero-padded NHWC inputs and hand-worked 1-D cases,
// transposed convolutions against scatter-add and the adjoint identity, gradients against central finite
// differences, Keras weight layouts, config round trips and argument errors.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <strata/core/error.h>
#include <strata/layers/convolutional.h>
#include <strata/layers/registry.h>

#include "../support/tensor_checks.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

// --- shape arithmetic, as Keras / TensorFlow define it -------------------------------------------------------

int64_t dilated(int64_t k, int64_t d) { return (k - 1) * d + 1; }
int64_t valid_length(int64_t in, int64_t k, int64_t s, int64_t d) { return (in - dilated(k, d)) / s + 1; }
int64_t same_length(int64_t in, int64_t s) { return (in + s - 1) / s; }
// TensorFlow's "same": total = max((ceil(in / s) - 1) * s + k' - in, 0), the smaller half on the left.
std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t s, int64_t d) {
  const int64_t total = std::max<int64_t>((same_length(in, s) - 1) * s + dilated(k, d) - in, 0);
  return {total / 2, total - total / 2};
}
// Keras' deconv_output_length; output_padding < 0 stands for None.
int64_t deconv_length(int64_t in, int64_t k, const std::string& padding, int64_t output_padding, int64_t s,
                      int64_t d) {
  const int64_t kd = dilated(k, d);
  if (output_padding < 0) return padding == "valid" ? in * s + std::max<int64_t>(kd - s, 0) : in * s;
  const int64_t pad = padding == "same" ? kd / 2 : 0;
  return (in - 1) * s + kd - 2 * pad + output_padding;
}

// --- references ---------------------------------------------------------------------------------------------

at::Tensor rnd(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::rand(shape, gen, at::kFloat) * 2 - 1;
}

// x (N, D, H, W, C) with pads[axis] = {before, after} zeros around each spatial axis, built by copying into zeros.
at::Tensor zero_pad3(const at::Tensor& x, std::array<std::pair<int64_t, int64_t>, 3> pads) {
  at::Tensor out = at::zeros({x.size(0), x.size(1) + pads[0].first + pads[0].second,
                              x.size(2) + pads[1].first + pads[1].second, x.size(3) + pads[2].first + pads[2].second,
                              x.size(4)},
                             x.options());
  out.narrow(1, pads[0].first, x.size(1)).narrow(2, pads[1].first, x.size(2)).narrow(3, pads[2].first, x.size(3)).copy_(x);
  return out;
}

// Valid (unpadded) direct convolution, NDHWC, kernel (kd, kh, kw, C / groups, F), computed with loops in double.
at::Tensor reference_conv3d(const at::Tensor& x_in, const at::Tensor& k_in, const at::Tensor& bias_in,
                            std::array<int64_t, 3> s, std::array<int64_t, 3> d, int64_t groups = 1) {
  const at::Tensor x = x_in.to(at::kDouble).contiguous(), k = k_in.to(at::kDouble).contiguous();
  const auto X = x.accessor<double, 5>();
  const auto K = k.accessor<double, 5>();
  const int64_t N = x.size(0), C = x.size(4), F = k.size(4), Cg = k.size(3), Fg = F / groups;
  std::array<int64_t, 3> out{};
  for (int a = 0; a < 3; ++a) out[a] = valid_length(x.size(1 + a), k.size(a), s[a], d[a]);
  REQUIRE(C == Cg * groups);
  at::Tensor y = at::zeros({N, out[0], out[1], out[2], F}, at::kDouble);
  auto Y = y.accessor<double, 5>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o0 = 0; o0 < out[0]; ++o0)
      for (int64_t o1 = 0; o1 < out[1]; ++o1)
        for (int64_t o2 = 0; o2 < out[2]; ++o2)
          for (int64_t f = 0; f < F; ++f) {
            const int64_t g = f / Fg;
            double acc = bias_in.defined() ? bias_in[f].item<double>() : 0.0;
            for (int64_t t0 = 0; t0 < k.size(0); ++t0)
              for (int64_t t1 = 0; t1 < k.size(1); ++t1)
                for (int64_t t2 = 0; t2 < k.size(2); ++t2)
                  for (int64_t c = 0; c < Cg; ++c)
                    acc += X[n][o0 * s[0] + t0 * d[0]][o1 * s[1] + t1 * d[1]][o2 * s[2] + t2 * d[2]][g * Cg + c] *
                           K[t0][t1][t2][c][f];
            Y[n][o0][o1][o2][f] = acc;
          }
  return y;
}

// 2-D wrappers over the 3-D reference (a depth of one).
at::Tensor reference_conv2d(const at::Tensor& x, const at::Tensor& k, const at::Tensor& bias, std::array<int64_t, 2> s,
                            std::array<int64_t, 2> d, std::array<std::pair<int64_t, int64_t>, 2> pads,
                            int64_t groups = 1) {
  const at::Tensor padded = zero_pad3(x.unsqueeze(1), {std::pair<int64_t, int64_t>{0, 0}, pads[0], pads[1]});
  return reference_conv3d(padded, k.unsqueeze(0), bias, {1, s[0], s[1]}, {1, d[0], d[1]}, groups).squeeze(1);
}

// Depthwise: output channel c * dm + m is input channel c convolved with kernel[:, :, c, m]; loops in double.
at::Tensor reference_depthwise(const at::Tensor& x_in, const at::Tensor& k_in, std::array<int64_t, 2> s,
                               std::array<std::pair<int64_t, int64_t>, 2> pads) {
  const at::Tensor x = zero_pad3(x_in.unsqueeze(1), {std::pair<int64_t, int64_t>{0, 0}, pads[0], pads[1]})
                           .squeeze(1)
                           .to(at::kDouble)
                           .contiguous();
  const at::Tensor k = k_in.to(at::kDouble).contiguous();
  const auto X = x.accessor<double, 4>();
  const auto K = k.accessor<double, 4>();
  const int64_t kh = k.size(0), kw = k.size(1), C = k.size(2), M = k.size(3);
  const int64_t oh = valid_length(x.size(1), kh, s[0], 1), ow = valid_length(x.size(2), kw, s[1], 1);
  at::Tensor y = at::zeros({x.size(0), oh, ow, C * M}, at::kDouble);
  auto Y = y.accessor<double, 4>();
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t m = 0; m < M; ++m) {
            double acc = 0;
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t b = 0; b < kw; ++b) acc += X[n][i * s[0] + a][j * s[1] + b][c] * K[a][b][c][m];
            Y[n][i][j][c * M + m] = acc;
          }
  return y;
}

// Transposed 2-D convolution by its definition: input (i, j, c) adds x * kernel[a, b, f, c] at output position
// (i * s + a * d - pad_top, j * s + b * d - pad_left), kept when inside the (out_h, out_w) output.
at::Tensor reference_conv2d_transpose(const at::Tensor& x_in, const at::Tensor& k_in, std::array<int64_t, 2> s,
                                      std::array<int64_t, 2> d, std::array<int64_t, 2> pad_before,
                                      std::array<int64_t, 2> out) {
  const at::Tensor x = x_in.to(at::kDouble).contiguous(), k = k_in.to(at::kDouble).contiguous();
  const auto X = x.accessor<double, 4>();
  const auto K = k.accessor<double, 4>();
  at::Tensor y = at::zeros({x.size(0), out[0], out[1], k.size(2)}, at::kDouble);
  auto Y = y.accessor<double, 4>();
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t i = 0; i < x.size(1); ++i)
      for (int64_t j = 0; j < x.size(2); ++j)
        for (int64_t a = 0; a < k.size(0); ++a)
          for (int64_t b = 0; b < k.size(1); ++b) {
            const int64_t p = i * s[0] + a * d[0] - pad_before[0], q = j * s[1] + b * d[1] - pad_before[1];
            if (p < 0 || p >= out[0] || q < 0 || q >= out[1]) continue;
            for (int64_t f = 0; f < k.size(2); ++f)
              for (int64_t c = 0; c < k.size(3); ++c) Y[n][p][q][f] += X[n][i][j][c] * K[a][b][f][c];
          }
  return y;
}

using test_support::channels_first_to_last;
using test_support::channels_last_to_first;
using test_support::expect_error;

void check_close(const at::Tensor& actual, const at::Tensor& expected, double tol = 1e-4) {
  test_support::check_close(actual, expected, tol);
}

// Central finite differences of sum(w * layer(x)) with respect to each element of `target` (a copy of one weight,
// or the input), compared with autograd's gradient.
void check_gradient(Layer& layer, at::Tensor x, int which_weight /* -1: the input */, double eps = 1e-2) {
  const at::Tensor probe = rnd(layer(x).sizes(), 99);
  auto objective = [&](const at::Tensor& input) { return (layer(input) * probe).sum(); };

  at::Tensor grad;
  if (which_weight < 0) {
    at::Tensor xg = x.clone().requires_grad_(true);
    objective(xg).backward();
    grad = xg.grad();
  } else {
    const at::Tensor w = layer.weights()[which_weight];
    if (w.grad().defined()) w.grad().zero_();
    objective(x).backward();
    grad = w.grad().clone();
  }
  std::vector<at::Tensor> weights = layer.get_weights();
  at::Tensor target = which_weight < 0 ? x.clone() : weights[which_weight];
  at::Tensor flat = target.view(-1);
  at::NoGradGuard no_grad;
  auto evaluate = [&]() {
    if (which_weight < 0) return objective(target).item<double>();
    layer.set_weights(weights);
    return objective(x).item<double>();
  };
  at::Tensor numeric = at::zeros_like(flat, at::kDouble);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const float original = flat[i].item<float>();
    flat[i] = original + static_cast<float>(eps);
    const double plus = evaluate();
    flat[i] = original - static_cast<float>(eps);
    const double minus = evaluate();
    flat[i] = original;
    numeric[i] = (plus - minus) / (2 * eps);
  }
  if (which_weight >= 0) layer.set_weights(weights);
  const at::Tensor analytic = grad.reshape(-1).to(at::kDouble);
  const double scale = std::max(1.0, numeric.abs().max().item<double>());
  const double diff = (analytic - numeric).abs().max().item<double>();
  INFO("max abs gradient difference " << diff << " at scale " << scale);
  CHECK(diff < 1e-2 * scale);
}

void check_config_round_trip(const Layer& layer) { test_support::restored(layer); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Shapes

TEST_CASE("Conv1D, Conv2D and Conv3D output shapes follow Keras' arithmetic", "[layers][conv]") {
  struct Case2D {
    int64_t kh, kw, sh, sw, dh, dw;
    std::string padding;
  };
  const int64_t H = 9, W = 8;
  for (const Case2D& c : std::vector<Case2D>{{3, 3, 1, 1, 1, 1, "valid"},
                                             {3, 3, 1, 1, 1, 1, "same"},
                                             {4, 2, 2, 2, 1, 1, "same"},
                                             {4, 4, 2, 2, 1, 1, "valid"},
                                             {3, 2, 1, 1, 2, 3, "valid"},
                                             {2, 3, 1, 1, 2, 2, "same"},
                                             {1, 1, 3, 3, 1, 1, "valid"},
                                             {5, 1, 3, 2, 1, 1, "same"}}) {
    layers::Conv2D conv(4, {c.kh, c.kw}, {.strides = {c.sh, c.sw}, .padding = c.padding, .dilation_rate = {c.dh, c.dw}});
    const int64_t oh = c.padding == "valid" ? valid_length(H, c.kh, c.sh, c.dh) : same_length(H, c.sh);
    const int64_t ow = c.padding == "valid" ? valid_length(W, c.kw, c.sw, c.dw) : same_length(W, c.sw);
    INFO("kernel " << c.kh << "x" << c.kw << " strides " << c.sh << "x" << c.sw << " dilation " << c.dh << "x" << c.dw
                   << " " << c.padding);
    CHECK(conv.compute_output_shape({kNone, H, W, 3}) == Shape{kNone, oh, ow, 4});
    CHECK(conv(at::zeros({2, H, W, 3})).sizes() == at::IntArrayRef{2, oh, ow, 4});
  }

  layers::Conv1D causal(2, 3, {.padding = "causal"});
  CHECK(causal(at::zeros({2, 10, 3})).sizes() == at::IntArrayRef{2, 10, 2});
  layers::Conv1D causal_dilated(2, 3, {.strides = 2, .padding = "causal"});
  CHECK(causal_dilated.compute_output_shape({kNone, 11, 3}) == Shape{kNone, same_length(11, 2), 2});
  CHECK(causal_dilated(at::zeros({1, 11, 3})).sizes() == at::IntArrayRef{1, same_length(11, 2), 2});
  layers::Conv1D valid1d(5, 4, {.dilation_rate = 2});
  CHECK(valid1d(at::zeros({1, 12, 2})).sizes() == at::IntArrayRef{1, valid_length(12, 4, 1, 2), 5});
  CHECK(valid1d.compute_output_shape({kNone, kNone, 2}) == Shape{kNone, kNone, 5});

  layers::Conv3D conv3(3, {2, 3, 1}, {.strides = {2, 1, 3}, .padding = "same"});
  CHECK(conv3(at::zeros({1, 5, 6, 7, 2})).sizes() ==
        at::IntArrayRef{1, same_length(5, 2), same_length(6, 1), same_length(7, 3), 3});
  layers::Conv3D conv3v(3, 2, {.strides = 2});
  CHECK(conv3v.compute_output_shape({kNone, 5, 6, 7, 2}) ==
        Shape{kNone, valid_length(5, 2, 2, 1), valid_length(6, 2, 2, 1), valid_length(7, 2, 2, 1), 3});
}

TEST_CASE("Transposed convolutions produce Keras' deconv_output_length", "[layers][conv]") {
  struct Case {
    int64_t k, s, d, output_padding;
    std::string padding;
  };
  for (const Case& c : std::vector<Case>{{3, 2, 1, -1, "valid"},
                                         {3, 2, 1, -1, "same"},
                                         {4, 2, 1, -1, "same"},
                                         {1, 3, 1, -1, "valid"},
                                         {2, 3, 1, -1, "same"},
                                         {3, 2, 1, 1, "same"},
                                         {3, 2, 1, 1, "valid"},
                                         {4, 3, 1, 2, "same"},
                                         {3, 1, 2, -1, "valid"},
                                         {3, 1, 2, -1, "same"}}) {
    INFO("k " << c.k << " s " << c.s << " d " << c.d << " output_padding " << c.output_padding << " " << c.padding);
    const layers::ConvTuple op = c.output_padding < 0 ? layers::ConvTuple() : layers::ConvTuple(c.output_padding);
    layers::Conv2DTranspose conv(2, c.k, {.strides = c.s, .padding = c.padding, .output_padding = op, .dilation_rate = c.d});
    const int64_t oh = deconv_length(4, c.k, c.padding, c.output_padding, c.s, c.d);
    const int64_t ow = deconv_length(5, c.k, c.padding, c.output_padding, c.s, c.d);
    CHECK(conv.compute_output_shape({kNone, 4, 5, 3}) == Shape{kNone, oh, ow, 2});
    CHECK(conv(at::zeros({1, 4, 5, 3})).sizes() == at::IntArrayRef{1, oh, ow, 2});
  }
  layers::Conv1DTranspose t1(3, 4, {.strides = 2});
  CHECK(t1(at::zeros({2, 6, 1})).sizes() == at::IntArrayRef{2, deconv_length(6, 4, "valid", -1, 2, 1), 3});
  layers::Conv3DTranspose t3(1, {2, 3, 2}, {.strides = {2, 1, 2}, .padding = "same"});
  CHECK(t3(at::zeros({1, 2, 3, 4, 2})).sizes() == at::IntArrayRef{1, 4, 3, 8, 1});
  CHECK(t3.compute_output_shape({kNone, kNone, 3, 4, 2}) == Shape{kNone, kNone, 3, 8, 1});
}

// ---------------------------------------------------------------------------------------------------------------
// Values

TEST_CASE("Conv1D matches hand-worked valid, causal, dilated and strided same outputs", "[layers][conv]") {
  const at::Tensor x = at::tensor({1.f, 2.f, 3.f, 4.f, 5.f}).reshape({1, 5, 1});

  layers::Conv1D valid(1, 3);
  valid(x);
  valid.set_weights({at::tensor({1.f, 0.f, -1.f}).reshape({3, 1, 1}), at::tensor({0.5f})});
  check_close(valid(x).reshape(-1), at::tensor({-1.5f, -1.5f, -1.5f}));

  // causal, kernel [1, 2]: one zero on the left, out[i] = x[i - 1] + 2 x[i].
  layers::Conv1D causal(1, 2, {.padding = "causal", .use_bias = false});
  causal(x);
  causal.set_weights({at::tensor({1.f, 2.f}).reshape({2, 1, 1})});
  check_close(causal(x).reshape(-1), at::tensor({2.f, 5.f, 8.f, 11.f, 14.f}));

  // causal, kernel [1, 1], dilation 2: out[i] = x[i - 2] + x[i].
  layers::Conv1D causal_dilated(1, 2, {.padding = "causal", .dilation_rate = 2, .use_bias = false});
  causal_dilated(x);
  causal_dilated.set_weights({at::ones({2, 1, 1})});
  check_close(causal_dilated(x).reshape(-1), at::tensor({1.f, 2.f, 4.f, 6.f, 8.f}));

  // same, stride 2, kernel [1, 10] on 5 steps: 3 outputs, one pad on the right ([1 2 3 4 5 0]).
  layers::Conv1D same(1, 2, {.strides = 2, .padding = "same", .use_bias = false});
  same(x);
  same.set_weights({at::tensor({1.f, 10.f}).reshape({2, 1, 1})});
  check_close(same(x).reshape(-1), at::tensor({21.f, 43.f, 5.f}));

  // two channels in, two filters out, with an activation.
  const at::Tensor x2 = at::tensor({1.f, -1.f, 2.f, 0.f, -3.f, 1.f}).reshape({1, 3, 2});
  layers::Conv1D relu(2, 2, {.activation = "relu"});
  relu(x2);
  // kernel[t][c][f]: filter 0 sums every tap and channel, filter 1 is -(channel 0 at tap 1).
  relu.set_weights({at::tensor({1.f, 0.f, 1.f, 0.f, 1.f, -1.f, 1.f, 0.f}).reshape({2, 2, 2}), at::tensor({0.f, 1.f})});
  // window 0: x[0] = (1, -1), x[1] = (2, 0) -> f0 = 2, f1 = relu(-2 + 1) = 0; window 1: (2, 0), (-3, 1) -> f0 = 0, f1 = 4.
  check_close(relu(x2).reshape(-1), at::tensor({2.f, 0.f, 0.f, 4.f}));
}

TEST_CASE("Conv2D matches a direct loop convolution", "[layers][conv]") {
  SECTION("valid, stride and dilation") {
    const at::Tensor x = rnd({2, 7, 8, 3}, 1);
    layers::Conv2D conv(4, {3, 2}, {.strides = {2, 1}, .dilation_rate = {1, 2}});
    conv(x);
    const at::Tensor kernel = rnd({3, 2, 3, 4}, 2), bias = rnd({4}, 3);
    conv.set_weights({kernel, bias});
    check_close(conv(x), reference_conv2d(x, kernel, bias, {2, 1}, {1, 2}, {std::pair<int64_t, int64_t>{0, 0}, {0, 0}}));
  }
  SECTION("same with stride 2 and an even kernel pads the extra pixel on the bottom and right") {
    const at::Tensor x = rnd({1, 7, 5, 2}, 4);
    layers::Conv2D conv(3, {4, 2}, {.strides = 2, .padding = "same"});
    conv(x);
    const at::Tensor kernel = rnd({4, 2, 2, 3}, 5), bias = rnd({3}, 6);
    conv.set_weights({kernel, bias});
    const auto ph = same_pads(7, 4, 2, 1), pw = same_pads(5, 2, 2, 1);
    CHECK(ph == std::pair<int64_t, int64_t>{1, 2});  // asymmetric in both axes
    CHECK(pw == std::pair<int64_t, int64_t>{0, 1});
    check_close(conv(x), reference_conv2d(x, kernel, bias, {2, 2}, {1, 1}, {ph, pw}));
  }
  SECTION("same with dilation") {
    const at::Tensor x = rnd({1, 6, 6, 2}, 7);
    layers::Conv2D conv(2, 3, {.padding = "same", .dilation_rate = 2, .use_bias = false});
    conv(x);
    const at::Tensor kernel = rnd({3, 3, 2, 2}, 8);
    conv.set_weights({kernel});
    check_close(conv(x), reference_conv2d(x, kernel, at::Tensor(), {1, 1}, {2, 2}, {same_pads(6, 3, 1, 2), same_pads(6, 3, 1, 2)}));
  }
  SECTION("groups") {
    const at::Tensor x = rnd({2, 5, 5, 4}, 9);
    layers::Conv2D conv(6, 3, {.padding = "same", .groups = 2});
    conv(x);
    CHECK(conv.kernel().sizes() == at::IntArrayRef{3, 3, 2, 6});
    const at::Tensor kernel = rnd({3, 3, 2, 6}, 10), bias = rnd({6}, 11);
    conv.set_weights({kernel, bias});
    check_close(conv(x), reference_conv2d(x, kernel, bias, {1, 1}, {1, 1}, {same_pads(5, 3, 1, 1), same_pads(5, 3, 1, 1)}, 2));
  }
}

TEST_CASE("Conv1D and Conv3D match the direct loop convolution", "[layers][conv]") {
  const at::Tensor x1 = rnd({2, 9, 3}, 12);
  layers::Conv1D conv1(2, 4, {.strides = 2, .padding = "same"});
  conv1(x1);
  const at::Tensor k1 = rnd({4, 3, 2}, 13), b1 = rnd({2}, 14);
  conv1.set_weights({k1, b1});
  // (N, W, C) as (N, 1, W, C) with kernel (1, k, C, F).
  const at::Tensor ref1 = reference_conv2d(x1.unsqueeze(1), k1.unsqueeze(0), b1, {1, 2}, {1, 1},
                                           {std::pair<int64_t, int64_t>{0, 0}, same_pads(9, 4, 2, 1)});
  check_close(conv1(x1), ref1.squeeze(1));

  const at::Tensor x3 = rnd({1, 5, 4, 6, 2}, 15);
  layers::Conv3D conv3(3, {2, 3, 2}, {.strides = {2, 1, 2}, .padding = "same"});
  conv3(x3);
  const at::Tensor k3 = rnd({2, 3, 2, 2, 3}, 16), b3 = rnd({3}, 17);
  conv3.set_weights({k3, b3});
  const at::Tensor padded = zero_pad3(x3, {same_pads(5, 2, 2, 1), same_pads(4, 3, 1, 1), same_pads(6, 2, 2, 1)});
  check_close(conv3(x3), reference_conv3d(padded, k3, b3, {2, 1, 2}, {1, 1, 1}));

  layers::Conv3D conv3v(2, 2, {.dilation_rate = {1, 2, 1}, .use_bias = false});
  conv3v(x3);
  const at::Tensor k3v = rnd({2, 2, 2, 2, 2}, 18);
  conv3v.set_weights({k3v});
  check_close(conv3v(x3), reference_conv3d(x3, k3v, at::Tensor(), {1, 1, 1}, {1, 2, 1}));
}

TEST_CASE("Conv1DTranspose matches a hand-worked scatter-add", "[layers][conv]") {
  // x = [1, 2], kernel [1, 10, 100], stride 2: 1 * kernel at 0, 2 * kernel at 2 -> [1, 10, 102, 20, 200].
  const at::Tensor x = at::tensor({1.f, 2.f}).reshape({1, 2, 1});
  layers::Conv1DTranspose valid(1, 3, {.strides = 2, .use_bias = false});
  valid(x);
  valid.set_weights({at::tensor({1.f, 10.f, 100.f}).reshape({3, 1, 1})});
  check_close(valid(x).reshape(-1), at::tensor({1.f, 10.f, 102.f, 20.f, 200.f}));
  // same: length 4, TensorFlow's padding max(5 - 4, 0) = 1 goes on the right, so the last value is dropped.
  layers::Conv1DTranspose same(1, 3, {.strides = 2, .padding = "same"});
  same(x);
  same.set_weights({at::tensor({1.f, 10.f, 100.f}).reshape({3, 1, 1}), at::tensor({0.5f})});
  check_close(same(x).reshape(-1), at::tensor({1.5f, 10.5f, 102.5f, 20.5f}));
  // kernel shorter than the stride: zeros between and after the copies.
  layers::Conv1DTranspose gaps(1, 1, {.strides = 3, .use_bias = false});
  gaps(x);
  gaps.set_weights({at::tensor({2.f}).reshape({1, 1, 1})});
  check_close(gaps(x).reshape(-1), at::tensor({2.f, 0.f, 0.f, 4.f, 0.f, 0.f}));
}

TEST_CASE("Conv2DTranspose matches the scatter-add definition and is the adjoint of Conv2D", "[layers][conv]") {
  struct Case {
    int64_t kh, kw, s, d, output_padding;
    std::string padding;
  };
  const int64_t H = 3, W = 4, C = 2, F = 3;
  for (const Case& c : std::vector<Case>{{3, 3, 2, 1, -1, "valid"},
                                         {3, 2, 2, 1, -1, "same"},
                                         {4, 5, 2, 1, -1, "same"},
                                         {3, 3, 2, 1, 1, "same"},
                                         {2, 2, 3, 1, 2, "valid"},
                                         {3, 2, 1, 2, -1, "same"}}) {
    INFO("kernel " << c.kh << "x" << c.kw << " s " << c.s << " d " << c.d << " output_padding " << c.output_padding
                   << " " << c.padding);
    const layers::ConvTuple op = c.output_padding < 0 ? layers::ConvTuple() : layers::ConvTuple(c.output_padding);
    layers::Conv2DTranspose conv(F, {c.kh, c.kw}, {.strides = c.s, .padding = c.padding, .output_padding = op,
                                                   .dilation_rate = c.d, .use_bias = false});
    const at::Tensor x = rnd({2, H, W, C}, 20);
    conv(x);
    const at::Tensor kernel = rnd({c.kh, c.kw, F, C}, 21);
    conv.set_weights({kernel});
    const at::Tensor y = conv(x);
    const int64_t oh = deconv_length(H, c.kh, c.padding, c.output_padding, c.s, c.d);
    const int64_t ow = deconv_length(W, c.kw, c.padding, c.output_padding, c.s, c.d);
    REQUIRE(y.sizes() == at::IntArrayRef{2, oh, ow, F});

    // The forward convolution that maps an (oh, ow) image back to (H, W) fixes the offset: its "same" left pad.
    const auto ph = c.padding == "same" ? std::pair<int64_t, int64_t>{std::max<int64_t>((H - 1) * c.s + dilated(c.kh, c.d) - oh, 0) / 2, 0}
                                        : std::pair<int64_t, int64_t>{0, 0};
    const auto pw = c.padding == "same" ? std::pair<int64_t, int64_t>{std::max<int64_t>((W - 1) * c.s + dilated(c.kw, c.d) - ow, 0) / 2, 0}
                                        : std::pair<int64_t, int64_t>{0, 0};
    check_close(y, reference_conv2d_transpose(x, kernel, {c.s, c.s}, {c.d, c.d}, {ph.first, pw.first}, {oh, ow}));

    // Adjoint: <conv_transpose(x), v> = <x, conv(v)> for the forward convolution with the same kernel
    // (read as (kh, kw, in = F, out = C)) and padding, computed by the loop reference.
    {
      const at::Tensor v = rnd({2, oh, ow, F}, 22);
      std::array<std::pair<int64_t, int64_t>, 2> pads{std::pair<int64_t, int64_t>{0, 0}, {0, 0}};
      if (c.padding == "same") pads = {same_pads(oh, c.kh, c.s, c.d), same_pads(ow, c.kw, c.s, c.d)};
      at::Tensor back = reference_conv2d(v, kernel, at::Tensor(), {c.s, c.s}, {c.d, c.d}, pads);
      // A valid forward conv may see trailing output rows that no input reaches; crop to the input's size.
      back = back.narrow(1, 0, H).narrow(2, 0, W);
      const double lhs = (y.to(at::kDouble) * v.to(at::kDouble)).sum().item<double>();
      const double rhs = (x.to(at::kDouble) * back).sum().item<double>();
      CHECK(lhs == Approx(rhs).epsilon(1e-4));
    }
  }
}

TEST_CASE("Conv3DTranspose matches the 2-D transpose on a depth of one", "[layers][conv]") {
  const at::Tensor x = rnd({1, 1, 3, 3, 2}, 30);
  layers::Conv3DTranspose conv(2, {1, 3, 2}, {.strides = {1, 2, 2}, .padding = "same"});
  conv(x);
  const at::Tensor kernel = rnd({1, 3, 2, 2, 2}, 31), bias = rnd({2}, 32);
  conv.set_weights({kernel, bias});
  const at::Tensor y = conv(x);
  REQUIRE(y.sizes() == at::IntArrayRef{1, 1, 6, 6, 2});
  // same: rows total pad max((3 - 1) * 2 + 3 - 6, 0) = 1 -> 0 before; cols max(4 + 2 - 6, 0) = 0.
  const at::Tensor ref = reference_conv2d_transpose(x.squeeze(1), kernel.squeeze(0), {2, 2}, {1, 1}, {0, 0}, {6, 6}) +
                         bias.to(at::kDouble);
  check_close(y.squeeze(1), ref);
}

TEST_CASE("DepthwiseConv2D and SeparableConv2D match per-channel references", "[layers][conv]") {
  const at::Tensor x = rnd({2, 6, 5, 3}, 40);
  SECTION("depthwise, depth_multiplier 2, same with stride 2") {
    layers::DepthwiseConv2D conv({3, 2}, {.strides = 2, .padding = "same", .depth_multiplier = 2});
    conv(x);
    CHECK(conv.depthwise_kernel().sizes() == at::IntArrayRef{3, 2, 3, 2});
    CHECK(conv.bias().sizes() == at::IntArrayRef{6});
    const at::Tensor kernel = rnd({3, 2, 3, 2}, 41), bias = rnd({6}, 42);
    conv.set_weights({kernel, bias});
    const at::Tensor ref = reference_depthwise(x, kernel, {2, 2}, {same_pads(6, 3, 2, 1), same_pads(5, 2, 2, 1)}) +
                           bias.to(at::kDouble);
    check_close(conv(x), ref);
    CHECK(conv.compute_output_shape({kNone, 6, 5, 3}) == Shape{kNone, 3, 3, 6});
  }
  SECTION("depthwise, valid") {
    layers::DepthwiseConv2D conv(3, {.use_bias = false});
    conv(x);
    const at::Tensor kernel = rnd({3, 3, 3, 1}, 43);
    conv.set_weights({kernel});
    check_close(conv(x), reference_depthwise(x, kernel, {1, 1}, {std::pair<int64_t, int64_t>{0, 0}, {0, 0}}));
  }
  SECTION("separable: depthwise then a 1x1 convolution") {
    layers::SeparableConv2D conv(4, 2, {.padding = "same", .depth_multiplier = 2, .activation = "tanh"});
    conv(x);
    const auto weights = conv.get_weights();
    REQUIRE(weights.size() == 3);
    CHECK(weights[0].sizes() == at::IntArrayRef{2, 2, 3, 2});
    CHECK(weights[1].sizes() == at::IntArrayRef{1, 1, 6, 4});
    CHECK(weights[2].sizes() == at::IntArrayRef{4});
    const at::Tensor dk = rnd({2, 2, 3, 2}, 44), pk = rnd({1, 1, 6, 4}, 45), bias = rnd({4}, 46);
    conv.set_weights({dk, pk, bias});
    const at::Tensor depthwise = reference_depthwise(x, dk, {1, 1}, {same_pads(6, 2, 1, 1), same_pads(5, 2, 1, 1)});
    const at::Tensor ref = at::tanh(at::einsum("nhwc,cf->nhwf", {depthwise, pk.reshape({6, 4}).to(at::kDouble)}) +
                                    bias.to(at::kDouble));
    check_close(conv(x), ref);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Gradients

TEST_CASE("Convolution gradients match central finite differences", "[layers][conv]") {
  SECTION("Conv2D, same, stride 2, even kernel, tanh") {
    layers::Conv2D conv(2, 2, {.strides = 2, .padding = "same", .activation = "tanh"});
    const at::Tensor x = rnd({1, 5, 5, 2}, 50);
    conv(x);
    check_gradient(conv, x, 0);
    check_gradient(conv, x, 1);
    check_gradient(conv, x, -1);
  }
  SECTION("Conv1D causal, dilated") {
    layers::Conv1D conv(2, 2, {.padding = "causal", .dilation_rate = 2, .activation = "tanh"});
    const at::Tensor x = rnd({2, 6, 2}, 51);
    conv(x);
    check_gradient(conv, x, 0);
    check_gradient(conv, x, -1);
  }
  SECTION("Conv2DTranspose, same, stride 2") {
    layers::Conv2DTranspose conv(2, 3, {.strides = 2, .padding = "same", .activation = "tanh"});
    const at::Tensor x = rnd({1, 3, 3, 2}, 52);
    conv(x);
    check_gradient(conv, x, 0);
    check_gradient(conv, x, -1);
  }
  SECTION("SeparableConv2D") {
    layers::SeparableConv2D conv(2, 2, {.padding = "same", .activation = "tanh"});
    const at::Tensor x = rnd({1, 3, 3, 2}, 53);
    conv(x);
    check_gradient(conv, x, 0);
    check_gradient(conv, x, 1);
    check_gradient(conv, x, -1);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Weights and configs

TEST_CASE("Convolution weights use Keras' layouts and round-trip through set_weights", "[layers][conv]") {
  layers::Conv1D c1(4, 3);
  c1(at::zeros({1, 5, 2}));
  layers::Conv2D c2(8, {3, 2}, {.groups = 2});
  c2(at::zeros({1, 5, 5, 6}));
  layers::Conv3D c3(2, 2, {.use_bias = false});
  c3(at::zeros({1, 3, 3, 3, 5}));
  layers::Conv2DTranspose t2(7, {3, 2});
  t2(at::zeros({1, 3, 3, 4}));
  CHECK(c1.get_weights()[0].sizes() == at::IntArrayRef{3, 2, 4});
  CHECK(c1.get_weights()[1].sizes() == at::IntArrayRef{4});
  CHECK(c2.get_weights()[0].sizes() == at::IntArrayRef{3, 2, 3, 8});
  CHECK(c3.get_weights().size() == 1);
  CHECK(c3.get_weights()[0].sizes() == at::IntArrayRef{2, 2, 2, 5, 2});
  CHECK(t2.get_weights()[0].sizes() == at::IntArrayRef{3, 2, 7, 4});
  CHECK(t2.get_weights()[1].sizes() == at::IntArrayRef{7});
  CHECK(c2.variables()[0].name == c2.name() + "/kernel");
  CHECK(c2.count_params() == 3 * 2 * 3 * 8 + 8);

  const std::vector<at::Tensor> weights{rnd({3, 2, 3, 8}, 60), rnd({8}, 61)};
  c2.set_weights(weights);
  const auto back = c2.get_weights();
  CHECK(at::equal(back[0], weights[0]));
  CHECK(at::equal(back[1], weights[1]));
  // Bias starts at zero and glorot_uniform stays inside sqrt(6 / (fan_in + fan_out)) with receptive-field fans.
  layers::Conv2D fresh(8, 3);
  fresh(at::zeros({1, 4, 4, 2}));
  CHECK(at::equal(fresh.bias(), at::zeros({8})));
  CHECK(fresh.kernel().abs().max().item<double>() <= std::sqrt(6.0 / (9 * 2 + 9 * 8)));
  CHECK_THROWS_AS(c2.set_weights({rnd({3, 2, 6, 8}, 62), rnd({8}, 63)}), ShapeError);
}

TEST_CASE("Convolution configs hold Keras' keys and round-trip through layers::deserialize", "[layers][conv]") {
  layers::Conv2D conv(16, {3, 5}, {.strides = {2, 1}, .padding = "same", .dilation_rate = 1, .groups = 2,
                                   .activation = "relu", .use_bias = false, .kernel_initializer = "he_normal",
                                   .name = "features"});
  const nlohmann::json config = conv.get_config();
  CHECK(config.at("name") == "features");
  CHECK(config.at("filters") == 16);
  CHECK(config.at("kernel_size") == nlohmann::json::array({3, 5}));
  CHECK(config.at("strides") == nlohmann::json::array({2, 1}));
  CHECK(config.at("padding") == "same");
  CHECK(config.at("data_format") == "channels_last");
  CHECK(config.at("dilation_rate") == nlohmann::json::array({1, 1}));
  CHECK(config.at("groups") == 2);
  CHECK(config.at("activation") == "relu");
  CHECK(config.at("use_bias") == false);
  CHECK(config.at("kernel_initializer").at("class_name") == "HeNormal");
  CHECK(config.at("bias_initializer").at("class_name") == "Zeros");
  CHECK(config.at("kernel_regularizer").is_null());
  CHECK(config.at("bias_constraint").is_null());
  check_config_round_trip(conv);

  check_config_round_trip(layers::Conv1D(4, 3, {.padding = "causal", .dilation_rate = 2, .name = "c1"}));
  check_config_round_trip(layers::Conv3D(2, {1, 2, 3}, {.strides = {1, 1, 2}, .activation = "sigmoid", .name = "c3"}));
  layers::Conv2DTranspose t2(3, 3, {.strides = 2, .padding = "same", .output_padding = 1, .name = "up"});
  CHECK(t2.get_config().at("output_padding") == nlohmann::json::array({1, 1}));
  CHECK(layers::Conv1DTranspose(3, 3, {.name = "t1"}).get_config().at("output_padding").is_null());
  check_config_round_trip(t2);
  check_config_round_trip(layers::Conv1DTranspose(3, 2, {.strides = 2, .name = "t1b"}));
  check_config_round_trip(layers::Conv3DTranspose(3, 2, {.dilation_rate = {1, 2, 1}, .name = "t3"}));
  layers::DepthwiseConv2D dw(3, {.depth_multiplier = 4, .depthwise_initializer = "ones", .name = "dw"});
  CHECK(dw.get_config().at("depth_multiplier") == 4);
  CHECK(dw.get_config().at("depthwise_initializer").at("class_name") == "Ones");
  check_config_round_trip(dw);
  layers::SeparableConv2D sep(8, 3, {.padding = "same", .depth_multiplier = 2, .pointwise_initializer = "zeros",
                                     .name = "sep"});
  CHECK(sep.get_config().at("pointwise_initializer").at("class_name") == "Zeros");
  check_config_round_trip(sep);

  // A hand-written Keras config with int kernel_size and strides, null data_format.
  const auto from_keras = layers::deserialize(
      {{"class_name", "Conv2D"},
       {"config", {{"name", "k"}, {"filters", 2}, {"kernel_size", 3}, {"strides", 1}, {"data_format", nullptr}}}});
  CHECK(from_keras->get_config().at("kernel_size") == nlohmann::json::array({3, 3}));
  CHECK((*from_keras)(at::zeros({1, 4, 4, 1})).sizes() == at::IntArrayRef{1, 2, 2, 2});
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

TEST_CASE("Convolution layers reject bad arguments and inputs with errors naming the layer", "[layers][conv]") {
  expect_error<ValueError>([] { layers::Conv2D(0, 3, {.name = "bad_filters"}); }, {"bad_filters", "filters", "0"});
  expect_error<ValueError>([] { layers::Conv2D(4, {3, 0}, {.name = "bad_kernel"}); }, {"bad_kernel", "kernel_size"});
  expect_error<ValueError>([] { layers::Conv2D(4, {3, 3, 3}, {.name = "bad_rank"}); }, {"bad_rank", "kernel_size", "2"});
  expect_error<ValueError>([] { layers::Conv1D(4, 3, {.strides = 0, .name = "bad_strides"}); }, {"bad_strides", "strides"});
  expect_error<ValueError>([] { layers::Conv3D(4, 3, {.dilation_rate = -1, .name = "bad_dilation"}); },
                           {"bad_dilation", "dilation_rate"});
  expect_error<ValueError>([] { layers::Conv2D(4, 3, {.padding = "full", .name = "bad_padding"}); },
                           {"bad_padding", "padding", "full"});
  expect_error<ValueError>([] { layers::Conv2D(4, 3, {.padding = "causal", .name = "causal2d"}); },
                           {"causal2d", "causal"});
  expect_error<ValueError>([] { layers::Conv2D(4, 3, {.data_format = "channels_middle", .name = "cf"}); },
                           {"cf", "data_format", "channels_middle"});
  expect_error<ValueError>([] { layers::Conv2D(5, 3, {.groups = 2, .name = "odd_groups"}); },
                           {"odd_groups", "filters", "groups"});
  expect_error<ValueError>([] { layers::Conv2DTranspose(-1, 3, {.name = "neg_t"}); }, {"neg_t", "filters", "-1"});
  expect_error<ValueError>([] { layers::Conv2DTranspose(2, 3, {.strides = 2, .output_padding = 2, .name = "op"}); },
                           {"op", "output_padding", "strides"});
  expect_error<ValueError>([] { layers::Conv1DTranspose(2, 3, {.padding = "causal", .name = "ct"}); }, {"ct", "padding"});
  expect_error<ValueError>([] { layers::DepthwiseConv2D(3, {.depth_multiplier = 0, .name = "dm0"}); },
                           {"dm0", "depth_multiplier"});
  expect_error<ValueError>([] { layers::SeparableConv2D(0, 3, {.name = "sep0"}); }, {"sep0", "filters"});

  layers::Conv2D big(2, 5, {.dilation_rate = 1, .name = "too_big"});
  expect_error<ShapeError>([&] { big(at::zeros({1, 4, 8, 1})); }, {"too_big", "valid", "[1, 4, 8, 1]"});
  layers::Conv1D dilated(2, 3, {.dilation_rate = 3, .name = "too_dilated"});
  expect_error<ShapeError>([&] { dilated(at::zeros({1, 6, 1})); }, {"too_dilated", "[1, 6, 1]"});
  expect_error<ShapeError>([&] { dilated.compute_output_shape({kNone, 6, 1}); }, {"too_dilated", "(None, 6, 1)"});
  layers::Conv1D fits(2, 3, {.dilation_rate = 3, .name = "fits"});
  CHECK(fits(at::zeros({1, 7, 1})).sizes() == at::IntArrayRef{1, 1, 2});
  expect_error<ShapeError>([&] { fits(at::zeros({1, 5, 1})); }, {"fits", "[1, 5, 1]"});

  layers::Conv2D rank(2, 3, {.name = "rank_check"});
  expect_error<ShapeError>([&] { rank(at::zeros({1, 5, 5})); }, {"rank_check", "[1, 5, 5]"});
  expect_error<ShapeError>([&] { rank.compute_output_shape({kNone, 5, 5}); }, {"rank_check", "4"});
  rank(at::zeros({1, 5, 5, 3}));
  expect_error<ShapeError>([&] { rank(at::zeros({1, 5, 5, 4})); }, {"rank_check", "[1, 5, 5, 4]"});

  layers::Conv2D grouped(4, 3, {.groups = 4, .name = "grouped"});
  expect_error<ShapeError>([&] { grouped(at::zeros({1, 5, 5, 6})); }, {"grouped", "6", "groups"});
  layers::Conv2DTranspose t(2, 3, {.name = "t_rank"});
  expect_error<ShapeError>([&] { t(at::zeros({1, 5, 5, 2, 1})); }, {"t_rank", "[1, 5, 5, 2, 1]"});
  layers::Conv2D ints(2, 1, {.name = "ints"});
  expect_error<ValueError>([&] { ints(at::zeros({1, 2, 2, 1}, at::kLong)); }, {"ints", "floating"});
}

// ---------------------------------------------------------------------------------------------------------------
// data_format "channels_first": every layer against its channels_last self on the permuted input, same
// weights.

namespace {

using LayerFactory = std::function<std::shared_ptr<Layer>(const std::string& data_format)>;

// Builds make("channels_last") on x permuted to channels-last and make("channels_first") on x
// (channels-first), gives the channels_first layer the channels_last layer's weights, and compares the
// outputs (permuted back), the weight shapes and compute_output_shape with an unknown batch.
void check_channels_first_matches_last(const LayerFactory& make, const at::Tensor& x_first) {
  const auto last = make("channels_last");
  const auto first = make("channels_first");
  INFO(first->describe() << " on " << format_dims(x_first.sizes()));
  const at::Tensor expected = channels_last_to_first((*last)(channels_first_to_last(x_first)));
  (*first)(x_first);  // builds; set_weights checks that every weight has the channels_last layer's shape
  first->set_weights(last->get_weights());
  const at::Tensor actual = (*first)(x_first);
  check_close(actual, expected, 1e-5);
  Shape input_shape(x_first.sizes().begin(), x_first.sizes().end());
  input_shape[0] = kNone;
  Shape output_shape(actual.sizes().begin(), actual.sizes().end());
  output_shape[0] = kNone;
  CHECK(first->compute_output_shape(input_shape) == output_shape);
  CHECK(first->get_config().at("data_format") == "channels_first");
}

}  // namespace

TEST_CASE("channels_first Conv1D/2D/3D equal channels_last on the permuted input",
          "[layers][conv][channels_first]") {
  const std::vector<std::pair<LayerFactory, std::vector<int64_t>>> cases = {
      {[](const std::string& f) {
         return std::make_shared<layers::Conv1D>(4, 3, layers::ConvOptions{.data_format = f});
       },
       {2, 3, 9}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv1D>(
             3, 4, layers::ConvOptions{.strides = 2, .padding = "same", .data_format = f});
       },
       {2, 2, 9}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv1D>(
             2, 2,
             layers::ConvOptions{
                 .padding = "causal", .data_format = f, .dilation_rate = 2, .activation = "tanh"});
       },
       {2, 3, 7}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv1D>(
             4, 3, layers::ConvOptions{.padding = "causal", .data_format = f, .groups = 2});
       },
       {1, 4, 6}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv2D>(
             5, layers::ConvTuple{3, 2},
             layers::ConvOptions{.strides = {2, 1}, .padding = "same", .data_format = f});
       },
       {2, 3, 7, 6}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv2D>(
             3, 3,
             layers::ConvOptions{
                 .data_format = f, .dilation_rate = 2, .activation = "relu", .use_bias = false});
       },
       {2, 2, 8, 7}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv2D>(
             6, 2, layers::ConvOptions{.padding = "same", .data_format = f, .groups = 3});
       },
       {1, 6, 5, 4}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv3D>(
             3, 2, layers::ConvOptions{.strides = {1, 2, 1}, .padding = "same", .data_format = f});
       },
       {2, 2, 4, 5, 3}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv3D>(
             2, layers::ConvTuple{2, 1, 3},
             layers::ConvOptions{.data_format = f, .dilation_rate = {1, 1, 2}});
       },
       {1, 3, 3, 4, 6}},
  };
  for (size_t i = 0; i < cases.size(); ++i)
    check_channels_first_matches_last(cases[i].first, rnd(cases[i].second, 300 + i));
}

TEST_CASE("channels_first transposed convolutions equal channels_last on the permuted input",
          "[layers][conv][channels_first]") {
  const std::vector<std::pair<LayerFactory, std::vector<int64_t>>> cases = {
      {[](const std::string& f) {
         return std::make_shared<layers::Conv1DTranspose>(
             3, 3, layers::ConvTransposeOptions{.strides = 2, .data_format = f});
       },
       {2, 2, 5}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv1DTranspose>(
             2, 3,
             layers::ConvTransposeOptions{
                 .strides = 2, .padding = "same", .output_padding = 1, .data_format = f});
       },
       {2, 3, 4}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv2DTranspose>(
             4, layers::ConvTuple{3, 2},
             layers::ConvTransposeOptions{.strides = {2, 3}, .padding = "same", .data_format = f});
       },
       {2, 3, 4, 3}},
      // valid with the stride larger than the kernel: Keras' length appends positions that hold only the
      // bias.
      {[](const std::string& f) {
         return std::make_shared<layers::Conv2DTranspose>(
             2, 2, layers::ConvTransposeOptions{.strides = 3, .data_format = f, .bias_initializer = "ones"});
       },
       {1, 2, 3, 2}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv2DTranspose>(
             3, 3, layers::ConvTransposeOptions{.data_format = f, .dilation_rate = 2, .activation = "tanh"});
       },
       {2, 2, 3, 4}},
      {[](const std::string& f) {
         return std::make_shared<layers::Conv3DTranspose>(
             2, 2, layers::ConvTransposeOptions{.strides = 2, .padding = "same", .data_format = f});
       },
       {1, 3, 2, 3, 2}},
  };
  for (size_t i = 0; i < cases.size(); ++i)
    check_channels_first_matches_last(cases[i].first, rnd(cases[i].second, 320 + i));
}

TEST_CASE("channels_first DepthwiseConv2D and SeparableConv2D equal channels_last on the permuted input",
          "[layers][conv][channels_first]") {
  const std::vector<std::pair<LayerFactory, std::vector<int64_t>>> cases = {
      {[](const std::string& f) {
         return std::make_shared<layers::DepthwiseConv2D>(
             3, layers::DepthwiseConv2DOptions{
                    .strides = 2, .padding = "same", .depth_multiplier = 2, .data_format = f});
       },
       {2, 3, 7, 6}},
      {[](const std::string& f) {
         return std::make_shared<layers::DepthwiseConv2D>(
             layers::ConvTuple{2, 3}, layers::DepthwiseConv2DOptions{
                                          .data_format = f, .dilation_rate = 2, .bias_initializer = "ones"});
       },
       {1, 2, 6, 8}},
      {[](const std::string& f) {
         return std::make_shared<layers::SeparableConv2D>(
             4, 3,
             layers::SeparableConv2DOptions{.padding = "same", .data_format = f, .depth_multiplier = 2});
       },
       {2, 3, 5, 6}},
      {[](const std::string& f) {
         return std::make_shared<layers::SeparableConv2D>(
             3, 2, layers::SeparableConv2DOptions{.strides = 2, .data_format = f, .activation = "relu"});
       },
       {1, 2, 7, 5}},
  };
  for (size_t i = 0; i < cases.size(); ++i)
    check_channels_first_matches_last(cases[i].first, rnd(cases[i].second, 340 + i));
}

TEST_CASE("channels_first convolution output shapes follow the arithmetic with channels on axis 1",
          "[layers][conv][channels_first]") {
  const std::string cf = "channels_first";
  CHECK(layers::Conv1D(4, 3, {.data_format = cf, .dilation_rate = 2}).compute_output_shape({kNone, 2, 9}) ==
        Shape{kNone, 4, valid_length(9, 3, 1, 2)});
  CHECK(layers::Conv1D(4, 3, {.padding = "causal", .data_format = cf, .dilation_rate = 2})
            .compute_output_shape({kNone, 2, 9}) == Shape{kNone, 4, 9});
  CHECK(layers::Conv2D(5, {3, 2}, {.strides = {2, 1}, .padding = "same", .data_format = cf})
            .compute_output_shape({kNone, 3, 7, 6}) == Shape{kNone, 5, same_length(7, 2), same_length(6, 1)});
  CHECK(layers::Conv2D(5, 3, {.data_format = cf}).compute_output_shape({kNone, 3, kNone, 6}) ==
        Shape{kNone, 5, kNone, 4});
  CHECK(layers::Conv3D(2, {2, 3, 1}, {.strides = {2, 2, 3}, .data_format = cf})
            .compute_output_shape({4, 1, 6, 7, 8}) ==
        Shape{4, 2, valid_length(6, 2, 2, 1), valid_length(7, 3, 2, 1), valid_length(8, 1, 3, 1)});
  CHECK(layers::Conv2DTranspose(3, {3, 2}, {.strides = {2, 3}, .padding = "same", .data_format = cf})
            .compute_output_shape({kNone, 4, 5, 6}) ==
        Shape{kNone, 3, deconv_length(5, 3, "same", -1, 2, 1), deconv_length(6, 2, "same", -1, 3, 1)});
  CHECK(layers::Conv1DTranspose(2, 3, {.strides = 2, .output_padding = 1, .data_format = cf})
            .compute_output_shape({kNone, 4, 5}) == Shape{kNone, 2, deconv_length(5, 3, "valid", 1, 2, 1)});
  CHECK(layers::DepthwiseConv2D(3, {.depth_multiplier = 3, .data_format = cf})
            .compute_output_shape({2, 4, 6, 5}) == Shape{2, 12, 4, 3});
  CHECK(layers::SeparableConv2D(7, 3, {.strides = 2, .padding = "same", .data_format = cf})
            .compute_output_shape({2, 4, 6, 5}) == Shape{2, 7, 3, 3});
  // Keras compares data_format in lower case.
  CHECK(layers::Conv2D(2, 3, {.data_format = "Channels_First"}).data_format() == cf);
}

TEST_CASE("channels_first convolution configs keep data_format through serialize and deserialize",
          "[layers][conv][channels_first]") {
  const std::string cf = "channels_first";
  const std::vector<std::pair<std::shared_ptr<Layer>, std::vector<int64_t>>> cases = {
      {std::make_shared<layers::Conv1D>(
           3, 2, layers::ConvOptions{.padding = "causal", .data_format = cf, .name = "c1"}),
       {2, 2, 6}},
      {std::make_shared<layers::Conv2D>(
           4, 3, layers::ConvOptions{.padding = "same", .data_format = cf, .groups = 2}),
       {2, 4, 5, 5}},
      {std::make_shared<layers::Conv3D>(2, 2, layers::ConvOptions{.data_format = cf}), {1, 2, 3, 4, 3}},
      {std::make_shared<layers::Conv1DTranspose>(
           2, 3, layers::ConvTransposeOptions{.strides = 2, .data_format = cf}),
       {1, 3, 4}},
      {std::make_shared<layers::Conv2DTranspose>(
           2, 3,
           layers::ConvTransposeOptions{
               .strides = 2, .padding = "same", .output_padding = 1, .data_format = cf}),
       {1, 3, 3, 4}},
      {std::make_shared<layers::Conv3DTranspose>(2, 2, layers::ConvTransposeOptions{.data_format = cf}),
       {1, 2, 2, 2, 3}},
      {std::make_shared<layers::DepthwiseConv2D>(
           3, layers::DepthwiseConv2DOptions{.depth_multiplier = 2, .data_format = cf}),
       {1, 3, 5, 5}},
      {std::make_shared<layers::SeparableConv2D>(3, 2, layers::SeparableConv2DOptions{.data_format = cf}),
       {1, 2, 4, 4}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    Layer& original = *cases[i].first;
    INFO(original.describe());
    CHECK(original.get_config().at("data_format") == cf);
    check_config_round_trip(original);
    const at::Tensor x = rnd(cases[i].second, 360 + i);
    const at::Tensor y = original(x);
    const auto copy = layers::deserialize(layers::serialize(original));
    (*copy)(x);
    copy->set_weights(original.get_weights());
    CHECK(at::allclose((*copy)(x), y));
  }
}

TEST_CASE("channels_first convolutions reject a wrong rank, a wrong channel count and unknown data formats",
          "[layers][conv][channels_first]") {
  const std::string cf = "channels_first";
  layers::Conv2D conv(2, 3, {.data_format = cf, .name = "cf_rank"});
  expect_error<ShapeError>([&] { conv(at::zeros({1, 3, 5})); }, {"cf_rank", "[1, 3, 5]"});
  expect_error<ShapeError>(
      [&] {
        conv.compute_output_shape({kNone, 3, 5});
      },
      {"cf_rank", "rank 4", "(batch, channels, rows, cols)", "(None, 3, 5)"});
  conv(at::zeros({1, 3, 5, 5}));
  CHECK(conv.kernel().sizes() == at::IntArrayRef{3, 3, 3, 2});
  CHECK(conv(at::zeros({2, 3, 7, 6})).sizes() == at::IntArrayRef{2, 2, 5, 4});
  // Built on 3 channels, the input spec requires 3 on axis 1: a channels_last-shaped input has 5 there.
  expect_error<ShapeError>(
      [&] {
        conv(at::zeros({1, 5, 5, 3}));
      },
      {"cf_rank", "(None, 3, None, None)", "[1, 5, 5, 3]"});
  expect_error<ShapeError>(
      [&] {
        conv(at::zeros({1, 4, 5, 5}));
      },
      {"cf_rank", "(None, 3, None, None)", "[1, 4, 5, 5]"});

  layers::Conv1D grouped(4, 2, {.data_format = cf, .groups = 2, .name = "cf_groups"});
  expect_error<ShapeError>([&] { grouped(at::zeros({1, 3, 8})); }, {"cf_groups", "3", "groups"});
  layers::Conv1D small(2, 5, {.data_format = cf, .name = "cf_small"});
  expect_error<ShapeError>([&] { small(at::zeros({1, 8, 4})); }, {"cf_small", "valid", "[1, 8, 4]"});
  layers::DepthwiseConv2D dw(3, {.data_format = cf, .name = "cf_dw"});
  dw(at::zeros({1, 2, 4, 4}));
  expect_error<ShapeError>(
      [&] {
        dw(at::zeros({1, 4, 4, 2}));
      },
      {"cf_dw", "(None, 2, None, None)", "[1, 4, 4, 2]"});
  layers::Conv3DTranspose t3(2, 2, {.data_format = cf, .name = "cf_t3"});
  expect_error<ShapeError>([&] { t3(at::zeros({1, 2, 3, 3})); }, {"cf_t3", "[1, 2, 3, 3]"});
  expect_error<ShapeError>(
      [&] {
        t3.compute_output_shape({kNone, 2, 3, 3});
      },
      {"cf_t3", "(batch, channels, dim1, dim2, dim3)"});

  for (const std::string bad : {"channels_middle", "NCHW", ""}) {
    expect_error<ValueError>([&] { layers::Conv1D(2, 3, {.data_format = bad, .name = "bad_c1"}); },
                             {"bad_c1", "data_format", "\"" + bad + "\""});
    expect_error<ValueError>([&] { layers::Conv3DTranspose(2, 3, {.data_format = bad, .name = "bad_t3"}); },
                             {"bad_t3", "data_format", "channels_first"});
    expect_error<ValueError>([&] { layers::DepthwiseConv2D(3, {.data_format = bad, .name = "bad_dw"}); },
                             {"bad_dw", "data_format"});
    expect_error<ValueError>([&] { layers::SeparableConv2D(2, 3, {.data_format = bad, .name = "bad_sep"}); },
                             {"bad_sep", "data_format"});
  }
  expect_error<ValueError>(
      [] {
        layers::deserialize(
            {{"class_name", "Conv2D"},
             {"config", {{"name", "bad_cfg"}, {"filters", 2}, {"kernel_size", 3}, {"data_format", "nchw"}}}});
      },
      {"bad_cfg", "data_format", "nchw"});
}

TEST_CASE("channels_first convolution gradients match central finite differences",
          "[layers][conv][channels_first]") {
  SECTION("Conv2D, same, stride 2, tanh") {
    layers::Conv2D conv(
        2, 2, {.strides = 2, .padding = "same", .data_format = "channels_first", .activation = "tanh"});
    const at::Tensor x = rnd({1, 2, 5, 5}, 380);
    conv(x);
    check_gradient(conv, x, 0);
    check_gradient(conv, x, 1);
    check_gradient(conv, x, -1);
  }
  SECTION("Conv1D causal, dilated") {
    layers::Conv1D conv(
        2, 2,
        {.padding = "causal", .data_format = "channels_first", .dilation_rate = 2, .activation = "tanh"});
    const at::Tensor x = rnd({2, 2, 6}, 381);
    conv(x);
    check_gradient(conv, x, 0);
    check_gradient(conv, x, -1);
  }
  SECTION("Conv2DTranspose, valid, stride 3 (bias on appended positions)") {
    layers::Conv2DTranspose conv(2, 2, {.strides = 3, .data_format = "channels_first", .activation = "tanh"});
    const at::Tensor x = rnd({1, 2, 2, 3}, 382);
    conv(x);
    check_gradient(conv, x, 1);
    check_gradient(conv, x, -1);
  }
}
