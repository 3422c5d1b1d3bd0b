// The functional API: Input(), layers called on symbolic tensors, Model(inputs, outputs). Expected values are
// the same computation written out with plain ATen ops on the layers' own weights, a Sequential model with
// the same weights (masks), closed-form gradients, and a summary table written out from Keras 2's format.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/layers/dense.h>
#include <strata/layers/embedding.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/merging.h>
#include <strata/layers/recurrent.h>
#include <strata/models/functional_graph.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "../support/tensor_checks.h"

using namespace strata;
using strata::test_support::check_close;
using strata::test_support::expect_error;

namespace {

at::Tensor affine(const at::Tensor& x, const Layer& dense) {
  const auto w = dense.get_weights();
  return at::matmul(x, w.at(0)) + w.at(1);
}

std::vector<std::string> names_of(const std::vector<std::shared_ptr<Layer>>& layers) {
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back(layer->name());
  return names;
}

}  // namespace

TEST_CASE("a shared layer keeps one set of weights and sums the gradients of its two calls", "[functional]") {
  auto in_a = Input({3}, {.name = "in_a"});
  auto in_b = Input({3}, {.name = "in_b"});
  auto shared = share(layers::Dense(2, {.name = "shared"}));
  auto ya = (*shared)(in_a);
  auto yb = (*shared)(in_b);
  auto head = layers::Dense(1, {.name = "head"})(ya);
  auto sum = layers::Add("sum")({ya, yb}).front();
  Model model({in_a, in_b}, {head, sum}, "two_by_two");

  CHECK(names_of(model.layers()) == std::vector<std::string>{"in_a", "in_b", "shared", "head", "sum"});
  CHECK(model.graph()->input_names() == std::vector<std::string>{"in_a", "in_b"});
  CHECK(model.graph()->output_names() == std::vector<std::string>{"head", "sum"});
  REQUIRE(model.trainable_weights().size() == 4);  // shared kernel and bias once, then head's
  CHECK(shared->inbound_nodes().size() == 2);
  CHECK(sum.shape() == Shape{kNone, 2});

  const at::Tensor xa = at::randn({5, 3}), xb = at::randn({5, 3});
  const Tensors out = model({xa, xb});
  REQUIRE(out.size() == 2);
  const Layer& head_layer = *model.get_layer("head");
  check_close(out[0], affine(affine(xa, *shared), head_layer), 1e-5);
  check_close(out[1], affine(xa, *shared) + affine(xb, *shared), 1e-5);

  // loss = sum(head) + sum(sum) = sum((xa W + b) V + c) + sum(xa W + b) + sum(xb W + b), so
  // dL/dW[i][j] = sum_n xa[n][i] (V[j] + 1) + sum_n xb[n][i] and dL/db[j] = N (V[j] + 1) + N.
  (out[0].sum() + out[1].sum()).backward();
  const at::Tensor v = head_layer.get_weights().at(0).reshape({1, 2});
  const at::Tensor expected_kernel = xa.sum(0).unsqueeze(1) * (v + 1) + xb.sum(0).unsqueeze(1);
  const at::Tensor expected_bias = 5.0 * (v.reshape({2}) + 1) + 5.0;
  const auto weights = shared->trainable_weights();
  check_close(weights.at(0).grad(), expected_kernel, 1e-4);
  check_close(weights.at(1).grad(), expected_bias, 1e-4);
}

TEST_CASE("a skip connection with Add and a Concatenate merge compute what they say", "[functional]") {
  auto x = Input({4});
  auto dense = share(layers::Dense(4, {.activation = "relu"}));
  const SymbolicTensor residual = layers::Add()({x, (*dense)(x)});  // a one-output list stands for its tensor
  Model skip(x, residual);
  const at::Tensor data = at::randn({6, 4});
  check_close(skip(data), data + at::relu(affine(data, *dense)), 1e-5);

  auto left = Input({2});
  auto right = Input({3});
  auto joined = layers::Concatenate()({left, right}).front();
  CHECK(joined.shape() == Shape{kNone, 5});
  auto projection = share(layers::Dense(1));
  Model concat({left, right}, {(*projection)(joined)});
  const at::Tensor l = at::randn({4, 2}), r = at::randn({4, 3});
  check_close(concat({l, r}).front(), affine(at::cat({l, r}, 1), *projection), 1e-5);
}

