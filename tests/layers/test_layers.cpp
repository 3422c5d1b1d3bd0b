// Layers: Dense (forward by hand, gradient by finite differences, errors, config), Dropout, Flatten, Reshape,
// Activation, InputLayer, and the Layer weight contract (trainable flags, get/set_weights, sub-layer
// tracking).

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/core/random.h>
#include <strata/layers/activation.h>
#include <strata/layers/dense.h>
#include <strata/layers/dropout.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/reshaping.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

at::Tensor matrix(std::vector<float> values, int64_t rows, int64_t cols) {
  return at::tensor(values, at::kFloat).reshape({rows, cols});
}

// x = [[1, 2, 3], [4, 5, 6]], W = [[1, 0], [0, 1], [1, -1]], b = [0.5, -0.5].
at::Tensor tiny_x() { return matrix({1, 2, 3, 4, 5, 6}, 2, 3); }
at::Tensor tiny_kernel() { return matrix({1, 0, 0, 1, 1, -1}, 3, 2); }
at::Tensor tiny_bias() { return at::tensor({0.5f, -0.5f}); }

// A layer that owns a Dense through track(), the way a user composes layers.
class Block : public Layer {
 public:
  Block() : Layer("Block") { inner_ = track(layers::Dense(2)); }
  at::Tensor call(const at::Tensor& inputs, bool training) override { return (*inner_)(inputs, training); }
  std::shared_ptr<layers::Dense> inner_;
};

// A layer with one trainable and one non-trainable weight of its own.
class Counter : public Layer {
 public:
  Counter() : Layer("Counter") {}
  at::Tensor call(const at::Tensor& inputs, bool training) override { return inputs * scale_; }

 protected:
  void build(const Shape& input_shape) override {
    scale_ = add_weight("scale", {input_shape.back()}, "ones", true);
    steps_ = add_weight("steps", {}, "zeros", false);
  }

 private:
  at::Tensor scale_, steps_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Dense

TEST_CASE("Dense computes x·W + b (hand-computed)", "[layers][dense]") {
  layers::Dense dense(2);
  dense.ensure_built({kNone, 3});
  REQUIRE(dense.built());
  dense.set_weights({tiny_kernel(), tiny_bias()});
  // Row 0: [1+0+3, 0+2-3] + b = [4, -1] + [0.5, -0.5] = [4.5, -1.5]
  // Row 1: [4+0+6, 0+5-6] + b = [10, -1] + [0.5, -0.5] = [10.5, -1.5]
  at::Tensor out = dense(tiny_x());
  CHECK(at::allclose(out, matrix({4.5, -1.5, 10.5, -1.5}, 2, 2)));
  CHECK(dense.output_shape() == Shape{kNone, 2});
  CHECK(dense.build_input_shape() == Shape{kNone, 3});

  SECTION("with relu") {
    layers::Dense relu_dense(2, {.activation = "relu"});
    relu_dense.ensure_built({kNone, 3});
    relu_dense.set_weights({tiny_kernel(), tiny_bias()});
    CHECK(at::allclose(relu_dense(tiny_x()), matrix({4.5, 0, 10.5, 0}, 2, 2)));
  }
  SECTION("without bias") {
    layers::Dense no_bias(2, {.use_bias = false});
    no_bias.ensure_built({kNone, 3});
    CHECK(no_bias.weights().size() == 1);
    CHECK_FALSE(no_bias.bias().defined());
    no_bias.set_weights({tiny_kernel()});
    CHECK(at::allclose(no_bias(tiny_x()), matrix({4, -1, 10, -1}, 2, 2)));
  }
}

TEST_CASE("Dense applies to the last axis of a 3-D input", "[layers][dense]") {
  layers::Dense dense(2);
  dense.ensure_built({kNone, 3});
  dense.set_weights({tiny_kernel(), tiny_bias()});
  // Two samples of two timesteps; each timestep is a row of tiny_x, so each output row is as above.
  at::Tensor x = at::stack({tiny_x(), tiny_x().flip(0)});
  at::Tensor out = dense(x);
  REQUIRE(out.sizes() == at::IntArrayRef({2, 2, 2}));
  CHECK(at::allclose(out[0], matrix({4.5, -1.5, 10.5, -1.5}, 2, 2)));
  CHECK(at::allclose(out[1], matrix({10.5, -1.5, 4.5, -1.5}, 2, 2)));
  CHECK(dense.compute_output_shape({kNone, 7, 3}) == Shape{kNone, 7, 2});
  CHECK(dense.output_shape() == Shape{kNone, 2, 2});
}

TEST_CASE("Dense kernel gradient matches central finite differences and the chain rule",
          "[layers][dense][gradient]") {
  set_random_seed(21);
  layers::Dense dense(
      3, {.activation = "tanh", .bias_initializer = initializers::RandomNormal({.stddev = 0.5, .seed = 1})});
  at::Tensor x = at::rand({4, 5}) * 2.0 - 1.0;
  at::Tensor r = at::rand({4, 3}) * 2.0 - 1.0;  // f(W) = sum(dense(x) * r), so df/dy = r

  at::Tensor y = dense(x);
  (y * r).sum().backward();
  at::Tensor grad = dense.kernel().grad().to(at::kDouble);
  REQUIRE(grad.defined());
  REQUIRE(grad.sizes() == at::IntArrayRef({5, 3}));

  // Chain rule in double: dy/dz = 1 - tanh(z)^2, dW = x^T (r * (1 - tanh(z)^2)).
  const at::Tensor xd = x.to(at::kDouble), rd = r.to(at::kDouble);
  const at::Tensor w0 = dense.get_weights()[0], b0 = dense.get_weights()[1];
  at::Tensor z = at::matmul(xd, w0.to(at::kDouble)) + b0.to(at::kDouble);
  at::Tensor analytic = at::matmul(xd.t(), rd * (1.0 - at::tanh(z).pow(2)));
  CHECK(at::allclose(grad, analytic, 1e-4, 1e-5));

  // Central differences through the layer itself (float32 forward, so h = 3e-3 and a matching tolerance).
  const double h = 3e-3;
  auto f = [&](const at::Tensor& kernel) {
    at::NoGradGuard no_grad;
    dense.set_weights({kernel, b0});
    return (dense(x).to(at::kDouble) * rd).sum().item<double>();
  };
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      at::Tensor plus = w0.clone(), minus = w0.clone();
      plus[i][j] += h;
      minus[i][j] -= h;
      const double numeric = (f(plus) - f(minus)) / (2.0 * h);
      INFO("kernel[" << i << "][" << j << "]");
      CHECK(grad[i][j].item<double>() == Approx(numeric).margin(2e-3));
    }
  }
  dense.set_weights({w0, b0});
}

