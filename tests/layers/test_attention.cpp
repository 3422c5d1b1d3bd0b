// Embedding and the attention layers: output shapes, outputs against the formulas written out with loops over
// batch, query and key positions (dot, concat and additive scores; per-head projections for
// MultiHeadAttention), masks (value masks, query masks, causal masks, attention masks, masks coming from
// Embedding(mask_zero)), dropout only while training, gradients against central finite differences in double
// precision, config round trips, Keras' weight layouts, argument and input errors, and a small masked
// training run.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/attention.h>
#include <strata/layers/dense.h>
#include <strata/layers/embedding.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/pooling.h>
#include <strata/layers/registry.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/adam.h>

#include "../support/tensor_checks.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using test_support::expect_error;
using test_support::restored;
using test_support::rnd;
using test_support::to_double;

// Same shape and max |actual - expected| <= tol (a tol of 0 asks for equality).
void check_close(const at::Tensor& actual, const at::Tensor& expected, double tol = 1e-5) {
  const double diff = test_support::max_abs_difference(actual, expected);
  INFO("max abs difference " << diff);
  CHECK(diff <= tol);
}

// A bool tensor from 0/1 values (at::tensor has no bool overload in LibTorch 1.13).
at::Tensor bools(std::vector<int64_t> values) { return at::tensor(values, at::kLong) != 0; }

Shape dims(const at::Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end()); }

// --- reference attention, written out with loops in double
// --------------------------------------------------

using ScoreFn = std::function<double(const at::Tensor& q_row, const at::Tensor& k_row)>;

struct Reference {
  at::Tensor output;   // (B, Tq, dim_v)
  at::Tensor weights;  // (B, Tq, Tv)
};

// softmax over j of score(q[b, i], k[b, j]) (-1e9 where value_mask[b, j] is false or, causally, j > i),
// times v[b, j]; rows whose query_mask is false are zeroed.
Reference reference_attention(const at::Tensor& q_in, const at::Tensor& v_in, const at::Tensor& k_in,
                              const ScoreFn& score, const at::Tensor& value_mask = {},
                              const at::Tensor& query_mask = {}, bool causal = false) {
  const at::Tensor q = q_in.to(at::kDouble), v = v_in.to(at::kDouble), k = k_in.to(at::kDouble);
  const int64_t B = q.size(0), Tq = q.size(1), Tv = v.size(1);
  at::Tensor out = at::zeros({B, Tq, v.size(2)}, at::kDouble);
  at::Tensor weights = at::zeros({B, Tq, Tv}, at::kDouble);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Tq; ++i) {
      std::vector<double> s(Tv);
      double top = -1e300;
      for (int64_t j = 0; j < Tv; ++j) {
        s[j] = score(q[b][i], k[b][j]);
        const bool hidden = (value_mask.defined() && !value_mask[b][j].item<bool>()) || (causal && j > i);
        if (hidden) s[j] = -1e9;
        top = std::max(top, s[j]);
      }
      double total = 0;
      for (double& x : s) total += (x = std::exp(x - top));
      for (int64_t j = 0; j < Tv; ++j) {
        weights[b][i][j] = s[j] / total;
        out[b][i] += (s[j] / total) * v[b][j];
      }
      if (query_mask.defined() && !query_mask[b][i].item<bool>()) out[b][i] = 0;
    }
  return {out, weights};
}

ScoreFn dot_score(double scale = 1.0) {
  return [scale](const at::Tensor& q, const at::Tensor& k) { return scale * (q * k).sum().item<double>(); };
}

// Keras' MultiHeadAttention written head by head with plain matmuls: Q_h = q W_q[:, h, :] + b_q[h], ...,
// P_h = softmax(Q_h K_h^T / sqrt(key_dim), -1e9 where masked), out = sum_h (P_h V_h) W_o[h] + b_o.
Reference reference_mha(const at::Tensor& q_in, const at::Tensor& v_in, const at::Tensor& k_in,
                        const std::vector<at::Tensor>& w_in, int64_t heads, const at::Tensor& keep = {}) {
  std::vector<at::Tensor> w;
  for (const auto& t : w_in) w.push_back(t.to(at::kDouble));
  const at::Tensor q = q_in.to(at::kDouble), v = v_in.to(at::kDouble), k = k_in.to(at::kDouble);
  const int64_t key_dim = w[0].size(2);
  at::Tensor out = at::zeros({q.size(0), q.size(1), w[6].size(2)}, at::kDouble) + w[7];
  std::vector<at::Tensor> probs;
  for (int64_t h = 0; h < heads; ++h) {
    const at::Tensor Q = at::matmul(q, w[0].select(1, h)) + w[1][h];
    const at::Tensor K = at::matmul(k, w[2].select(1, h)) + w[3][h];
    const at::Tensor V = at::matmul(v, w[4].select(1, h)) + w[5][h];
    at::Tensor S = at::matmul(Q, K.transpose(1, 2)) / std::sqrt(double(key_dim));
    if (keep.defined()) S = S.masked_fill(keep.logical_not(), -1e9);
    const at::Tensor P = at::softmax(S, -1);
    probs.push_back(P);
    out = out + at::matmul(at::matmul(P, V), w[6][h]);
  }
  return {out, at::stack(probs, 1)};
}

// --- gradients
// ----------------------------------------------------------------------------------------------

