// Recurrent layers, Masking and the wrappers: shapes and Keras weight layouts; SimpleRNN/LSTM/GRU outputs
// against the gate formulas written out below with plain ATen (both the fused ATen kernel path and the
// per-timestep loop, which an all-true mask selects); go_backwards, initial states, stateful calls; masks
// against the unpadded sequences; Bidirectional against two layers run by hand; TimeDistributed against a
// loop over timesteps; gradients against central finite differences in double precision; config round trips;
// argument errors.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <strata/core/error.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/masking.h>
#include <strata/layers/recurrent.h>
#include <strata/layers/registry.h>
#include <strata/layers/wrappers.h>
#include <strata/losses/regression.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/sgd.h>

#include "../support/tensor_checks.h"

#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using test_support::expect_error;
using test_support::rnd;
using test_support::to_double;

void check_close(const at::Tensor& actual, const at::Tensor& expected, double tol = 1e-5) {
  test_support::check_close(actual, expected, tol);
}

// Random weights of Keras' shapes (biases too, so a wrong bias layout shows).
void randomize(Layer& layer, uint64_t seed) {
  std::vector<at::Tensor> weights;
  for (const auto& w : layer.get_weights()) weights.push_back(rnd(w.sizes(), seed++) * 0.7);
  layer.set_weights(weights);
}

at::Tensor logistic(const at::Tensor& x) { return 1 / (1 + at::exp(-x)); }
at::Tensor cols(const at::Tensor& w, int64_t gate, int64_t units) {
  return w.narrow(-1, gate * units, units);
}

struct Reference {
  at::Tensor sequence;  // (batch, time, units)
  std::vector<at::Tensor> states;
};

// --- the formulas, one timestep at a time, gates sliced out of Keras' weights
// -------------------------------------

Reference simple_rnn_reference(const at::Tensor& x, const std::vector<at::Tensor>& w, at::Tensor h,
                               const std::function<at::Tensor(const at::Tensor&)>& act) {
  std::vector<at::Tensor> outs;
  for (int64_t t = 0; t < x.size(1); ++t) {
    at::Tensor pre = at::mm(x.select(1, t), w[0]) + at::mm(h, w[1]);
    if (w.size() > 2) pre = pre + w[2];
    h = act(pre);
    outs.push_back(h);
  }
  return {at::stack(outs, 1), {h}};
}

Reference lstm_reference(const at::Tensor& x, const std::vector<at::Tensor>& w, at::Tensor h, at::Tensor c,
                         const std::function<at::Tensor(const at::Tensor&)>& act = at::tanh) {
  const int64_t u = w[1].size(0);
  std::vector<at::Tensor> outs;
  for (int64_t t = 0; t < x.size(1); ++t) {
    const at::Tensor xt = x.select(1, t);
    auto gate = [&](int64_t g) {
      at::Tensor pre = at::mm(xt, cols(w[0], g, u)) + at::mm(h, cols(w[1], g, u));
      return w.size() > 2 ? pre + cols(w[2], g, u) : pre;
    };
    const at::Tensor i = logistic(gate(0)), f = logistic(gate(1)), candidate = act(gate(2)),
                     o = logistic(gate(3));
    c = f * c + i * candidate;
    h = o * act(c);
    outs.push_back(h);
  }
  return {at::stack(outs, 1), {h, c}};
}

Reference gru_reference(const at::Tensor& x, const std::vector<at::Tensor>& w, at::Tensor h,
                        bool reset_after) {
  const int64_t u = w[1].size(0);
  const bool biased = w.size() > 2;
  std::vector<at::Tensor> outs;
  for (int64_t t = 0; t < x.size(1); ++t) {
    const at::Tensor xt = x.select(1, t);
    auto input_part = [&](int64_t g) {
      at::Tensor v = at::mm(xt, cols(w[0], g, u));
      if (biased) v = v + (reset_after ? cols(w[2][0], g, u) : cols(w[2], g, u));
      return v;
    };
    auto recurrent_part = [&](int64_t g, const at::Tensor& state) {
      at::Tensor v = at::mm(state, cols(w[1], g, u));
      if (biased && reset_after) v = v + cols(w[2][1], g, u);
      return v;
    };
    const at::Tensor z = logistic(input_part(0) + recurrent_part(0, h));
    const at::Tensor r = logistic(input_part(1) + recurrent_part(1, h));
    const at::Tensor candidate = reset_after ? at::tanh(input_part(2) + r * recurrent_part(2, h))
                                             : at::tanh(input_part(2) + recurrent_part(2, r * h));
    h = z * h + (1 - z) * candidate;
    outs.push_back(h);
  }
  return {at::stack(outs, 1), {h}};
}

at::Tensor all_true(const at::Tensor& x) { return at::ones({x.size(0), x.size(1)}, at::kBool); }