TEST_CASE("Dense rejects a wrong last dimension with a ShapeError naming layer, expected and actual",
          "[layers][dense][errors]") {
  layers::Dense dense(10, {.name = "classifier"});
  dense(at::zeros({32, 784}));  // builds for 784 features
  CHECK_THROWS_AS(dense(at::zeros({32, 10})), ShapeError);
  CHECK_THROWS_WITH(dense(at::zeros({32, 10})),
                    Contains("classifier") && Contains("784") && Contains("[32, 10]"));
  // Rank 1 is below Dense's minimum rank of 2.
  CHECK_THROWS_AS(dense(at::zeros({784})), ShapeError);
  // An integer input is a ValueError, not a crash inside matmul.
  CHECK_THROWS_AS(dense(at::zeros({2, 784}, at::kLong)), ValueError);
}

TEST_CASE("Dense with units <= 0 throws ValueError", "[layers][dense][errors]") {
  CHECK_THROWS_AS(layers::Dense(0), ValueError);
  CHECK_THROWS_AS(layers::Dense(-3), ValueError);
  CHECK_THROWS_WITH(layers::Dense(-3), Contains("units") && Contains("-3"));
}

TEST_CASE("Dense get_config holds Keras' keys", "[layers][dense][config]") {
  layers::Dense dense(5, {.activation = "relu", .name = "hidden"});
  const nlohmann::json config = dense.get_config();
  CHECK(config.at("name") == "hidden");
  CHECK(config.at("units") == 5);
  CHECK(config.at("activation") == "relu");
  CHECK(config.at("use_bias") == true);
  CHECK(config.at("trainable") == true);
  CHECK(config.at("dtype") == "float32");
  CHECK(config.at("kernel_initializer").at("class_name") == "GlorotUniform");
  CHECK(config.at("bias_initializer").at("class_name") == "Zeros");
  CHECK(config.at("kernel_regularizer").is_null());

  layers::Dense linear(2, {.kernel_initializer = initializers::Constant(0.5)});
  const nlohmann::json linear_config = linear.get_config();
  CHECK(linear_config.at("activation") == "linear");
  CHECK(linear_config.at("kernel_initializer").at("class_name") == "Constant");
  CHECK(linear_config.at("kernel_initializer").at("config").at("value") == 0.5);
  linear.ensure_built({kNone, 3});
  CHECK(at::equal(linear.kernel(), at::full({3, 2}, 0.5f)));
  CHECK(at::equal(linear.bias(), at::zeros({2})));
}