// Central finite differences of sum(probe * f()) against autograd, for every element of every tensor in
// `targets` (float64 leaves that f reads). The targets numbered in `vanishing` must have a zero gradient,
// the others a non-zero one.
void check_gradients(const std::function<at::Tensor()>& f, const std::vector<at::Tensor>& targets,
                     const std::set<size_t>& vanishing = {}, double eps = 1e-6) {
  const at::Tensor probe = rnd(f().sizes(), 77, at::kDouble);
  for (const auto& t : targets) {
    REQUIRE(t.scalar_type() == at::kDouble);
    REQUIRE(t.requires_grad());
    if (t.grad().defined()) t.grad().zero_();
  }
  (f() * probe).sum().backward();
  at::NoGradGuard no_grad;
  for (size_t n = 0; n < targets.size(); ++n) {
    const at::Tensor& t = targets[n];
    REQUIRE(t.grad().defined());
    REQUIRE(t.is_contiguous());
    double* data = t.data_ptr<double>();
    at::Tensor numeric = at::zeros({t.numel()}, at::kDouble);
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double original = data[i];
      data[i] = original + eps;
      const double plus = (f() * probe).sum().item<double>();
      data[i] = original - eps;
      const double minus = (f() * probe).sum().item<double>();
      data[i] = original;
      numeric[i] = (plus - minus) / (2 * eps);
    }
    const at::Tensor analytic = t.grad().reshape({-1});
    const double scale = std::max(1.0, numeric.abs().max().item<double>());
    const double diff = (analytic - numeric).abs().max().item<double>();
    INFO("target " << n << ": max abs gradient difference " << diff << " at scale " << scale);
    CHECK(diff < 1e-6 * scale);
    if (vanishing.count(n))
      CHECK(numeric.abs().max().item<double>() < 1e-9);
    else
      CHECK(numeric.abs().max().item<double>() > 1e-6);  // the target does reach the output
  }
}