TEST_CASE("functional and Sequential models nest as layers", "[functional]") {
  auto inner_in = Input({3});
  auto inner = std::make_shared<Model>(inner_in, layers::Dense(4, {.activation = "tanh"})(inner_in), "inner");
  auto stack = std::make_shared<Sequential>(std::vector<LayerRef>{Input({4}), layers::Dense(2)}, "stack");

  auto x = Input({3});
  const SymbolicTensor h = (*inner)(x);
  auto y = (*stack)(h);
  // tf.keras 2.15's summary names a nested model's first call node 0 (checked by keras.crosscheck_models).
  CHECK(h.describe() == "inner[0][0]");
  CHECK(y.describe() == "stack[0][0]");
  Model outer(x, y, "outer");
  CHECK(names_of(outer.layers()) == std::vector<std::string>{x.layer()->name(), "inner", "stack"});
  CHECK(outer.count_params() == (3 * 4 + 4) + (4 * 2 + 2));
  CHECK(y.shape() == Shape{kNone, 2});

  const at::Tensor data = at::randn({5, 3});
  check_close(outer(data), (*stack)((*inner)(data)), 1e-6);
  const Layer& inner_dense = *inner->layers().back();
  check_close(outer(data), affine(at::tanh(affine(data, inner_dense)), *stack->layers().back()), 1e-5);

  std::ostringstream text;
  outer.summary(text);
  CHECK_THAT(text.str(), Catch::Matchers::Contains(" inner (Functional)"));
  CHECK_THAT(text.str(), Catch::Matchers::Contains(" stack (Sequential)"));
}

TEST_CASE("masks flow through a graph as through Sequential, and None time steps stay None", "[functional]") {
  auto tokens = Input({6}, {.dtype = "int64"});
  auto embedded = layers::Embedding(10, 4, {.mask_zero = true})(tokens);
  CHECK(embedded.has_mask());
  Model graph_model(tokens, layers::LSTM(3)(embedded));
  Sequential stacked(
      {Input({6}, {.dtype = "int64"}), layers::Embedding(10, 4, {.mask_zero = true}), layers::LSTM(3)});
  stacked.set_weights(graph_model.get_weights());

  // Zero padding at the end: a masked LSTM returns its state after the last real token.
  const at::Tensor ids = at::tensor({3, 1, 4, 0, 0, 0, 5, 9, 2, 6, 5, 0}, at::kLong).reshape({2, 6});
  const at::Tensor got = graph_model(ids);
  check_close(got, stacked(ids), 1e-6);
  const at::Tensor unmasked =
      graph_model.get_layer(2)
          ->apply({graph_model.get_layer(1)->apply({ids}, {}, false).front()}, {}, false)
          .front();
  CHECK(test_support::max_abs_difference(got, unmasked) > 1e-4);  // the mask made a difference

  auto open = Input({kNone}, {.dtype = "int64"});
  auto seq = layers::LSTM(3, {.return_sequences = true})(layers::Embedding(10, 4, {.mask_zero = true})(open));
  CHECK(seq.shape() == Shape{kNone, kNone, 3});
  Model sequences(open, seq);
  CHECK(sequences(at::randint(1, 10, {2, 7}, at::kLong)).sizes() == at::IntArrayRef({2, 7, 3}));
  Tensors masks;
  const Tensors out = sequences.graph()->run({ids}, {}, false, &masks);
  CHECK(out.front().sizes() == at::IntArrayRef({2, 6, 3}));
  REQUIRE(masks.size() == 1);
  CHECK(at::equal(masks.front(), ids != 0));
}

TEST_CASE("several outputs from one layer get unique names the way Keras makes them", "[functional]") {
  auto x = Input({5, 2}, {.name = "steps"});
  auto outs =
      layers::LSTM(3, {.return_sequences = true, .return_state = true, .name = "rnn"})(std::vector{x});
  Model model(std::vector{x}, outs);
  CHECK(model.graph()->output_names() == std::vector<std::string>{"rnn", "rnn_1", "rnn_2"});
  std::ostringstream text;
  model.summary(text);
  CHECK_THAT(text.str(), Catch::Matchers::Contains(" rnn (LSTM)                  [(None, 5, 3),"));
  CHECK_THAT(text.str(), Catch::Matchers::Contains("\n                              (None, 3),"));
}