// ---------------------------------------------------------------------------------------------------------------
// Weights

TEST_CASE("trainable and non-trainable weights, set_trainable", "[layers][weights]") {
  layers::Dense dense(3);
  dense(at::ones({1, 4}));
  REQUIRE(dense.weights().size() == 2);
  CHECK(dense.count_params() == 4 * 3 + 3);
  CHECK(dense.trainable_weights().size() == 2);
  CHECK(dense.non_trainable_weights().empty());
  CHECK(dense.trainable_weights()[0].sizes() == at::IntArrayRef({4, 3}));  // kernel first, as in Keras
  CHECK(dense.trainable_weights()[1].sizes() == at::IntArrayRef({3}));
  CHECK(dense.kernel().requires_grad());
  const auto vars = dense.variables();
  CHECK(vars[0].name == dense.name() + "/kernel");
  CHECK(vars[1].name == dense.name() + "/bias");

  dense.set_trainable(false);
  CHECK_FALSE(dense.trainable());
  CHECK(dense.trainable_weights().empty());
  CHECK(dense.non_trainable_weights().size() == 2);
  CHECK_FALSE(dense.kernel().requires_grad());
  CHECK(dense.count_params() == 15);  // frozen weights still count

  dense.set_trainable(true);
  CHECK(dense.trainable_weights().size() == 2);
  CHECK(dense.kernel().requires_grad());
}

TEST_CASE("a weight created non-trainable stays non-trainable", "[layers][weights]") {
  Counter counter;
  at::Tensor out = counter(at::tensor({2.0f, 3.0f}).reshape({1, 2}));
  CHECK(at::equal(out, at::tensor({2.0f, 3.0f}).reshape({1, 2})));  // scale starts at ones
  CHECK(counter.trainable_weights().size() == 1);
  CHECK(counter.non_trainable_weights().size() == 1);
  counter.set_trainable(true);
  CHECK(counter.non_trainable_weights().size() == 1);
  CHECK(counter.count_params() == 2 + 1);
}

TEST_CASE("sub-layers tracked with track() contribute their weights", "[layers][weights]") {
  Block block;
  block(at::ones({2, 3}));
  REQUIRE(block.sublayers().size() == 1);
  CHECK(block.weights().size() == 2);
  CHECK(block.count_params() == 3 * 2 + 2);
  CHECK(block.variables()[0].name == block.inner_->name() + "/kernel");
  block.set_trainable(false);
  CHECK(block.trainable_weights().empty());
  CHECK(block.non_trainable_weights().size() == 2);
  CHECK_FALSE(block.inner_->trainable());
  block.set_trainable(true);
  // Freezing only the inner layer also hides its weights from the outer trainable list.
  block.inner_->set_trainable(false);
  CHECK(block.trainable_weights().empty());
}

TEST_CASE("get_weights copies, set_weights round-trips into the same tensors", "[layers][weights]") {
  layers::Dense dense(2);
  dense.ensure_built({kNone, 3});
  const void* kernel_storage = dense.kernel().data_ptr();

  auto copies = dense.get_weights();
  REQUIRE(copies.size() == 2);
  copies[0].fill_(7.0);
  CHECK_FALSE(at::equal(dense.kernel().detach(), copies[0]));  // a copy, not a view

  dense.set_weights({tiny_kernel(), tiny_bias()});
  auto back = dense.get_weights();
  CHECK(at::equal(back[0], tiny_kernel()));
  CHECK(at::equal(back[1], tiny_bias()));
  CHECK(dense.kernel().data_ptr() == kernel_storage);  // copied in place, never rebound
  CHECK(dense.kernel().requires_grad());
}