// Runs `layer` on {x, states...} without a mask (fused kernels) and with an all-true mask (the timestep
// loop).
std::vector<Tensors> both_paths(Layer& layer, const Tensors& inputs) {
  Tensors masks(inputs.size());
  masks.front() = all_true(inputs.front());
  return {layer.apply(inputs, {}, false), layer.apply(inputs, masks, false)};
}

// Central finite differences of sum(probe_i * output_i) against autograd, for the input and every weight, in
// float64.
void check_gradients(Layer& layer, const at::Tensor& x_float, const at::Tensor& mask = {}) {
  layer.apply({x_float}, {}, false);  // builds
  to_double(layer);
  const at::Tensor x = x_float.to(at::kDouble);
  const Tensors masks = mask.defined() ? Tensors{mask} : Tensors{};
  Tensors probes;
  for (const auto& out : layer.apply({x}, masks, false)) probes.push_back(rnd(out.sizes(), 77, at::kDouble));
  auto objective = [&](const at::Tensor& input) {
    at::Tensor total = at::zeros({}, at::kDouble);
    const Tensors outs = layer.apply({input}, masks, false);
    for (size_t i = 0; i < outs.size(); ++i) total = total + (outs[i] * probes[i]).sum();
    return total;
  };
  for (auto w : layer.weights())
    if (w.grad().defined()) w.grad().zero_();
  const at::Tensor xg = x.clone().requires_grad_(true);
  objective(xg).backward();
  std::vector<at::Tensor> targets{x.clone()}, analytic{xg.grad()};
  for (const auto& w : layer.weights()) {
    targets.push_back(w);
    analytic.push_back(w.grad().clone());
  }
  at::NoGradGuard no_grad;
  const double eps = 1e-6;
  for (size_t k = 0; k < targets.size(); ++k) {
    at::Tensor flat = targets[k].view(-1);
    at::Tensor numeric = at::zeros_like(flat);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double original = flat[i].item<double>();
      flat[i] = original + eps;
      const double plus = objective(k == 0 ? targets[0] : x).item<double>();
      flat[i] = original - eps;
      const double minus = objective(k == 0 ? targets[0] : x).item<double>();
      flat[i] = original;
      numeric[i] = (plus - minus) / (2 * eps);
    }
    INFO("target " << k << " (0 = input, then the weights)");
    check_close(analytic[k].reshape(-1), numeric, 1e-6);
  }
}

void check_round_trip(Layer& layer, const Tensors& inputs) {
  const auto copy = test_support::restored(layer);
  const Tensors expected = layer(inputs);
  copy->ensure_built(shape_of(inputs.front()));
  copy->set_weights(layer.get_weights());
  const Tensors actual = (*copy)(inputs);
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) check_close(actual[i], expected[i]);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Shapes and weights