at::Tensor leaf(at::IntArrayRef shape, uint64_t seed) {
  return rnd(shape, seed, at::kDouble).requires_grad_(true);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Embedding

TEST_CASE("Embedding looks up rows for integer inputs of any rank", "[attention][embedding]") {
  layers::Embedding emb(10, 3);
  const at::Tensor ids = at::tensor({3, 0, 9, 3, 7, 1}, at::kLong);
  for (const Shape& shape : std::vector<Shape>{{6}, {2, 3}, {3, 1, 2}}) {
    const at::Tensor x = ids.reshape(shape);
    const at::Tensor y = emb(x);
    Shape expected = shape;
    expected.push_back(3);
    CHECK(dims(y) == expected);
    CHECK(emb.compute_output_shape(with_batch_none(shape)) == with_batch_none(expected));
    const at::Tensor flat = y.reshape({6, 3});
    for (int64_t i = 0; i < 6; ++i) check_close(flat[i], emb.embeddings()[ids[i].item<int64_t>()], 0.0);
  }
  // int32 and floats holding whole numbers give the same rows.
  check_close(emb(ids.to(at::kInt)), emb(ids), 0.0);
  check_close(emb(ids.to(at::kFloat)), emb(ids), 0.0);

  const auto weights = emb.get_weights();
  REQUIRE(weights.size() == 1);
  CHECK(dims(weights[0]) == Shape{10, 3});
  CHECK(emb.variables()[0].name == emb.name() + "/embeddings");
  // Keras' default "uniform" is RandomUniform(-0.05, 0.05).
  CHECK(weights[0].abs().max().item<double>() <= 0.05);
  CHECK(weights[0].abs().max().item<double>() > 0.01);
  CHECK(emb.get_config().at("embeddings_initializer").at("class_name") == "RandomUniform");
}

TEST_CASE("Embedding gradient adds the output gradient into each looked-up row", "[attention][embedding]") {
  layers::Embedding emb(5, 2);
  const at::Tensor ids = at::tensor({1, 4, 1, 0}, at::kLong).reshape({2, 2});
  const at::Tensor probe = rnd({2, 2, 2}, 3);
  (emb(ids) * probe).sum().backward();
  at::Tensor expected = at::zeros({5, 2});
  const at::Tensor flat_probe = probe.reshape({4, 2});
  for (int64_t i = 0; i < 4; ++i) expected[ids.reshape({-1})[i].item<int64_t>()] += flat_probe[i];
  check_close(emb.embeddings().grad(), expected, 1e-6);
}

TEST_CASE("Embedding mask_zero reports inputs != 0", "[attention][embedding][mask]") {
  layers::Embedding plain(4, 2);
  layers::Embedding masking(4, 2, {.mask_zero = true});
  const at::Tensor ids = at::tensor({1, 2, 0, 3, 0, 0}, at::kLong).reshape({2, 3});
  Tensors out_masks;
  masking.apply({ids}, {}, false, &out_masks);
  REQUIRE(out_masks.size() == 1);
  CHECK(at::equal(out_masks[0], bools({1, 1, 0, 1, 0, 0}).reshape({2, 3})));
  plain.apply({ids}, {}, false, &out_masks);
  REQUIRE(out_masks.size() == 1);
  CHECK_FALSE(out_masks[0].defined());
}

TEST_CASE("Embedding rejects bad indices and arguments", "[attention][embedding][errors]") {
  layers::Embedding emb(4, 2, {.name = "tokens"});
  expect_error<ValueError>(
      [&] {
        emb(at::tensor({0, 4, 1}, at::kLong));
      },
      {"Embedding 'tokens'", "index 4", "[0, 4)"});
  expect_error<ValueError>([&] { emb(at::tensor({-1}, at::kLong)); }, {"Embedding 'tokens'", "index -1"});
  expect_error<ValueError>([&] { emb(at::tensor({1.5f})); }, {"Embedding 'tokens'", "whole-number", "1.5"});
  expect_error<ValueError>([] { layers::Embedding(0, 3); }, {"input_dim > 0", "input_dim=0"});
  expect_error<ValueError>([] { layers::Embedding(3, -1); }, {"output_dim > 0", "output_dim=-1"});
}

TEST_CASE("Embedding config round trip, regularizer and constraint", "[attention][embedding][config]") {
  layers::Embedding emb(6, 3,
                        {.embeddings_regularizer = "l2",
                         .activity_regularizer = "l1",
                         .embeddings_constraint = "non_neg",
                         .mask_zero = true});
  const at::Tensor ids = at::tensor({5, 0, 2}, at::kLong).reshape({1, 3});
  const at::Tensor y = emb(ids);
  const nlohmann::json config = emb.get_config();
  for (const char* key : {"input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                          "embeddings_constraint", "mask_zero", "activity_regularizer"})
    CHECK(config.contains(key));
  CHECK(config.at("mask_zero") == true);
  auto copy = restored(emb);
  copy->ensure_built(Shape{kNone, 3});
  copy->set_weights(emb.get_weights());
  check_close((*copy)(ids), y, 0.0);
  // Default factors 0.01: the weight penalty is 0.01 * sum(w^2), the activity penalty 0.01 * sum|y| / batch.
  const auto losses = emb.losses();
  REQUIRE(losses.size() == 2);
  CHECK(losses[0].item<double>() ==
        Approx(0.01 * emb.embeddings().pow(2).sum().item<double>()).epsilon(1e-5));
  CHECK(losses[1].item<double>() == Approx(0.01 * y.abs().sum().item<double>()).epsilon(1e-5));
  emb.set_weights({-at::ones({6, 3})});
  emb.apply_constraints();
  CHECK(emb.embeddings().min().item<double>() == 0.0);
}

// ---------------------------------------------------------------------------------------------------------------
// GlobalAveragePooling1D with masks

TEST_CASE("GlobalAveragePooling1D averages only unmasked steps", "[attention][pooling][mask]") {
  layers::GlobalAveragePooling1D pool;
  const at::Tensor x = rnd({2, 4, 3}, 5);
  const at::Tensor mask = bools({1, 1, 0, 1, 0, 1, 0, 0}).reshape({2, 4});
  const at::Tensor y = pool.apply({x}, {mask}, false).front();
  const at::Tensor expected = at::stack({(x[0][0] + x[0][1] + x[0][3]) / 3, x[1][1]});
  check_close(y, expected, 1e-6);
  check_close(pool(x), x.mean(1), 1e-6);  // without a mask: the plain mean

  layers::GlobalAveragePooling1D first({.data_format = "channels_first", .keepdims = true});
  const at::Tensor yc = first.apply({x.transpose(1, 2)}, {mask}, false).front();
  check_close(yc, expected.unsqueeze(-1), 1e-6);
  expect_error<ShapeError>([&] { pool.apply({x}, {mask.narrow(1, 0, 3)}, false); }, {"mask of shape [2, 4]"});
}

TEST_CASE("Sequential passes Embedding's mask to GlobalAveragePooling1D", "[attention][pooling][mask]") {
  Sequential model(
      {layers::Input({4}), layers::Embedding(7, 2, {.mask_zero = true}), layers::GlobalAveragePooling1D()});
  const at::Tensor ids = at::tensor({3, 5, 0, 0, 6, 0, 0, 0}, at::kLong).reshape({2, 4});
  const at::Tensor table = model.get_weights()[0];
  const at::Tensor y = model(ids);
  check_close(y, at::stack({(table[3] + table[5]) / 2, table[6]}), 1e-6);
}

// ---------------------------------------------------------------------------------------------------------------
// Attention and AdditiveAttention

TEST_CASE("Attention shapes and dot-product outputs", "[attention][luong]") {
  const at::Tensor q = rnd({2, 3, 4}, 1), v = rnd({2, 5, 6}, 2), k = rnd({2, 5, 4}, 3);
  layers::Attention att;
  CHECK(att.weights().empty());
  const Tensors out = att.attend(q, v, {.key = k, .return_attention_scores = true});
  REQUIRE(out.size() == 2);
  CHECK(dims(out[0]) == Shape{2, 3, 6});
  CHECK(dims(out[1]) == Shape{2, 3, 5});
  CHECK(att.compute_output_shape(std::vector<Shape>{{kNone, 3, 4}, {kNone, 5, 6}}) == Shape{kNone, 3, 6});
  const Reference ref = reference_attention(q, v, k, dot_score());
  check_close(out[0], ref.output);
  check_close(out[1], ref.weights);
  // The generic call form: without a key, the value is the key.
  const at::Tensor vv = rnd({2, 5, 4}, 4);
  check_close(att({q, vv}).front(), reference_attention(q, vv, vv, dot_score()).output);
  check_close(att({q, v, k}).front(), ref.output);
}

TEST_CASE("Attention use_scale and concat scores", "[attention][luong]") {
  const at::Tensor q = rnd({2, 3, 4}, 11), v = rnd({2, 4, 2}, 12), k = rnd({2, 4, 4}, 13);
  layers::Attention scaled({.use_scale = true});
  scaled({q, v, k});
  REQUIRE(scaled.get_weights().size() == 1);
  CHECK(dims(scaled.get_weights()[0]).empty());          // a scalar
  CHECK(scaled.get_weights()[0].item<double>() == 1.0);  // initialised to ones
  scaled.set_weights({at::tensor(1.7f).reshape({})});
  check_close(scaled({q, v, k}).front(), reference_attention(q, v, k, dot_score(1.7)).output);

  layers::Attention concat({.use_scale = true, .score_mode = "concat"});
  concat({q, v, k});
  const auto vars = concat.variables();
  REQUIRE(vars.size() == 2);
  CHECK(vars[0].name == concat.name() + "/scale");
  CHECK(vars[1].name == concat.name() + "/concat_score_weight");
  concat.set_weights({at::tensor(0.8f).reshape({}), at::tensor(-1.3f).reshape({})});
  const ScoreFn concat_score = [](const at::Tensor& qi, const at::Tensor& kj) {
    return -1.3 * at::tanh(0.8 * (qi + kj)).sum().item<double>();
  };
  check_close(concat({q, v, k}).front(), reference_attention(q, v, k, concat_score).output);
}

TEST_CASE("AdditiveAttention computes sum(scale * tanh(q + k))", "[attention][additive]") {
  const at::Tensor q = rnd({2, 3, 4}, 21), v = rnd({2, 5, 3}, 22), k = rnd({2, 5, 4}, 23);
  layers::AdditiveAttention att;
  const Tensors out = att.attend(q, v, {.key = k, .return_attention_scores = true});
  REQUIRE(att.get_weights().size() == 1);
  const at::Tensor scale = att.get_weights()[0].to(at::kDouble);
  CHECK(dims(scale) == Shape{4});
  CHECK(att.variables()[0].name == att.name() + "/scale");
  const ScoreFn additive = [&](const at::Tensor& qi, const at::Tensor& kj) {
    return (scale * at::tanh(qi + kj)).sum().item<double>();
  };
  const Reference ref = reference_attention(q, v, k, additive);
  check_close(out[0], ref.output);
  check_close(out[1], ref.weights);

  layers::AdditiveAttention unscaled({.use_scale = false});
  CHECK(unscaled({q, v, k}).size() == 1);
  CHECK(unscaled.weights().empty());
  const ScoreFn plain = [](const at::Tensor& qi, const at::Tensor& kj) {
    return at::tanh(qi + kj).sum().item<double>();
  };
  check_close(unscaled({q, v, k}).front(), reference_attention(q, v, k, plain).output);
  CHECK_FALSE(unscaled.get_config().contains("score_mode"));
}

TEST_CASE("Attention masks: value mask hides keys, query mask zeroes rows, causal mask",
          "[attention][luong][mask]") {
  const at::Tensor q = rnd({2, 4, 3}, 31), v = rnd({2, 4, 3}, 32);
  const at::Tensor value_mask = bools({1, 1, 0, 1, 1, 0, 0, 0}).reshape({2, 4});
  const at::Tensor query_mask = bools({1, 0, 1, 1, 1, 1, 1, 0}).reshape({2, 4});
  layers::Attention att;
  const Tensors out =
      att.attend(q, v, {.query_mask = query_mask, .value_mask = value_mask, .return_attention_scores = true});
  const Reference ref = reference_attention(q, v, v, dot_score(), value_mask, query_mask);
  check_close(out[0], ref.output);
  check_close(out[1], ref.weights);
  CHECK(out[1]
            .masked_select(value_mask.logical_not().unsqueeze(1).expand({2, 4, 4}))
            .abs()
            .max()
            .item<double>() == 0.0);

  // The same masks through apply(), the way a model passes them; the query mask becomes the output mask.
  Tensors out_masks;
  const Tensors via_apply = att.apply({q, v}, {query_mask, value_mask}, false, &out_masks);
  check_close(via_apply[0], out[0], 0.0);
  REQUIRE(!out_masks.empty());
  CHECK(at::equal(out_masks[0], query_mask));

  const Tensors causal =
      att.attend(q, v, {.value_mask = value_mask, .return_attention_scores = true, .use_causal_mask = true});
  const Reference causal_ref = reference_attention(q, v, v, dot_score(), value_mask, {}, true);
  check_close(causal[0], causal_ref.output);
  check_close(causal[1], causal_ref.weights);
  // The per-call flags last for one call only.
  CHECK(att({q, v}).size() == 1);
}

TEST_CASE("Attention causal output at t ignores inputs after t", "[attention][luong][causal]") {
  layers::Attention att;
  layers::AdditiveAttention add;
  const at::Tensor x = rnd({1, 5, 3}, 41);
  for (Layer* layer : std::vector<Layer*>{&att, &add}) {
    auto run = [&](const at::Tensor& input) {
      return dynamic_cast<layers::Attention&>(*layer).attend(input, input, {.use_causal_mask = true}).front();
    };
    const at::Tensor base = run(x);
    for (int64_t t = 0; t < 4; ++t) {
      at::Tensor changed = x.clone();
      changed.narrow(1, t + 1, 5 - t - 1).add_(rnd({1, 5 - t - 1, 3}, 50 + t));
      const at::Tensor other = run(changed);
      check_close(other.narrow(1, 0, t + 1), base.narrow(1, 0, t + 1), 1e-6);
      CHECK((other - base).abs().max().item<double>() > 1e-3);  // later steps do change
    }
  }
}

TEST_CASE("Attention dropout applies only while training", "[attention][luong][dropout]") {
  const at::Tensor q = rnd({4, 6, 3}, 61), v = rnd({4, 8, 3}, 62);
  layers::Attention att({.dropout = 0.5, .seed = 7});
  const Reference ref = reference_attention(q, v, v, dot_score());
  const Tensors inference = att.attend(q, v, {.return_attention_scores = true});
  check_close(inference[0], ref.output);
  const Tensors trained = att.attend(q, v, {.return_attention_scores = true, .training = true});
  const at::Tensor kept = trained[1] != 0;
  const double zero_fraction = 1.0 - kept.to(at::kDouble).mean().item<double>();
  CHECK(zero_fraction > 0.3);
  CHECK(zero_fraction < 0.7);
  // Kept weights are scaled by 1 / (1 - rate); the output uses the dropped weights.
  check_close(trained[1], at::where(kept, ref.weights * 2.0, at::zeros_like(ref.weights)));
  check_close(trained[0], at::matmul(trained[1].to(at::kDouble), v.to(at::kDouble)));
}

TEST_CASE("Attention and AdditiveAttention gradients match finite differences", "[attention][gradient]") {
  const at::Tensor q = leaf({2, 3, 4}, 71), v = leaf({2, 4, 2}, 72), k = leaf({2, 4, 4}, 73);
  const at::Tensor value_mask = bools({1, 0, 1, 1, 1, 1, 1, 0}).reshape({2, 4});
  const at::Tensor query_mask = bools({1, 1, 0, 1, 1, 1}).reshape({2, 3});
  SECTION("dot, scaled") {
    layers::Attention att({.use_scale = true});
    att({q, v, k});
    to_double(att);
    att.set_weights({at::tensor(0.7).reshape({})});
    check_gradients(
        [&] {
          return att.attend(q, v, {.key = k, .query_mask = query_mask, .value_mask = value_mask}).front();
        },
        {q, v, k, att.weights()[0]});
  }
  SECTION("concat, causal") {
    layers::Attention att({.use_scale = true, .score_mode = "concat"});
    att({q, v, k});
    to_double(att);
    att.set_weights({at::tensor(0.6).reshape({}), at::tensor(1.4).reshape({})});
    check_gradients([&] { return att.attend(q, v, {.key = k, .use_causal_mask = true}).front(); },
                    {q, v, k, att.weights()[0], att.weights()[1]});
  }
  SECTION("additive") {
    layers::AdditiveAttention att;
    att({q, v, k});
    to_double(att);
    check_gradients([&] { return att.attend(q, v, {.key = k, .value_mask = value_mask}).front(); },
                    {q, v, k, att.weights()[0]});
  }
}

TEST_CASE("Attention configs round trip", "[attention][config]") {
  const at::Tensor q = rnd({2, 3, 4}, 81), v = rnd({2, 5, 4}, 82);
  layers::Attention att({.use_scale = true, .score_mode = "concat", .dropout = 0.25, .seed = 5});
  layers::AdditiveAttention add({.use_scale = true, .dropout = 0.1});
  for (layers::Attention* layer : std::vector<layers::Attention*>{&att, &add}) {
    const at::Tensor y = (*layer)({q, v}).front();
    auto copy = restored(*layer);
    (*copy)({q, v});
    copy->set_weights(layer->get_weights());
    check_close((*copy)({q, v}).front(), y, 0.0);
  }
  const nlohmann::json config = att.get_config();
  CHECK(config.at("use_scale") == true);
  CHECK(config.at("score_mode") == "concat");
  CHECK(config.at("dropout") == 0.25);
  CHECK(config.at("seed") == 5);
  CHECK(add.get_config().at("use_scale") == true);
}

TEST_CASE("Attention rejects bad arguments and inputs", "[attention][errors]") {
  expect_error<ValueError>([] { layers::Attention({.score_mode = "general"}); }, {"score_mode", "general"});
  expect_error<ValueError>([] { layers::AdditiveAttention({.dropout = 1.0}); }, {"dropout in [0, 1)"});
  layers::Attention att({.name = "att"});
  const at::Tensor q = rnd({2, 3, 4}, 1);
  expect_error<ValueError>([&] { att(q); }, {"Attention 'att'", "[query, value]", "1 input"});
  expect_error<ShapeError>(
      [&] {
        att({q, rnd({2, 5, 3}, 2)});
      },
      {"Attention 'att'", "same last dimension", "[2, 3, 4]", "[2, 5, 3]"});
  expect_error<ShapeError>(
      [&] {
        att({q, rnd({2, 5, 6}, 2), rnd({2, 4, 4}, 3)});
      },
      {"same number of timesteps"});
  expect_error<ShapeError>([&] { att({q, rnd({3, 5, 4}, 2)}); }, {"same batch size"});
  expect_error<ShapeError>([&] { att({q.reshape({2, 12}), q}); }, {"query of rank 3"});
  expect_error<ShapeError>(
      [&] {
        att.attend(q, q, {.value_mask = at::ones({2, 4}, at::kBool)});
      },
      {"value_mask of shape [2, 3]", "[2, 4]"});
  expect_error<ValueError>([&] { att({q.to(at::kLong), q}); }, {"floating-point query"});
}

// ---------------------------------------------------------------------------------------------------------------
// MultiHeadAttention

TEST_CASE("MultiHeadAttention weights follow Keras' order and shapes", "[attention][mha]") {
  layers::MultiHeadAttention mha(2, 3, {.value_dim = 5});
  mha({rnd({2, 4, 6}, 1), rnd({2, 7, 8}, 2), rnd({2, 7, 9}, 3)});
  const std::vector<std::pair<std::string, Shape>> expected = {{"query/kernel", {6, 2, 3}},
                                                               {"query/bias", {2, 3}},
                                                               {"key/kernel", {9, 2, 3}},
                                                               {"key/bias", {2, 3}},
                                                               {"value/kernel", {8, 2, 5}},
                                                               {"value/bias", {2, 5}},
                                                               {"attention_output/kernel", {2, 5, 6}},
                                                               {"attention_output/bias", {6}}};
  const auto vars = mha.variables();
  REQUIRE(vars.size() == expected.size());
  for (size_t i = 0; i < vars.size(); ++i) {
    CHECK(vars[i].name == mha.name() + "/" + expected[i].first);
    CHECK(dims(vars[i].value) == expected[i].second);
  }
  // glorot_uniform kernels (fans of (in, heads, depth): in * heads and in * depth), zero biases.
  const double limit = std::sqrt(6.0 / (6 * 2 + 6 * 3));
  CHECK(vars[0].value.abs().max().item<double>() <= limit);
  CHECK(vars[0].value.abs().max().item<double>() > 0.5 * limit);
  CHECK(vars[1].value.abs().max().item<double>() == 0.0);

  layers::MultiHeadAttention no_bias(2, 3, {.use_bias = false, .output_shape = {4}});
  no_bias({rnd({2, 4, 6}, 1), rnd({2, 7, 6}, 2)});
  REQUIRE(no_bias.get_weights().size() == 4);
  CHECK(dims(no_bias.get_weights()[3]) == Shape{2, 3, 4});
}

TEST_CASE("MultiHeadAttention matches per-head attention written out", "[attention][mha]") {
  const at::Tensor q = rnd({2, 3, 4}, 91), v = rnd({2, 5, 6}, 92), k = rnd({2, 5, 3}, 93);
  layers::MultiHeadAttention mha(3, 2,
                                 {.value_dim = 4, .output_shape = {5}, .bias_initializer = "random_normal"});
  const Tensors out = mha.attend(q, v, {.key = k, .return_attention_scores = true});
  REQUIRE(out.size() == 2);
  CHECK(dims(out[0]) == Shape{2, 3, 5});
  CHECK(dims(out[1]) == Shape{2, 3, 3, 5});
  CHECK(mha.compute_output_shape(Shape{kNone, 3, 4}) == Shape{kNone, 3, 5});
  const Reference ref = reference_mha(q, v, k, mha.get_weights(), 3);
  check_close(out[0], ref.output);
  check_close(out[1], ref.weights);
  // Self-attention through the generic call, and the default output size (the query's features).
  layers::MultiHeadAttention self(2, 4);
  const at::Tensor x = rnd({2, 5, 6}, 94);
  const at::Tensor y = self({x, x}).front();
  CHECK(dims(y) == Shape{2, 5, 6});
  check_close(y, reference_mha(x, x, x, self.get_weights(), 2).output);
}

TEST_CASE("MultiHeadAttention masks combine as Keras' _compute_attention_mask", "[attention][mha][mask]") {
  const at::Tensor q = rnd({2, 4, 3}, 101), v = rnd({2, 5, 3}, 102);
  const at::Tensor query_mask = bools({1, 1, 1, 0, 1, 0, 1, 1}).reshape({2, 4});
  const at::Tensor value_mask = bools({1, 1, 0, 1, 1, 1, 0, 1, 1, 1}).reshape({2, 5});
  const at::Tensor key_mask = bools({1, 1, 1, 1, 0, 1, 1, 1, 1, 0}).reshape({2, 5});
  const at::Tensor given = rnd({2, 4, 5}, 103) > -0.6;
  const at::Tensor causal = (at::arange(4).unsqueeze(1) >= at::arange(5).unsqueeze(0)).unsqueeze(0);
  layers::MultiHeadAttention mha(2, 3, {.bias_initializer = "random_normal"});
  const Tensors out = mha.attend(q, v,
                                 {.query_mask = query_mask,
                                  .value_mask = value_mask,
                                  .key_mask = key_mask,
                                  .attention_mask = given,
                                  .return_attention_scores = true,
                                  .use_causal_mask = true});
  const at::Tensor keep =
      query_mask.unsqueeze(-1) & value_mask.unsqueeze(1) & key_mask.unsqueeze(1) & causal & given;
  const Reference ref = reference_mha(q, v, v, mha.get_weights(), 2, keep);
  check_close(out[0], ref.output);
  check_close(out[1], ref.weights);

  // Masks given through apply() (as models pass them); the query mask is the output's mask.
  Tensors out_masks;
  const at::Tensor via_apply = mha.apply({q, v}, {query_mask, value_mask}, false, &out_masks).front();
  const at::Tensor keep2 = query_mask.unsqueeze(-1) & value_mask.unsqueeze(1);
  check_close(via_apply, reference_mha(q, v, v, mha.get_weights(), 2, keep2).output);
  REQUIRE(!out_masks.empty());
  CHECK(at::equal(out_masks[0], query_mask));
}

TEST_CASE("MultiHeadAttention causal output at t ignores inputs after t", "[attention][mha][causal]") {
  layers::MultiHeadAttention mha(2, 3);
  const at::Tensor x = rnd({2, 6, 4}, 111);
  const at::Tensor base = mha.attend(x, x, {.use_causal_mask = true}).front();
  for (int64_t t = 0; t < 5; ++t) {
    at::Tensor changed = x.clone();
    changed.narrow(1, t + 1, 6 - t - 1).mul_(-3.0);
    const at::Tensor other = mha.attend(changed, changed, {.use_causal_mask = true}).front();
    check_close(other.narrow(1, 0, t + 1), base.narrow(1, 0, t + 1), 1e-6);
    CHECK((other - base).abs().max().item<double>() > 1e-3);
  }
}

TEST_CASE("Embedding(mask_zero) masks flow into attention", "[attention][mha][mask][embedding]") {
  layers::Embedding emb(9, 4, {.mask_zero = true});
  layers::MultiHeadAttention mha(2, 3, {.bias_initializer = "random_normal"});
  layers::Attention att;
  const at::Tensor ids = at::tensor({4, 7, 2, 0, 0, 5, 8, 1, 3, 6}, at::kLong).reshape({2, 5});
  Tensors masks;
  const at::Tensor x = emb.apply({ids}, {}, false, &masks).front();
  const at::Tensor mask = masks.front();
  Tensors mha_masks;
  const at::Tensor y = mha.apply({x, x}, {mask, mask}, false, &mha_masks).front();
  const Tensors a = att.apply({x, x}, {mask, mask}, false);
  CHECK(at::equal(mha_masks.front(), mask));
  // The padded sample's real positions see exactly what the unpadded sequence gives.
  const at::Tensor short_ids = ids[0].narrow(0, 0, 3).unsqueeze(0);
  const at::Tensor xs = emb(short_ids);
  check_close(y[0].narrow(0, 0, 3), mha({xs, xs}).front()[0], 1e-6);
  check_close(a[0][0].narrow(0, 0, 3), att({xs, xs}).front()[0], 1e-6);
  // Attention zeroes the masked query rows.
  CHECK(a[0][0].narrow(0, 3, 2).abs().max().item<double>() == 0.0);
}

TEST_CASE("MultiHeadAttention over inputs of rank 4 attends over both middle axes", "[attention][mha]") {
  layers::MultiHeadAttention mha(2, 2, {.attention_axes = {1, 2}});
  const at::Tensor q = rnd({2, 2, 3, 4}, 121), v = rnd({2, 3, 2, 4}, 122);
  const Tensors out = mha.attend(q, v, {.return_attention_scores = true});
  CHECK(dims(out[0]) == Shape{2, 2, 3, 4});
  CHECK(dims(out[1]) == Shape{2, 2, 2, 3, 3, 2});
  const Reference ref =
      reference_mha(q.reshape({2, 6, 4}), v.reshape({2, 6, 4}), v.reshape({2, 6, 4}), mha.get_weights(), 2);
  check_close(out[0], ref.output.reshape({2, 2, 3, 4}));
}

TEST_CASE("MultiHeadAttention dropout applies only while training", "[attention][mha][dropout]") {
  layers::MultiHeadAttention mha(2, 4, {.dropout = 0.5, .seed = 3});
  const at::Tensor x = rnd({3, 6, 4}, 131);
  const Tensors inference = mha.attend(x, x, {.return_attention_scores = true});
  const Reference ref = reference_mha(x, x, x, mha.get_weights(), 2);
  check_close(inference[0], ref.output);
  check_close(mha.attend(x, x).front(), inference[0], 0.0);
  const Tensors trained = mha.attend(x, x, {.return_attention_scores = true, .training = true});
  // The returned scores are the probabilities before dropout, as in Keras; the output differs.
  check_close(trained[1], ref.weights);
  CHECK((trained[0] - inference[0]).abs().max().item<double>() > 1e-3);
}

TEST_CASE("MultiHeadAttention gradients match finite differences", "[attention][mha][gradient]") {
  const at::Tensor q = leaf({2, 3, 4}, 141), v = leaf({2, 4, 5}, 142), k = leaf({2, 4, 3}, 143);
  const at::Tensor value_mask = bools({1, 0, 1, 1, 1, 1, 1, 0}).reshape({2, 4});
  layers::MultiHeadAttention mha(2, 3, {.value_dim = 2, .bias_initializer = "random_normal"});
  mha({q, v, k});
  to_double(mha);
  std::vector<at::Tensor> targets = {q, v, k};
  for (const auto& w : mha.weights()) targets.push_back(w);
  // The key bias adds q·b to every score of a row, which the softmax cancels: its gradient is zero.
  check_gradients(
      [&] { return mha.attend(q, v, {.key = k, .value_mask = value_mask, .use_causal_mask = true}).front(); },
      targets, {6});
}

TEST_CASE("MultiHeadAttention config round trip and regularizers", "[attention][mha][config]") {
  layers::MultiHeadAttention mha(2, 3,
                                 {.value_dim = 4,
                                  .dropout = 0.1,
                                  .output_shape = {5},
                                  .kernel_regularizer = "l2",
                                  .bias_regularizer = "l1",
                                  .kernel_constraint = "max_norm",
                                  .seed = 9});
  const at::Tensor q = rnd({2, 3, 4}, 151), v = rnd({2, 5, 6}, 152);
  const at::Tensor y = mha({q, v}).front();
  const nlohmann::json config = mha.get_config();
  CHECK(config.at("num_heads") == 2);
  CHECK(config.at("key_dim") == 3);
  CHECK(config.at("value_dim") == 4);
  CHECK(config.at("output_shape") == nlohmann::json::array({5}));
  CHECK(config.at("attention_axes").is_null());
  CHECK(config.at("kernel_regularizer").at("class_name") == "L2");
  auto copy = restored(mha);
  (*copy)({q, v});
  copy->set_weights(mha.get_weights());
  check_close((*copy)({q, v}).front(), y, 0.0);
  // Four kernels with L2 and four biases with L1.
  CHECK(mha.losses().size() == 8);
  // Keras writes value_dim None and output_shape as an int too.
  nlohmann::json keras = config;
  keras["value_dim"] = nullptr;
  keras["output_shape"] = 5;
  auto from_keras = layers::MultiHeadAttention::from_config(keras);
  CHECK(from_keras.value_dim() == 3);
  CHECK(from_keras.compute_output_shape(Shape{kNone, 2, 7}) == Shape{kNone, 2, 5});
}

TEST_CASE("MultiHeadAttention activity_regularizer penalises the four projections, as Keras' sub-layers",
          "[attention][mha][regularizer]") {
  layers::MultiHeadAttention mha(2, 3, {.bias_initializer = "random_normal", .activity_regularizer = "l2"});
  const at::Tensor q = rnd({2, 3, 4}, 161), v = rnd({2, 5, 6}, 162);
  const at::Tensor y = mha({q, v}).front();
  const auto w = mha.get_weights();
  auto projected = [](const at::Tensor& x, const at::Tensor& kernel, const at::Tensor& bias) {
    return at::einsum("btd,dhk->bthk", {x, kernel}) + bias;
  };
  const std::vector<at::Tensor> outputs = {projected(q, w[0], w[1]), projected(v, w[2], w[3]),
                                           projected(v, w[4], w[5]), y};
  const auto losses = mha.losses();
  REQUIRE(losses.size() == 4);
  for (size_t i = 0; i < 4; ++i)
    CHECK(losses[i].item<double>() ==
          Approx(0.01 * outputs[i].pow(2).sum().item<double>() / 2.0).epsilon(1e-4));
  mha({q, v});
  CHECK(mha.losses().size() == 4);  // a new call starts a new list
}

TEST_CASE("MultiHeadAttention rejects bad arguments and inputs", "[attention][mha][errors]") {
  expect_error<ValueError>([] { layers::MultiHeadAttention(0, 4); }, {"num_heads > 0", "got 0"});
  expect_error<ValueError>([] { layers::MultiHeadAttention(2, -1); }, {"key_dim > 0"});
  expect_error<ValueError>([] { layers::MultiHeadAttention(2, 4, {.dropout = -0.1}); },
                           {"dropout in [0, 1)"});
  layers::MultiHeadAttention axes(2, 2, {.attention_axes = {2}});
  expect_error<ValueError>(
      [&] {
        axes({rnd({1, 2, 3, 4}, 1), rnd({1, 2, 3, 4}, 2)});
      },
      {"only attention over all axes"});

  layers::MultiHeadAttention mha(2, 4, {.name = "mha"});
  const at::Tensor x = rnd({2, 3, 8}, 1);
  mha({x, x});
  expect_error<ShapeError>(
      [&] {
        mha({x, rnd({2, 3, 5}, 2)});
      },
      {"MultiHeadAttention 'mha'", "value", "last dimension 8", "[2, 3, 5]"});
  expect_error<ShapeError>([&] { mha({rnd({2, 3, 7}, 3), x}); }, {"query", "last dimension 8"});
  expect_error<ShapeError>([&] { mha({x, rnd({3, 3, 8}, 2)}); }, {"same batch size"});
  expect_error<ShapeError>(
      [&] {
        mha.attend(x, x, {.attention_mask = at::ones({2, 3, 4}, at::kBool)});
      },
      {"attention_mask", "[2, 3, 4]"});
  expect_error<ShapeError>(
      [&] {
        mha.attend(x, x, {.query_mask = at::ones({2, 4}, at::kBool)});
      },
      {"query_mask"});
  expect_error<ValueError>([&] { mha(x); }, {"[query, value]"});
}

// ---------------------------------------------------------------------------------------------------------------
// Training

TEST_CASE("Embedding + masked GlobalAveragePooling1D + Dense learns a toy task with fit",
          "[attention][embedding][fit]") {
  // Sequences of tokens 1..8 padded with 0 at the end; the label says whether tokens 1..4 are the majority.
  set_random_seed(11);
  const int64_t n = 256, length = 8;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  at::Tensor ids = at::randint(1, 9, {n, length}, gen, at::kLong);
  const at::Tensor lengths = at::randint(1, length + 1, {n, 1}, gen, at::kLong);
  ids = at::where(at::arange(length).unsqueeze(0) < lengths, ids, at::zeros_like(ids));
  const at::Tensor low = ((ids >= 1) & (ids <= 4)).sum(1), high = (ids >= 5).sum(1);
  const at::Tensor y = (low > high).to(at::kFloat).unsqueeze(1);

  Sequential model({layers::Input({length}), layers::Embedding(9, 4, {.mask_zero = true}),
                    layers::GlobalAveragePooling1D(), layers::Dense(1, {.activation = "sigmoid"})});
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.02}),
                 .loss = "binary_crossentropy",
                 .metrics = {"accuracy"}});
  auto history = model.fit(ids.to(at::kFloat), y, {.batch_size = 32, .epochs = 40, .verbose = 0});
  const auto& loss = history.history.at("loss");
  CHECK(loss.back() < 0.5 * loss.front());
  CHECK(history.history.at("accuracy").back() > 0.9);
}