TEST_CASE("set_weights with a wrong shape or count throws and changes nothing", "[layers][weights][errors]") {
  layers::Dense dense(2, {.name = "probe"});
  dense.ensure_built({kNone, 3});
  dense.set_weights({tiny_kernel(), tiny_bias()});

  // The first array is fine, the second is wrong: nothing may be copied.
  CHECK_THROWS_AS(dense.set_weights({at::zeros({3, 2}), at::zeros({3})}), ShapeError);
  CHECK_THROWS_WITH(dense.set_weights({at::zeros({3, 2}), at::zeros({3})}),
                    Contains("probe") && Contains("[2]") && Contains("[3]"));
  CHECK(at::equal(dense.kernel().detach(), tiny_kernel()));
  CHECK(at::equal(dense.bias().detach(), tiny_bias()));

  CHECK_THROWS_AS(dense.set_weights({at::zeros({2, 3}), tiny_bias()}), ShapeError);
  CHECK(at::equal(dense.kernel().detach(), tiny_kernel()));

  CHECK_THROWS_AS(dense.set_weights({tiny_kernel()}), ValueError);
  CHECK_THROWS_WITH(dense.set_weights({tiny_kernel()}), Contains("2") && Contains("1"));
  CHECK(at::equal(dense.bias().detach(), tiny_bias()));
}

// ---------------------------------------------------------------------------------------------------------------
// Dropout

TEST_CASE("Dropout passes inputs through at inference", "[layers][dropout]") {
  layers::Dropout dropout(0.5);
  at::Tensor x = at::randn({8, 16});
  CHECK(at::equal(dropout(x), x));
  CHECK(at::equal(dropout(x, false), x));
  layers::Dropout none(0.0);
  CHECK(at::equal(none(x, true), x));
}

TEST_CASE("Dropout in training zeroes about `rate` of the values and scales the rest by 1/(1-rate)",
          "[layers][dropout]") {
  const double rate = 0.3;
  layers::Dropout dropout(rate, {.seed = 17});
  at::Tensor x = at::ones({400, 500});
  at::Tensor y = dropout(x, true);
  // 200000 Bernoulli(0.3) draws: the fraction has std sqrt(0.3*0.7/200000) = 0.001, so 0.01 is 10 sigma.
  const double zero_fraction = (y == 0).to(at::kDouble).mean().item<double>();
  CHECK(zero_fraction == Approx(rate).margin(0.01));
  at::Tensor kept = y.masked_select(y != 0);
  CHECK(kept.min().item<double>() == Approx(1.0 / (1.0 - rate)).epsilon(1e-6));
  CHECK(kept.max().item<double>() == Approx(1.0 / (1.0 - rate)).epsilon(1e-6));
  // The scaling keeps the expected sum.
  CHECK(y.to(at::kDouble).mean().item<double>() == Approx(1.0).margin(0.02));
  // The mask changes from step to step.
  CHECK_FALSE(at::equal(dropout(x, true), y));
  // The same seed gives the same sequence of masks.
  layers::Dropout a(rate, {.seed = 5}), b(rate, {.seed = 5});
  CHECK(at::equal(a(x, true), b(x, true)));
}

TEST_CASE("Dropout rate outside 0 <= rate < 1 throws ValueError", "[layers][dropout][errors]") {
  CHECK_THROWS_AS(layers::Dropout(1.0), ValueError);
  CHECK_THROWS_AS(layers::Dropout(-0.1), ValueError);
  CHECK_THROWS_AS(layers::Dropout(1.5), ValueError);
  CHECK_THROWS_WITH(layers::Dropout(1.5), Contains("rate") && Contains("1.5"));
  CHECK(layers::Dropout(0.25).get_config().at("rate") == 0.25);
}

// ---------------------------------------------------------------------------------------------------------------
// Flatten, Reshape, Activation, InputLayer

TEST_CASE("Flatten keeps the batch and joins the rest in row-major order", "[layers][reshaping]") {
  layers::Flatten flatten;
  at::Tensor x = at::arange(24, at::kFloat).reshape({2, 3, 4});
  at::Tensor y = flatten(x);
  REQUIRE(y.sizes() == at::IntArrayRef({2, 12}));
  for (int64_t i = 0; i < 12; ++i) CHECK(y[1][i].item<float>() == static_cast<float>(12 + i));
  CHECK(flatten.compute_output_shape({kNone, 28, 28}) == Shape{kNone, 784});
  CHECK(flatten.output_shape() == Shape{kNone, 12});
  CHECK(layers::Flatten()(at::zeros({5})).sizes() == at::IntArrayRef({5, 1}));
}