TEST_CASE("Recurrent layers: output shapes, state counts and Keras weight shapes", "[recurrent]") {
  const at::Tensor x = rnd({2, 5, 3}, 1);
  for (bool sequences : {false, true})
    for (bool state : {false, true}) {
      layers::SimpleRNN rnn(4, {.return_sequences = sequences, .return_state = state});
      layers::LSTM lstm(4, {.return_sequences = sequences, .return_state = state});
      layers::GRU gru(4, {.return_sequences = sequences, .return_state = state});
      const std::vector<int64_t> out = sequences ? std::vector<int64_t>{2, 5, 4} : std::vector<int64_t>{2, 4};
      for (auto [layer, states] : {std::pair<layers::RNNBase*, size_t>{&rnn, 1}, {&lstm, 2}, {&gru, 1}}) {
        const Tensors y = (*layer)(Tensors{x});
        REQUIRE(y.size() == (state ? 1 + states : 1));
        CHECK(y[0].sizes() == at::IntArrayRef(out));
        for (size_t i = 1; i < y.size(); ++i) CHECK(y[i].sizes() == at::IntArrayRef({2, 4}));
        CHECK(layer->compute_output_shape({kNone, 5, 3}) ==
              (sequences ? Shape{kNone, 5, 4} : Shape{kNone, 4}));
      }
    }
  layers::SimpleRNN rnn(4);
  layers::LSTM lstm(4);
  layers::GRU gru(4), gru_before(4, {.reset_after = false}), gru_plain(4, {.use_bias = false});
  for (Layer* layer : std::vector<Layer*>{&rnn, &lstm, &gru, &gru_before, &gru_plain}) (*layer)(Tensors{x});
  auto shapes = [](const Layer& layer) {
    std::vector<std::vector<int64_t>> out;
    for (const auto& w : layer.get_weights()) out.push_back(w.sizes().vec());
    return out;
  };
  using V = std::vector<std::vector<int64_t>>;
  CHECK(shapes(rnn) == V{{3, 4}, {4, 4}, {4}});
  CHECK(shapes(lstm) == V{{3, 16}, {4, 16}, {16}});
  CHECK(shapes(gru) == V{{3, 12}, {4, 12}, {2, 12}});
  CHECK(shapes(gru_before) == V{{3, 12}, {4, 12}, {12}});
  CHECK(shapes(gru_plain) == V{{3, 12}, {4, 12}});
  CHECK(lstm.variables()[1].name == lstm.name() + "/recurrent_kernel");
  // unit_forget_bias: zeros except ones for the forget gate; the recurrent kernel starts orthogonal.
  check_close(lstm.bias(), at::cat({at::zeros({4}), at::ones({4}), at::zeros({8})}));
  const at::Tensor u = rnn.recurrent_kernel();
  check_close(at::mm(u.t(), u), at::eye(4));
  layers::LSTM no_forget(4, {.unit_forget_bias = false});
  no_forget(Tensors{x});
  check_close(no_forget.bias(), at::zeros({16}));
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs against the formulas

TEST_CASE("SimpleRNN matches h = act(x W + h U + b) on the fused and the loop path", "[recurrent]") {
  const at::Tensor x = rnd({3, 6, 4}, 2), h0 = rnd({3, 5}, 3);
  for (std::string activation : {"tanh", "relu", "sigmoid"}) {
    INFO(activation);
    layers::SimpleRNN layer(5, {.activation = activation, .return_sequences = true, .return_state = true});
    layer(Tensors{x});
    randomize(layer, 10);
    const auto act = activations::get(activation);
    const Reference ref =
        simple_rnn_reference(x, layer.get_weights(), h0, [&](const at::Tensor& v) { return act(v); });
    for (const Tensors& y : both_paths(layer, {x, h0})) {
      check_close(y[0], ref.sequence);
      check_close(y[1], ref.states[0]);
    }
  }
}

TEST_CASE("LSTM matches the i, f, c, o gate formulas with initial states, on both paths", "[recurrent]") {
  const at::Tensor x = rnd({3, 7, 4}, 4), h0 = rnd({3, 5}, 5), c0 = rnd({3, 5}, 6);
  for (bool use_bias : {true, false}) {
    INFO("use_bias " << use_bias);
    layers::LSTM layer(5, {.use_bias = use_bias, .return_sequences = true, .return_state = true});
    layer(Tensors{x});
    randomize(layer, 20);
    const Reference ref = lstm_reference(x, layer.get_weights(), h0, c0);
    for (const Tensors& y : both_paths(layer, {x, h0, c0})) {
      REQUIRE(y.size() == 3);
      check_close(y[0], ref.sequence);
      check_close(y[1], ref.states[0]);
      check_close(y[2], ref.states[1]);
    }
    // Without initial states they are zeros; without return_sequences the output is the last h.
    layers::LSTM last(5, {.use_bias = use_bias});
    last(Tensors{x});
    last.set_weights(layer.get_weights());
    check_close(last(x),
                lstm_reference(x, layer.get_weights(), at::zeros({3, 5}), at::zeros({3, 5})).states[0]);
  }
  // A non-default activation takes the loop path.
  layers::LSTM relu(5, {.activation = "relu", .return_state = true});
  relu(Tensors{x});
  randomize(relu, 30);
  const Reference ref = lstm_reference(x, relu.get_weights(), h0, c0, at::relu);
  const Tensors y = relu({x, h0, c0});
  check_close(y[1], ref.states[0]);
  check_close(y[2], ref.states[1]);
}

TEST_CASE("GRU matches the z, r, h gate formulas, reset_after true and false", "[recurrent]") {
  const at::Tensor x = rnd({3, 6, 4}, 7), h0 = rnd({3, 5}, 8);
  for (bool reset_after : {true, false})
    for (bool use_bias : {true, false}) {
      INFO("reset_after " << reset_after << ", use_bias " << use_bias);
      layers::GRU layer(
          5,
          {.use_bias = use_bias, .return_sequences = true, .return_state = true, .reset_after = reset_after});
      layer(Tensors{x});
      randomize(layer, 40);
      const Reference ref = gru_reference(x, layer.get_weights(), h0, reset_after);
      for (const Tensors& y : both_paths(layer, {x, h0})) {
        check_close(y[0], ref.sequence);
        check_close(y[1], ref.states[0]);
      }
    }
}

TEST_CASE("go_backwards reads the sequence from the end and returns outputs in processing order",
          "[recurrent]") {
  const at::Tensor x = rnd({2, 5, 3}, 9), h0 = rnd({2, 4}, 10), c0 = rnd({2, 4}, 11);
  layers::LSTM layer(4, {.return_sequences = true, .return_state = true, .go_backwards = true});
  layer(Tensors{x});
  randomize(layer, 50);
  // Written out: step t of the backward pass sees x[:, T - 1 - t].
  std::vector<at::Tensor> reversed_steps;
  for (int64_t t = 4; t >= 0; --t) reversed_steps.push_back(x.select(1, t));
  const Reference ref = lstm_reference(at::stack(reversed_steps, 1), layer.get_weights(), h0, c0);
  for (const Tensors& y : both_paths(layer, {x, h0, c0})) {
    check_close(y[0], ref.sequence);
    check_close(y[1], ref.states[0]);
    check_close(y[2], ref.states[1]);
  }
  layers::GRU gru(4, {.go_backwards = true});
  gru(Tensors{x});
  randomize(gru, 60);
  check_close(
      gru(x),
      gru_reference(at::stack(reversed_steps, 1), gru.get_weights(), at::zeros({2, 4}), true).states[0]);
}

TEST_CASE("Stateful layers carry their states across calls until reset_states()", "[recurrent]") {
  const at::Tensor x = rnd({2, 6, 3}, 12);
  layers::LSTM whole(4, {.return_state = true});
  layers::LSTM stateful(4, {.stateful = true});
  whole(Tensors{x});
  stateful(Tensors{x.narrow(1, 0, 3)});
  randomize(whole, 70);
  stateful.set_weights(whole.get_weights());
  stateful.reset_states();
  CHECK(stateful.states().empty());
  stateful(Tensors{x.narrow(1, 0, 3)});
  REQUIRE(stateful.states().size() == 2);
  const at::Tensor second_half = stateful(x.narrow(1, 3, 3));
  const Tensors expected = whole(Tensors{x});
  check_close(second_half, expected[0]);
  check_close(stateful.states()[1], expected[2]);
  // After a reset the layer starts from zeros again.
  stateful.reset_states();
  check_close(stateful(x.narrow(1, 3, 3)), whole(Tensors{x.narrow(1, 3, 3)})[0]);
  expect_error<ShapeError>([&] { stateful(rnd({5, 3, 3}, 13)); }, {"batch size 2", "reset_states"});
}

TEST_CASE("Dropout is inactive at inference and one seeded mask per call while training", "[recurrent]") {
  const at::Tensor x = rnd({4, 5, 3}, 14);
  layers::GRU plain(6);
  layers::GRU dropped(6, {.dropout = 0.5, .recurrent_dropout = 0.3, .seed = 7});
  layers::GRU same_seed(6, {.dropout = 0.5, .recurrent_dropout = 0.3, .seed = 7});
  plain(Tensors{x});
  randomize(plain, 80);
  for (auto* layer : {&dropped, &same_seed}) {
    (*layer)(Tensors{x});
    layer->set_weights(plain.get_weights());
  }
  check_close(dropped(x, false), plain(x, false));
  const at::Tensor a = dropped(x, true), b = same_seed(x, true);
  check_close(a, b);
  CHECK((a - plain(x)).abs().max().item<double>() > 1e-3);
  // Input dropout alone: the same input mask at every timestep, i.e. some features are zero throughout.
  layers::SimpleRNN linear(3, {.activation = "linear", .use_bias = false, .dropout = 0.5, .seed = 3});
  linear(Tensors{x});
  // h_t = x_t * mask + h_{t-1}: five steps of ones give 5 * mask, 0 or 10 only if every step has the same
  // mask.
  linear.set_weights({at::eye(3), at::eye(3)});
  const at::Tensor y = linear(at::ones({4, 5, 3}), true);
  CHECK(((y == 0) | (y == 10)).all().item<bool>());
  CHECK((y == 10).any().item<bool>());
  // Recurrent dropout alone: h_t = x_t + (h_{t-1} * m) with m in {0, 2} per unit; with one mask for the whole
  // call five steps give 1 (m = 0) or 1 + 2 + 4 + 8 + 16 = 31 (m = 2), nothing in between.
  layers::SimpleRNN recurrent(
      3, {.activation = "linear", .use_bias = false, .recurrent_dropout = 0.5, .seed = 4});
  recurrent(Tensors{x});
  recurrent.set_weights({at::eye(3), at::eye(3)});
  const at::Tensor r = recurrent(at::ones({4, 5, 3}), true);
  CHECK(((r == 1) | (r == 31)).all().item<bool>());
  CHECK((r == 31).any().item<bool>());
  CHECK((r == 1).any().item<bool>());
}

// ---------------------------------------------------------------------------------------------------------------
// Masking

TEST_CASE("Masking zeroes and masks the timesteps equal to mask_value", "[recurrent]") {
  at::Tensor x = rnd({2, 4, 3}, 15);
  x[0][1].fill_(-1.0);
  x[1][3].fill_(-1.0);
  x[1][0][0] = -1.0;  // only one feature equal: not masked
  layers::Masking masking(-1.0);
  Tensors masks;
  const at::Tensor y = masking.apply({x}, {}, false, &masks).front();
  const at::Tensor expected_mask =
      at::tensor(std::vector<int64_t>{1, 0, 1, 1, 1, 1, 1, 0}).to(at::kBool).reshape({2, 4});
  REQUIRE(masks.size() == 1);
  CHECK(at::equal(masks[0], expected_mask));
  check_close(y, x * expected_mask.unsqueeze(-1).to(at::kFloat));
  check_round_trip(masking, {x});
}

TEST_CASE("A masked step carries the states over and repeats the previous output", "[recurrent]") {
  // Sample 0 has 5 real steps then 2 padded ones; sample 1 has a masked step in the middle.
  const at::Tensor x = rnd({2, 7, 3}, 16);
  const at::Tensor mask = at::tensor(std::vector<int64_t>{1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1})
                              .to(at::kBool)
                              .reshape({2, 7});
  layers::LSTM lstm(4, {.return_sequences = true, .return_state = true});
  layers::GRU gru(4, {.return_sequences = true, .return_state = true});
  layers::SimpleRNN rnn(4, {.return_sequences = true, .return_state = true});
  for (layers::RNNBase* layer : std::vector<layers::RNNBase*>{&lstm, &gru, &rnn}) {
    INFO(layer->describe());
    (*layer)(Tensors{x});
    randomize(*layer, 90);
    Tensors out_masks;
    const Tensors y = layer->apply({x}, {mask}, false, &out_masks);
    // Sample 0: the unpadded five steps, then the last output repeated.
    const Tensors short0 = (*layer)(Tensors{x.narrow(0, 0, 1).narrow(1, 0, 5)});
    check_close(y[0][0].narrow(0, 0, 5), short0[0][0]);
    check_close(y[0][0][5], short0[0][0][4]);
    check_close(y[0][0][6], short0[0][0][4]);
    for (size_t s = 1; s < y.size(); ++s) check_close(y[s][0], short0[s][0]);
    // Sample 1: the same as the sequence with step 2 removed, the output at step 2 repeating step 1's.
    const at::Tensor x1 = at::cat({x[1].narrow(0, 0, 2), x[1].narrow(0, 3, 4)}).unsqueeze(0);
    const Tensors skipped = (*layer)(Tensors{x1});
    check_close(y[0][1][2], skipped[0][0][1]);
    check_close(y[0][1].narrow(0, 3, 4), skipped[0][0].narrow(0, 2, 4));
    for (size_t s = 1; s < y.size(); ++s) check_close(y[s][1], skipped[s][0]);
    // The mask goes on with the sequence output; states carry none.
    REQUIRE(out_masks.size() == y.size());
    CHECK(at::equal(out_masks[0], mask));
    for (size_t s = 1; s < out_masks.size(); ++s) CHECK_FALSE(out_masks[s].defined());
    // zero_output_for_mask outputs zeros instead; the states are unchanged.
    layer->set_zero_output_for_mask(true);
    const Tensors z = layer->apply({x}, {mask}, false);
    check_close(z[0][0][5], at::zeros({4}));
    check_close(z[0][1][2], at::zeros({4}));
    check_close(z[0][1][3], y[0][1][3]);
    for (size_t s = 1; s < z.size(); ++s) check_close(z[s], y[s]);
    layer->set_zero_output_for_mask(false);
  }
  // Without return_sequences the output is the last unmasked one and no mask goes on.
  layers::LSTM last(4);
  last(Tensors{x});
  last.set_weights(lstm.get_weights());
  Tensors out_masks;
  const at::Tensor y = last.apply({x}, {mask}, false, &out_masks).front();
  check_close(y[0], last(x.narrow(0, 0, 1).narrow(1, 0, 5))[0]);
  REQUIRE(out_masks.size() == 1);
  CHECK_FALSE(out_masks[0].defined());
}

TEST_CASE("Masking -> LSTM trains on zero-padded sequences exactly as on the unpadded ones", "[recurrent]") {
  const at::Tensor x = rnd({4, 5, 3}, 17);
  const at::Tensor padded = at::cat({x, at::zeros({4, 3, 3})}, 1);
  SECTION("last output, mean squared error") {
    const at::Tensor y = rnd({4, 2}, 18);
    Sequential with_padding({layers::Input({8, 3}), layers::Masking(), layers::LSTM(2)});
    Sequential without({layers::Input({5, 3}), layers::LSTM(2)});
    without.set_weights(with_padding.get_weights());
    for (Sequential* model : {&with_padding, &without})
      model->compile(
          {.optimizer = optimizers::SGD({.learning_rate = 0.5}), .loss = losses::MeanSquaredError()});
    for (int step = 0; step < 3; ++step) {
      const double a = with_padding.train_on_batch(padded, y).at("loss");
      const double b = without.train_on_batch(x, y).at("loss");
      CHECK(a == Approx(b).epsilon(1e-5));
    }
    check_close(with_padding.predict_on_batch(padded), without.predict_on_batch(x));
    const auto wa = with_padding.get_weights(), wb = without.get_weights();
    for (size_t i = 0; i < wa.size(); ++i) check_close(wa[i], wb[i]);
  }
  SECTION("return_sequences: the loss ignores the masked timesteps") {
    const at::Tensor y = rnd({4, 5, 2}, 19);
    const at::Tensor y_padded =
        at::cat({y, rnd({4, 3, 2}, 20)}, 1);  // targets at padded steps must not count
    Sequential with_padding(
        {layers::Input({8, 3}), layers::Masking(), layers::GRU(2, {.return_sequences = true})});
    Sequential without({layers::Input({5, 3}), layers::GRU(2, {.return_sequences = true})});
    without.set_weights(with_padding.get_weights());
    for (Sequential* model : {&with_padding, &without})
      model->compile(
          {.optimizer = optimizers::SGD({.learning_rate = 0.5}), .loss = losses::MeanSquaredError()});
    for (int step = 0; step < 3; ++step) {
      const double a = with_padding.train_on_batch(padded, y_padded).at("loss");
      const double b = without.train_on_batch(x, y).at("loss");
      CHECK(a == Approx(b).epsilon(1e-5));
    }
    check_close(with_padding.predict_on_batch(padded).narrow(1, 0, 5), without.predict_on_batch(x));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Wrappers

TEST_CASE("Bidirectional merges a forward and a backward copy like two layers run by hand", "[recurrent]") {
  const at::Tensor x = rnd({2, 5, 3}, 21);
  for (bool sequences : {true, false}) {
    layers::LSTM forward(4, {.return_sequences = sequences});
    layers::LSTM backward(4, {.return_sequences = sequences, .go_backwards = true});
    forward(Tensors{x});
    backward(Tensors{x});
    randomize(forward, 100);
    randomize(backward, 110);
    at::Tensor f = forward(x), b = backward(x);
    if (sequences) b = b.flip(1);
    const std::vector<std::pair<std::optional<std::string>, at::Tensor>> modes{
        {"concat", at::cat({f, b}, -1)}, {"sum", f + b}, {"mul", f * b}, {"ave", (f + b) / 2}};
    for (const auto& [mode, expected] : modes) {
      INFO(*mode << " return_sequences " << sequences);
      layers::Bidirectional bi(layers::LSTM(4, {.return_sequences = sequences, .name = "enc"}),
                               {.merge_mode = mode});
      bi(Tensors{x});
      std::vector<at::Tensor> weights = forward.get_weights();
      for (const auto& w : backward.get_weights()) weights.push_back(w);
      bi.set_weights(weights);
      check_close(bi(x), expected);
      CHECK(bi.forward_layer().name() == "forward_enc");
      CHECK(bi.backward_layer().name() == "backward_enc");
      CHECK(bi.variables()[3].name == "backward_enc/kernel");
      CHECK(bi.compute_output_shape({kNone, 5, 3}).back() == (*mode == "concat" ? 8 : 4));
    }
    layers::Bidirectional both(layers::LSTM(4, {.return_sequences = sequences}),
                               {.merge_mode = std::nullopt});
    both(Tensors{x});
    std::vector<at::Tensor> weights = forward.get_weights();
    for (const auto& w : backward.get_weights()) weights.push_back(w);
    both.set_weights(weights);
    const Tensors y = both(Tensors{x});
    REQUIRE(y.size() == 2);
    check_close(y[0], f);
    check_close(y[1], b);
  }
}

TEST_CASE("Bidirectional with initial states, return_state, a given backward layer and masks",
          "[recurrent]") {
  const at::Tensor x = rnd({2, 5, 3}, 22);
  const Tensors h0{rnd({2, 4}, 23), rnd({2, 4}, 24)};
  layers::GRU forward(4, {.return_sequences = true, .return_state = true});
  layers::SimpleRNN backward(4, {.return_sequences = true, .return_state = true, .go_backwards = true});
  layers::Bidirectional bi(layers::GRU(4, {.return_sequences = true, .return_state = true}),
                           {.backward_layer = layers::SimpleRNN(
                                4, {.return_sequences = true, .return_state = true, .go_backwards = true})});
  forward(Tensors{x});
  backward(Tensors{x});
  bi(Tensors{x});
  randomize(bi, 120);
  const auto w = bi.get_weights();
  forward.set_weights({w[0], w[1], w[2]});
  backward.set_weights({w[3], w[4], w[5]});
  const Tensors y = bi({x, h0[0], h0[1]});
  const Tensors f = forward({x, h0[0]}), b = backward({x, h0[1]});
  REQUIRE(y.size() == 3);
  check_close(y[0], at::cat({f[0], b[0].flip(1)}, -1));
  check_close(y[1], f[1]);
  check_close(y[2], b[1]);
  expect_error<ValueError>([&] { bi({x, h0[0]}); }, {"expected 2 initial states"});

  // Masked right-padding: each direction equals its run on the unpadded sample; padded outputs are zeros.
  const at::Tensor mask =
      at::tensor(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}).to(at::kBool).reshape({2, 5});
  Tensors out_masks;
  const Tensors masked = bi.apply({x}, {mask}, false, &out_masks);
  const at::Tensor short1 = x.narrow(0, 1, 1).narrow(1, 0, 3);
  const Tensors f1 = forward(Tensors{short1}), b1 = backward(Tensors{short1});
  check_close(masked[0][1].narrow(0, 0, 3), at::cat({f1[0][0], b1[0][0].flip(0)}, -1));
  check_close(masked[0][1].narrow(0, 3, 2), at::zeros({2, 8}));
  check_close(masked[1][1], f1[1][0]);
  check_close(masked[2][1], b1[1][0]);
  CHECK(at::equal(out_masks[0], mask));
  CHECK_FALSE(out_masks[1].defined());

  expect_error<ValueError>([] { layers::Bidirectional(layers::Dense(3)); },
                           {"must be a recurrent layer", "Dense"});
  expect_error<ValueError>([] { layers::Bidirectional(layers::LSTM(3), {.merge_mode = "max"}); },
                           {"merge_mode", "max"});
  expect_error<ValueError>(
      [] { layers::Bidirectional(layers::LSTM(3), {.backward_layer = layers::LSTM(3)}); },
      {"different go_backwards"});
  expect_error<ValueError>(
      [] {
        layers::Bidirectional(layers::LSTM(3),
                              {.backward_layer = layers::LSTM(3, {.go_backwards = true, .stateful = true})});
      },
      {"same return_sequences, return_state and stateful"});
}

TEST_CASE("TimeDistributed applies a layer to every timestep and passes the mask through", "[recurrent]") {
  const at::Tensor x = rnd({3, 4, 5}, 25);
  layers::TimeDistributed td(layers::Dense(2));
  Tensors masks;
  const at::Tensor mask =
      at::tensor(std::vector<int64_t>{1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1}).to(at::kBool).reshape({3, 4});
  const at::Tensor y = td.apply({x}, {mask}, false, &masks).front();
  auto& dense = static_cast<layers::Dense&>(td.layer());
  for (int64_t t = 0; t < 4; ++t)
    check_close(y.select(1, t), at::mm(x.select(1, t), dense.kernel()) + dense.bias());
  CHECK(at::equal(masks.at(0), mask));
  CHECK(td.compute_output_shape({kNone, 4, 5}) == Shape{kNone, 4, 2});
  CHECK(td.get_weights().size() == 2);

  // A recurrent layer inside: (batch, outer, inner, features) -> one LSTM run per outer step.
  const at::Tensor x4 = rnd({2, 3, 4, 5}, 26);
  layers::TimeDistributed td_lstm(layers::LSTM(3));
  const at::Tensor y4 = td_lstm(x4);
  REQUIRE(y4.sizes() == at::IntArrayRef({2, 3, 3}));
  for (int64_t t = 0; t < 3; ++t) check_close(y4.select(1, t), td_lstm.layer()(x4.select(1, t)));
  expect_error<ShapeError>([&] { td(rnd({3, 5}, 27)); }, {"TimeDistributed", "rank >= 3"});
}

// ---------------------------------------------------------------------------------------------------------------
// Gradients, regularizers, configs, errors

TEST_CASE("Recurrent gradients match central finite differences in float64", "[recurrent]") {
  const at::Tensor x = rnd({2, 3, 2}, 28);
  const at::Tensor mask = at::tensor(std::vector<int64_t>{1, 1, 0, 1, 0, 1}).to(at::kBool).reshape({2, 3});
  SECTION("SimpleRNN") {
    layers::SimpleRNN layer(3, {.return_sequences = true, .return_state = true});
    check_gradients(layer, x);
    check_gradients(layer, x, mask);
  }
  SECTION("LSTM") {
    layers::LSTM layer(3, {.return_sequences = true, .return_state = true});
    check_gradients(layer, x);
    check_gradients(layer, x, mask);
  }
  SECTION("GRU") {
    layers::GRU layer(3, {.return_state = true, .go_backwards = true});
    check_gradients(layer, x);
    check_gradients(layer, x, mask);
    layers::GRU before(3, {.reset_after = false});
    check_gradients(before, x);
  }
  SECTION("Bidirectional") {
    layers::Bidirectional layer(layers::LSTM(2, {.return_sequences = true}), {.merge_mode = "mul"});
    check_gradients(layer, x, mask);
  }
  SECTION("TimeDistributed") {
    layers::TimeDistributed layer(layers::Dense(2, {.activation = "tanh"}));
    check_gradients(layer, x, mask);
  }
}

TEST_CASE("Recurrent regularizers join losses() and constraints project the weights", "[recurrent]") {
  const at::Tensor x = rnd({2, 3, 2}, 29);
  layers::LSTM layer(3, {.kernel_regularizer = regularizers::L2(0.1),
                         .recurrent_regularizer = regularizers::L1(0.2),
                         .activity_regularizer = regularizers::L2(0.3),
                         .bias_constraint = "non_neg"});
  const at::Tensor y = layer(x);
  const Tensors losses = layer.losses();
  REQUIRE(losses.size() == 3);
  check_close(losses[0], 0.1 * layer.kernel().pow(2).sum());
  check_close(losses[1], 0.2 * layer.recurrent_kernel().abs().sum());
  check_close(losses[2], 0.3 * y.pow(2).sum() / 2);
  layer.set_weights({layer.kernel().detach(), layer.recurrent_kernel().detach(), -at::ones({12})});
  layer.apply_constraints();
  check_close(layer.bias(), at::zeros({12}));
}

TEST_CASE("Recurrent and wrapper configs round-trip through serialize and deserialize", "[recurrent]") {
  const at::Tensor x = rnd({2, 4, 3}, 30);
  layers::SimpleRNN rnn(
      3, {.activation = "relu", .kernel_regularizer = "l2", .dropout = 0.2, .return_sequences = true});
  layers::LSTM lstm(3, {.recurrent_activation = "hard_sigmoid",
                        .unit_forget_bias = false,
                        .recurrent_constraint = "max_norm",
                        .seed = 5,
                        .return_state = true,
                        .go_backwards = true});
  layers::GRU gru(3, {.use_bias = false, .recurrent_dropout = 0.1, .reset_after = false});
  layers::Bidirectional bi(layers::GRU(3, {.return_sequences = true}), {.merge_mode = "ave"});
  layers::TimeDistributed td(layers::Dense(2, {.activation = "tanh"}));
  for (Layer* layer : std::vector<Layer*>{&rnn, &lstm, &gru, &bi, &td}) {
    INFO(layer->describe());
    (*layer)(Tensors{x});
    randomize(*layer, 130);
    check_round_trip(*layer, {x});
  }
  const nlohmann::json config = lstm.get_config();
  CHECK(config.at("units") == 3);
  CHECK(config.at("recurrent_activation") == "hard_sigmoid");
  CHECK(config.at("recurrent_initializer").at("class_name") == "Orthogonal");
  CHECK(config.at("recurrent_constraint").at("class_name") == "MaxNorm");
  CHECK(config.at("go_backwards") == true);
  CHECK(config.at("seed") == 5);
  CHECK(gru.get_config().at("reset_after") == false);
  CHECK(layers::deserialize(layers::serialize(layers::GRU(3, {.stateful = true})))
            ->get_config()
            .at("stateful") == true);
  const nlohmann::json bi_config = bi.get_config();
  CHECK(bi_config.at("layer").at("class_name") == "GRU");
  CHECK(bi_config.at("layer").at("config").at("name") == bi.forward_layer().name());
  CHECK(bi_config.at("backward_layer").at("config").at("go_backwards") == true);
  CHECK(bi_config.at("merge_mode") == "ave");
  CHECK(td.get_config().at("layer").at("class_name") == "Dense");
}

TEST_CASE("Recurrent layers reject bad arguments and inputs with clear errors", "[recurrent]") {
  expect_error<ValueError>([] { layers::LSTM(0); }, {"LSTM", "units > 0", "got 0"});
  expect_error<ValueError>([] { layers::GRU(-2); }, {"GRU", "units > 0"});
  expect_error<ValueError>([] { layers::SimpleRNN(3, {.dropout = 1.0}); }, {"dropout in [0, 1)"});
  expect_error<ValueError>([] { layers::LSTM(3, {.recurrent_dropout = -0.1}); }, {"recurrent_dropout"});
  layers::LSTM lstm(4, {.name = "seq"});
  expect_error<ShapeError>(
      [&] {
        lstm(rnd({2, 5}, 31));
      },
      {"LSTM 'seq'", "rank 3 (batch, timesteps, features)", "(None, 5)"});
  const at::Tensor x = rnd({2, 5, 3}, 32);
  lstm(Tensors{x});
  expect_error<ShapeError>([&] { lstm(rnd({2, 5, 4}, 33)); }, {"last dimension 3", "[2, 5, 4]"});
  expect_error<ValueError>([&] { lstm({x, at::zeros({2, 4})}); }, {"expected 2 initial state(s)", "got 1"});
  expect_error<ShapeError>(
      [&] {
        lstm({x, at::zeros({2, 4}), at::zeros({2, 3})});
      },
      {"initial state 1", "[2, 4]", "[2, 3]"});
  expect_error<ShapeError>(
      [&] {
        lstm.apply({x}, {at::ones({2, 4}, at::kBool)}, false);
      },
      {"mask of shape [2, 5]"});
  expect_error<ShapeError>([&] { layers::GRU(2)(rnd({2, 0, 3}, 34)); }, {"at least one timestep"});
}