TEST_CASE("a graph that cannot be computed fails at construction, naming what is wrong",
          "[functional][errors]") {
  auto a = Input({3}, {.name = "first"});
  auto b = Input({4}, {.name = "second"});
  auto three = layers::Dense(3)(a);
  auto four = layers::Dense(4)(b);
  expect_error<Error>([&] { layers::Add("bad_add")({three, four}); }, {"bad_add"});

  auto both = layers::Concatenate()({three, four}).front();
  expect_error<ValueError>([&] { Model({a}, {both}, "m1"); },
                           {"'m1'", "Graph disconnected", "outputs[0]", both.describe(), "'second'"});
  expect_error<ValueError>(
      [&] {
        Model({a, b}, {three}, "m2");
      },
      {"'m2'", "inputs[1]", "'second'", "not connected"});
  expect_error<ValueError>(
      [&] {
        Model({a, a}, {three}, "m3");
      },
      {"'m3'", "inputs[0] and inputs[1]", "'first'"});
  expect_error<ValueError>(
      [&] { Model({three}, {layers::Dense(1)(three)}, "m4"); },
      {"'m4'", "inputs[0] is the output of Dense '" + three.layer()->name() + "', not an Input()"});
  auto renamed = layers::Dense(2, {.name = "dup"})(layers::Dense(2, {.name = "dup"})(a));
  expect_error<ValueError>([&] { Model(a, renamed, "m5"); }, {"'m5'", "\"dup\" is used 2 times"});
}

TEST_CASE("a cycle among hand-made nodes is found", "[functional][errors]") {
  auto input = Input({2}, {.name = "loop_in"});
  auto dense = share(layers::Dense(2, {.name = "loop"}));
  auto first = std::make_shared<Node>();
  auto second = std::make_shared<Node>();
  first->layer = second->layer = dense;
  second->node_index = 1;
  first->inputs = {input, SymbolicTensor(second, 0)};
  second->inputs = {SymbolicTensor(first, 0)};
  const SymbolicTensor output(second, 0);
  expect_error<ValueError>([&] { topological_nodes({output}, "test graph"); },
                           {"test graph", "cycle", "Dense 'loop'"});
  expect_error<ValueError>([&] { FunctionalGraph({input}, {output}, "Model 'looped'"); },
                           {"'looped'", "cycle"});
  first->inputs = {input};  // break the cycle so the nodes can be freed

  const auto order = topological_nodes({output}, "test graph");
  REQUIRE(order.size() == 3);
  CHECK(order[0] == input.node());
  CHECK(order[1] == first);
  CHECK(order[2] == second);
}

TEST_CASE("layers() follows Keras' depth order; get_layer finds by name or index", "[functional]") {
  // Depths from the output: out 0, add 1, deep_2 2, deep_1 3, shallow 2, x 4 (longest path back).
  auto x = Input({2}, {.name = "x"});
  auto deep = layers::Dense(2, {.name = "deep_2"})(layers::Dense(2, {.name = "deep_1"})(x));
  auto shallow = layers::Dense(2, {.name = "shallow"})(x);
  auto out = layers::Dense(1, {.name = "out"})(layers::Add("add")({shallow, deep}).front());
  Model model(x, out, "ordered");
  CHECK(names_of(model.layers()) ==
        std::vector<std::string>{"x", "deep_1", "shallow", "deep_2", "add", "out"});
  CHECK(model.graph()->node_depths() == std::vector<int>{4, 3, 2, 2, 1, 0});
  CHECK(model.get_layer("shallow")->name() == "shallow");
  CHECK(model.get_layer(3)->name() == "deep_2");
  expect_error<ValueError>([&] { model.get_layer("missing"); }, {"'ordered'", "missing"});

  // An Input read late sits at its own depth in layers(), as in Keras, but its node still runs first.
  auto early = Input({2}, {.name = "early"});
  auto late = Input({2}, {.name = "late"});
  auto chain = layers::Dense(
      2, {.name = "c3"})(layers::Dense(2, {.name = "c2"})(layers::Dense(2, {.name = "c1"})(early)));
  Model joined({early, late}, {layers::Add("join")({chain, late}).front()}, "joined");
  CHECK(names_of(joined.layers()) == std::vector<std::string>{"early", "c1", "c2", "c3", "late", "join"});
  CHECK(joined.graph()->nodes()[1] == late.node());
  const at::Tensor e = at::randn({3, 2}), l = at::randn({3, 2});
  at::Tensor by_hand = e;
  for (const char* name : {"c1", "c2", "c3"}) by_hand = affine(by_hand, *joined.get_layer(name));
  check_close(joined({e, l}).front(), by_hand + l, 1e-5);

  // A shared layer's nodes take its deepest depth: s(v) is an output (depth 0) but s also feeds k, so s(v)
  // counts at depth 1 and v at depth 2, level with u, ahead of it by discovery order.
  auto u = Input({2}, {.name = "u"});
  auto v = Input({2}, {.name = "v"});
  auto s = share(layers::Dense(2, {.name = "s"}));
  auto first_output = (*s)(v);
  Model shared_depths({u, v}, {first_output, layers::Dense(1, {.name = "k"})((*s)(u))}, "shared_depths");
  CHECK(names_of(shared_depths.layers()) == std::vector<std::string>{"v", "u", "s", "k"});

  expect_error<Error>([&] { model({at::randn({2, 2}), at::randn({2, 2})}); }, {"'ordered'", "1 input"});
  expect_error<Error>([&] { model(at::randn({2, 3})); }, {"InputLayer 'x'"});
}