TEST_CASE("Reshape infers -1 and rejects sizes that do not fit", "[layers][reshaping]") {
  at::Tensor x = at::arange(24, at::kFloat).reshape({2, 12});
  layers::Reshape inferred({-1, 2});
  at::Tensor y = inferred(x);
  REQUIRE(y.sizes() == at::IntArrayRef({2, 6, 2}));  // 12 / 2 = 6
  CHECK(y[1][5][1].item<float>() == 23.0f);
  CHECK(inferred.compute_output_shape({kNone, 12}) == Shape{kNone, 6, 2});

  layers::Reshape fixed({3, 4});
  CHECK(fixed(x).sizes() == at::IntArrayRef({2, 3, 4}));
  CHECK(fixed.compute_output_shape({kNone, 4, 3}) == Shape{kNone, 3, 4});

  layers::Reshape wrong({5}, "to_five");
  CHECK_THROWS_AS(wrong(x), ShapeError);
  CHECK_THROWS_WITH(wrong(x), Contains("to_five") && Contains("[2, 12]") && Contains("[5]"));
  CHECK_THROWS_AS(wrong.compute_output_shape({kNone, 12}), ShapeError);
  layers::Reshape not_divisible({-1, 5});
  CHECK_THROWS_AS(not_divisible(x), ShapeError);

  CHECK_THROWS_AS(layers::Reshape({-1, -1}), ValueError);
  CHECK_THROWS_AS(layers::Reshape({0, 3}), ValueError);
}

TEST_CASE("Activation layer applies its function and reports it in its config", "[layers][activation]") {
  layers::Activation relu("relu");
  at::Tensor x = at::tensor({-2.0f, -0.5f, 0.0f, 1.5f});
  CHECK(at::equal(relu(x), at::tensor({0.0f, 0.0f, 0.0f, 1.5f})));
  CHECK(relu.weights().empty());
  CHECK(relu.get_config().at("activation") == "relu");
  layers::Activation sigmoid("sigmoid");
  // sigmoid(0) = 1/2, sigmoid(1.5) = 1/(1+e^-1.5) = 0.8175744762
  at::Tensor s = sigmoid(x);
  CHECK(s[2].item<float>() == Approx(0.5));
  CHECK(s[3].item<float>() == Approx(0.8175744762));
  CHECK_THROWS_AS(layers::Activation("sigmoidal"), ValueError);
}

TEST_CASE("InputLayer declares a batch-None shape and checks its input", "[layers][input]") {
  layers::InputLayer input({28, 28});
  CHECK(input.batch_shape() == Shape{kNone, 28, 28});
  CHECK(input.built());
  CHECK(input.output_shape() == Shape{kNone, 28, 28});
  CHECK(input.get_config().at("batch_input_shape").at(0).is_null());
  CHECK(input.get_config().at("batch_input_shape").at(1) == 28);
  at::Tensor ok = at::zeros({3, 28, 28});
  CHECK(at::equal(input(ok), ok));
  CHECK_THROWS_AS(input(at::zeros({3, 28, 27})), ShapeError);
  CHECK_THROWS_WITH(input(at::zeros({3, 28, 27})), Contains("(None, 28, 28)") && Contains("[3, 28, 27]"));
  CHECK_THROWS_AS(layers::Input({28, 0}), ValueError);
  CHECK_THROWS_AS(layers::Input({-5}), ValueError);
  CHECK_THROWS_WITH(layers::Input({4}, {.dtype = "float33"}), Contains("float33") && Contains("int64"));
}

TEST_CASE("Input() gives a symbolic tensor with Keras' shape, dtype and node name", "[layers][input]") {
  const SymbolicTensor pixels = layers::Input({28, 28}, {.name = "pixels"});
  CHECK(pixels.shape() == Shape{kNone, 28, 28});
  CHECK(pixels.dtype() == at::kFloat);
  CHECK_FALSE(pixels.has_mask());
  CHECK(pixels.describe() == "pixels[0][0]");
  const SymbolicTensor ids = Input({kNone}, {.dtype = "int64", .batch_size = 8});
  CHECK(ids.shape() == Shape{8, kNone});
  CHECK(ids.dtype() == at::kLong);
  auto layer = std::dynamic_pointer_cast<layers::InputLayer>(ids.layer());
  REQUIRE(layer);
  CHECK(layer->get_config().at("dtype") == "int64");
  CHECK(layer->get_config().at("batch_input_shape").at(0) == 8);
}

TEST_CASE("Dense given float64 input computes in its float32 dtype, as Keras' autocast does",
          "[layers][dense]") {
  layers::Dense dense(2);
  dense.ensure_built({kNone, 3});
  dense.set_weights({tiny_kernel(), tiny_bias()});
  at::Tensor out = dense(tiny_x().to(at::kDouble));
  CHECK(out.scalar_type() == at::kFloat);
  CHECK(at::allclose(out, matrix({4.5, -1.5, 10.5, -1.5}, 2, 2)));
}