TEST_CASE("summary() of a two-input graph matches Keras' table with Connected to", "[functional]") {
  auto a = Input({4}, {.name = "a"});
  auto b = Input({6}, {.name = "b"});
  auto da = layers::Dense(3, {.name = "da"})(a);
  auto db = layers::Dense(3, {.name = "second_branch_dense"})(b);
  auto merged = layers::Concatenate(-1, {.name = "merge"})({da, db}).front();
  Model model({a, b}, {layers::Dense(1, {.name = "out"})(merged)}, "two_in");
  std::ostringstream text;
  model.summary(text);

  // Keras 2: 98 columns, columns ending at 29, 58, 68 and 98; a long field wraps, and a list breaks after
  // "',".
  auto pad = [](std::string line) { return line + std::string(98 - line.size(), ' ') + "\n"; };
  const std::string rule = std::string(98, '_') + "\n", equals = std::string(98, '=') + "\n", blank = pad("");
  const std::string expected =
      "Model: \"two_in\"\n" + rule +
      pad(" Layer (type)                Output Shape                 Param #   Connected to") + equals +
      pad(" a (InputLayer)              [(None, 4)]                  0         []") + blank +
      pad(" b (InputLayer)              [(None, 6)]                  0         []") + blank +
      pad(" da (Dense)                  (None, 3)                    15        ['a[0][0]']") + blank +
      pad(" second_branch_dense (Dense  (None, 3)                    21        ['b[0][0]']") + pad(" )") +
      blank + pad(" merge (Concatenate)         (None, 6)                    0         ['da[0][0]',") +
      pad("                                                                     "
          "'second_branch_dense[0][0]']") +
      blank + pad(" out (Dense)                 (None, 1)                    7         ['merge[0][0]']") +
      blank + equals +
      "Total params: 43 (172.00 Byte)\n"
      "Trainable params: 43 (172.00 Byte)\n"
      "Non-trainable params: 0 (0.00 Byte)\n" +
      rule;
  CHECK(text.str() == expected);

  // A plain chain prints in the Sequential format, its InputLayer's shape as a list.
  auto c = Input({4}, {.name = "c"});
  Model chain(c, layers::Dense(2, {.name = "only"})(c), "chain");
  std::ostringstream chain_text;
  chain.summary(chain_text);
  const std::string chain_expected =
      "Model: \"chain\"\n" + std::string(65, '_') + "\n" +
      " Layer (type)                Output Shape              Param #   \n" + std::string(65, '=') + "\n" +
      " c (InputLayer)              [(None, 4)]               0         \n" + std::string(65, ' ') + "\n" +
      " only (Dense)                (None, 2)                 10        \n" + std::string(65, ' ') + "\n" +
      std::string(65, '=') + "\n";
  CHECK(chain_text.str().substr(0, chain_expected.size()) == chain_expected);
}

TEST_CASE("summary() lists every call of a shared layer, and 'multiple' when their shapes differ",
          "[functional]") {
  auto row_of = [](const Model& model, const std::string& name) {
    std::ostringstream text;
    model.summary(text);
    const std::string all = text.str();
    const size_t start = all.find("\n " + name + " (");
    REQUIRE(start != std::string::npos);
    return all.substr(start + 1, 2 * 99);  // the row and its continuation line
  };
  auto pad = [](std::string line) { return line + std::string(98 - line.size(), ' ') + "\n"; };

  auto p = Input({3}, {.name = "p"});
  auto q = Input({3}, {.name = "q"});
  auto twice = share(layers::Dense(2, {.name = "twice"}));
  Model same({p, q}, {(*twice)(p), (*twice)(q)}, "same_shapes");
  CHECK(row_of(same, "twice") ==
        pad(" twice (Dense)               (None, 2)                    8         ['p[0][0]',") +
            pad("                                                                     'q[0][0]']"));

  auto r = Input({3}, {.name = "r"});
  auto s = Input({4, 3}, {.name = "s"});
  auto mixed = share(layers::Dense(2, {.name = "mixed"}));
  Model differ({r, s}, {(*mixed)(r), (*mixed)(s)}, "different_shapes");
  CHECK(row_of(differ, "mixed") ==
        pad(" mixed (Dense)               multiple                     8         ['r[0][0]',") +
            pad("                                                                     's[0][0]']"));
}
