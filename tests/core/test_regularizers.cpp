// Weight regularizers and constraints (formulas written out on small tensors, get/serialize/deserialize),
// Layer::losses() and add_loss(), activity regularizers, the training loss reported by Model (data loss plus
// penalties), constraints after fit, the masked loss reduction, and Keras masks reaching the loss and the
// metrics through Sequential.

#include <ATen/ATen.h>
#include <strata/core/constraints.h>
#include <strata/core/error.h>
#include <strata/core/regularizers.h>
#include <strata/layers/activation.h>
#include <strata/layers/activation_layers.h>
#include <strata/layers/convolutional.h>
#include <strata/layers/dense.h>
#include <strata/layers/dropout.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/normalization.h>
#include <strata/layers/registry.h>
#include <strata/layers/reshaping.h>
#include <strata/losses/regression.h>
#include <strata/metrics/accuracy.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

constexpr double kEps = 1e-7;  // Keras' backend epsilon

at::Tensor doubles(std::vector<double> values, std::vector<int64_t> shape) {
  return at::tensor(values, at::kDouble).reshape(shape);
}

double scalar(const at::Tensor& t) { return t.item<double>(); }

// A pass-through layer that adds sum(inputs) with add_loss on every call.
class AddsLoss : public Layer {
 public:
  AddsLoss() : Layer("AddsLoss") {}
  at::Tensor call(const at::Tensor& inputs, bool training) override {
    add_loss(inputs.sum());
    return inputs;
  }
};

// A layer that owns an AddsLoss and a regularized Dense, the way a user composes layers.
class Block : public Layer {
 public:
  Block() : Layer("Block") {
    inner_ = track(AddsLoss());
    dense_ = track(layers::Dense(1, {.kernel_initializer = "ones", .kernel_regularizer = regularizers::L1(0.5)}));
  }
  at::Tensor call(const at::Tensor& inputs, bool training) override {
    return (*dense_)((*inner_)(inputs, training), training);
  }
  std::shared_ptr<AddsLoss> inner_;
  std::shared_ptr<layers::Dense> dense_;
};

// Emits Keras' mask for (batch, time, features) inputs: a timestep is kept unless all its features are 0
// (what Masking(0.0) does), so the mask reaches the layers after it.
class MaskZeros : public Layer {
 public:
  MaskZeros() : Layer("MaskZeros") {}
  at::Tensor call(const at::Tensor& inputs, bool training) override { return inputs; }
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override {
    return {inputs.front().ne(0).any(-1)};
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Regularizers

TEST_CASE("L1, L2 and L1L2 penalties against their formulas", "[regularization]") {
  // sum |x| = 1 + 2 + 3 + 4 = 10, sum x^2 = 1 + 4 + 9 + 16 = 30
  const at::Tensor x = doubles({1, -2, 3, -4}, {2, 2});
  CHECK(scalar(regularizers::L1(0.1)(x)) == Approx(1.0));
  CHECK(scalar(regularizers::L2(0.01)(x)) == Approx(0.3));
  CHECK(scalar(regularizers::L1L2(0.1, 0.01)(x)) == Approx(1.3));
  // Keras' defaults: L1(0.01), L2(0.01), L1L2(0, 0); "l1_l2" is l1_l2(0.01, 0.01).
  CHECK(scalar(regularizers::L1()(x)) == Approx(0.1));
  CHECK(scalar(regularizers::L2()(x)) == Approx(0.3));
  CHECK(scalar(regularizers::L1L2()(x)) == 0.0);
  CHECK(scalar((*regularizers::get("l1"))(x)) == Approx(0.1));
  CHECK(scalar((*regularizers::get("l2"))(x)) == Approx(0.3));
  CHECK(scalar((*regularizers::get("l1_l2"))(x)) == Approx(0.4));
  // No "1/2" on L2, and the penalty is a scalar of the input's dtype with a gradient.
  const at::Tensor w = doubles({0.5, -1.5}, {2}).requires_grad_(true);
  at::Tensor penalty = regularizers::L1L2(0.1, 0.2)(w);
  CHECK(penalty.dim() == 0);
  CHECK(penalty.scalar_type() == at::kDouble);
  penalty.backward();
  // d/dw (0.1 |w| + 0.2 w^2) = 0.1 sign(w) + 0.4 w
  CHECK(w.grad()[0].item<double>() == Approx(0.1 + 0.2));
  CHECK(w.grad()[1].item<double>() == Approx(-0.1 - 0.6));
}

TEST_CASE("regularizers serialize and deserialize in Keras' form", "[regularization]") {
  const nlohmann::json l2 = regularizers::serialize(regularizers::L2(0.5));
  CHECK(l2 == nlohmann::json::parse(R"({"class_name": "L2", "config": {"l2": 0.5}})"));
  CHECK(regularizers::serialize(regularizers::L1(0.25)) ==
        nlohmann::json::parse(R"({"class_name": "L1", "config": {"l1": 0.25}})"));
  CHECK(regularizers::serialize(regularizers::L1L2(0.1, 0.2)) ==
        nlohmann::json::parse(R"({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}})"));
  CHECK(regularizers::serialize({}).is_null());

  const at::Tensor x = doubles({1, -2, 3}, {3});
  for (const regularizers::Spec& spec :
       {regularizers::Spec(regularizers::L1(0.3)), regularizers::Spec(regularizers::L2(0.7)),
        regularizers::Spec(regularizers::L1L2(0.1, 0.2))}) {
    const regularizers::Spec back = regularizers::deserialize(regularizers::serialize(spec));
    REQUIRE(back);
    CHECK(back->class_name() == spec->class_name());
    CHECK(scalar((*back)(x)) == Approx(scalar((*spec)(x))));
  }
  CHECK_FALSE(regularizers::deserialize(nullptr));
  CHECK(regularizers::deserialize("l2")->class_name() == "L2");
  const regularizers::Spec by_name = "l1";  // Keras-like call sites take a name
  CHECK(by_name->class_name() == "L1");
}

TEST_CASE("regularizer errors name the problem", "[regularization]") {
  CHECK_THROWS_AS(regularizers::get("l3"), ValueError);
  CHECK_THROWS_WITH(regularizers::get("l3"), Contains("l3"));
  CHECK_THROWS_WITH(regularizers::L1(-0.1), Contains("non-negative") && Contains("-0.1"));
  CHECK_THROWS_AS(regularizers::L1L2(0.1, -1.0), ValueError);
  CHECK_THROWS_WITH(regularizers::deserialize(nlohmann::json::parse(R"({"class_name": "Orthogonal"})")),
                    Contains("Orthogonal"));
  CHECK_THROWS_AS(regularizers::deserialize(42), ValueError);
  CHECK_THROWS_AS(regularizers::deserialize(nlohmann::json::parse(R"({"class_name": "L2", "config": {"l2": -1}})")),
                  ValueError);
}

// ---------------------------------------------------------------------------------------------------------------
// Constraints

TEST_CASE("MaxNorm, MinMaxNorm, NonNeg and UnitNorm against their formulas", "[regularization]") {
  // Columns (axis 0 norms): [3, 4] has norm 5, [0, 1] norm 1. Rows (axis 1): [3, 0] norm 3, [4, 1] sqrt(17).
  const at::Tensor w = doubles({3, 0, 4, 1}, {2, 2});
  SECTION("MaxNorm scales the columns whose norm exceeds max_value") {
    const at::Tensor out = constraints::MaxNorm(2.0)(w);
    const double s0 = 2.0 / (5.0 + kEps), s1 = 1.0 / (1.0 + kEps);
    CHECK(at::allclose(out, doubles({3 * s0, 0 * s1, 4 * s0, 1 * s1}, {2, 2}), 1e-12, 1e-12));
    // Over every axis: one norm sqrt(26).
    const at::Tensor all = constraints::MaxNorm(2.0, {0, 1})(w);
    CHECK(at::allclose(all, w * (2.0 / (std::sqrt(26.0) + kEps)), 1e-12, 1e-12));
    // Negative axes count from the end: axis -1 is the row norm here.
    const at::Tensor rows = constraints::MaxNorm(3.5, {-1})(w);
    CHECK(at::allclose(rows, doubles({3 * 3 / (3 + kEps), 0, 4 * 3.5 / (std::sqrt(17.0) + kEps),
                                      1 * 3.5 / (std::sqrt(17.0) + kEps)},
                                     {2, 2}),
                       1e-12, 1e-12));
  }
  SECTION("MinMaxNorm moves the norms into [min, max] at `rate`") {
    const at::Tensor out = constraints::MinMaxNorm({.min_value = 2.0, .max_value = 3.0, .rate = 0.5})(w);
    // column 0: desired 0.5 * 3 + 0.5 * 5 = 4; column 1: 0.5 * 2 + 0.5 * 1 = 1.5
    const double s0 = 4.0 / (5.0 + kEps), s1 = 1.5 / (1.0 + kEps);
    CHECK(at::allclose(out, doubles({3 * s0, 0, 4 * s0, 1 * s1}, {2, 2}), 1e-12, 1e-12));
    const at::Tensor exact = constraints::MinMaxNorm({.min_value = 2.0, .max_value = 3.0})(w);
    CHECK(at::allclose(exact.square().sum(0).sqrt(), doubles({3, 2}, {2}), 1e-6, 1e-6));
  }
  SECTION("NonNeg zeroes the negative entries") {
    const at::Tensor out = constraints::NonNeg()(doubles({1, -2, -0.5, 3}, {2, 2}));
    CHECK(at::equal(out, doubles({1, 0, 0, 3}, {2, 2})));
  }
  SECTION("UnitNorm divides by the norm plus epsilon") {
    const at::Tensor cols = constraints::UnitNorm()(w);
    CHECK(at::allclose(cols, doubles({3 / (5 + kEps), 0, 4 / (5 + kEps), 1 / (1 + kEps)}, {2, 2}), 1e-12, 1e-12));
    const at::Tensor rows = constraints::UnitNorm({1})(w);
    const double r1 = std::sqrt(17.0) + kEps;
    CHECK(at::allclose(rows, doubles({3 / (3 + kEps), 0, 4 / r1, 1 / r1}, {2, 2}), 1e-12, 1e-12));
  }
  SECTION("a Conv2D kernel (kh, kw, in, out) over axes {0, 1, 2}: one norm per filter") {
    const at::Tensor kernel = at::arange(24, at::kDouble).reshape({2, 2, 3, 2}) - 11.0;
    const at::Tensor out = constraints::MaxNorm(1.0, {0, 1, 2})(kernel);
    const at::Tensor norms = out.square().sum({0, 1, 2}).sqrt();
    CHECK(at::allclose(norms, at::ones({2}, at::kDouble), 1e-6, 1e-6));
  }
}

TEST_CASE("constraints serialize and deserialize in Keras' form", "[regularization]") {
  CHECK(constraints::serialize(constraints::MaxNorm()) ==
        nlohmann::json::parse(R"({"class_name": "MaxNorm", "config": {"max_value": 2.0, "axis": 0}})"));
  CHECK(constraints::serialize(constraints::MaxNorm(3.0, {0, 1, 2})) ==
        nlohmann::json::parse(R"({"class_name": "MaxNorm", "config": {"max_value": 3.0, "axis": [0, 1, 2]}})"));
  CHECK(constraints::serialize(constraints::NonNeg()) ==
        nlohmann::json::parse(R"({"class_name": "NonNeg", "config": {}})"));
  CHECK(constraints::serialize({}).is_null());

  const at::Tensor w = doubles({3, -1, 4, 1, -2, 0.5}, {2, 3});
  for (const constraints::Spec& spec :
       {constraints::Spec(constraints::MaxNorm(1.5, {1})), constraints::Spec(constraints::NonNeg()),
        constraints::Spec(constraints::UnitNorm({0, 1})),
        constraints::Spec(constraints::MinMaxNorm({.min_value = 0.5, .max_value = 2.0, .rate = 0.3, .axis = {1}}))}) {
    const constraints::Spec back = constraints::deserialize(constraints::serialize(spec));
    REQUIRE(back);
    CHECK(back->class_name() == spec->class_name());
    CHECK(at::allclose((*back)(w), (*spec)(w)));
  }
  for (const char* name : {"max_norm", "min_max_norm", "non_neg", "unit_norm"}) {
    const constraints::Spec spec = constraints::deserialize(name);
    CHECK(spec);
  }
  CHECK(constraints::get("max_norm")->class_name() == "MaxNorm");
  CHECK_FALSE(constraints::deserialize(nullptr));
}

TEST_CASE("constraint errors name the problem", "[regularization]") {
  CHECK_THROWS_WITH(constraints::get("maxnorm"), Contains("maxnorm"));
  CHECK_THROWS_WITH(constraints::MaxNorm(-1.0), Contains("max_value"));
  CHECK_THROWS_WITH(constraints::MinMaxNorm({.min_value = 2.0, .max_value = 1.0}), Contains("min_value"));
  CHECK_THROWS_AS(constraints::MinMaxNorm({.rate = 1.5}), ValueError);
  CHECK_THROWS_WITH(constraints::deserialize(nlohmann::json::parse(R"({"class_name": "RadialConstraint"})")),
                    Contains("RadialConstraint"));
  CHECK_THROWS_WITH(constraints::MaxNorm(1.0, {2})(doubles({1, 2}, {1, 2})), Contains("axis 2"));
}

// ---------------------------------------------------------------------------------------------------------------
// Layer::losses(), add_loss and activity regularizers

TEST_CASE("Layer::losses holds the weight penalties and the last outermost call's add_loss values",
          "[regularization]") {
  layers::Dense dense(2, {.kernel_regularizer = regularizers::L2(0.1), .bias_regularizer = regularizers::L1(0.5)});
  CHECK(dense.losses().empty());  // nothing before build
  dense(at::zeros({1, 3}));
  const at::Tensor kernel = at::tensor({1.0f, -2.0f, 0.5f, 0.0f, 3.0f, 1.0f}).reshape({3, 2});
  const at::Tensor bias = at::tensor({-1.0f, 2.0f});
  dense.set_weights({kernel, bias});
  Tensors losses = dense.losses();
  REQUIRE(losses.size() == 2);
  CHECK(scalar(losses[0]) == Approx(0.1 * (1 + 4 + 0.25 + 0 + 9 + 1)));
  CHECK(scalar(losses[1]) == Approx(0.5 * 3));
  // The penalties follow the current weights.
  dense.set_weights({kernel * 2, bias});
  CHECK(scalar(dense.losses()[0]) == Approx(0.4 * 15.25));
  // A frozen layer's weights are not regularized (Keras 3 takes trainable_weights).
  dense.set_trainable(false);
  CHECK(dense.losses().empty());

  Block block;
  block(at::ones({2, 3}));
  block.dense_->set_weights({at::ones({3, 1}), at::zeros({1})});
  losses = block.losses();
  // Weight penalties first (0.5 * sum|kernel| = 1.5), then the call's add_loss (sum of ones(2, 3) = 6).
  REQUIRE(losses.size() == 2);
  CHECK(scalar(losses[0]) == Approx(1.5));
  CHECK(scalar(losses[1]) == Approx(6.0));
  // A new outermost call replaces the added losses instead of accumulating them.
  block(at::full({1, 3}, 3.0f));
  REQUIRE(block.losses().size() == 2);
  CHECK(scalar(block.losses()[1]) == Approx(9.0));
  // Calling the sub-layer directly is an outermost call of its own.
  (*block.inner_)(at::full({1, 1}, 7.0f));
  REQUIRE(block.inner_->losses().size() == 1);
  CHECK(scalar(block.inner_->losses()[0]) == Approx(7.0));

  CHECK_THROWS_WITH(block.inner_->add_loss(at::ones({2})), Contains("scalar") && Contains("AddsLoss"));
}

TEST_CASE("an activity regularizer adds reg(output) / batch size", "[regularization]") {
  layers::Dense dense(2, {.activity_regularizer = regularizers::L2(0.1)});
  dense(at::zeros({1, 2}));
  dense.set_weights({at::tensor({1.0f, 2.0f, -1.0f, 0.5f}).reshape({2, 2}), at::tensor({0.0f, 1.0f})});
  const at::Tensor x = at::tensor({1.0f, 1.0f, 2.0f, 0.0f, 0.0f, -1.0f}).reshape({3, 2});
  const at::Tensor y = dense(x);
  // y = x W + b: [0, 3.5], [2, 5], [1, 0.5]; sum y^2 = 12.25 + 4 + 25 + 1 + 0.25 = 42.5
  CHECK(at::allclose(y, at::tensor({0.0f, 3.5f, 2.0f, 5.0f, 1.0f, 0.5f}).reshape({3, 2})));
  Tensors losses = dense.losses();
  REQUIRE(losses.size() == 1);
  CHECK(scalar(losses[0]) == Approx(0.1 * 42.5 / 3));
  // It is a function of the output, so it has a gradient with respect to the weights.
  losses[0].backward();
  CHECK(dense.kernel().grad().defined());

  layers::ActivityRegularization reg(0.1, 0.2);
  const at::Tensor z = at::tensor({1.0f, -2.0f, 3.0f, 0.0f}).reshape({2, 2});
  CHECK(at::equal(reg(z), z));
  REQUIRE(reg.losses().size() == 1);
  CHECK(scalar(reg.losses()[0]) == Approx((0.1 * 6 + 0.2 * 14) / 2));
  CHECK_THROWS_WITH(layers::ActivityRegularization(-0.1), Contains("l1"));
  const auto copy = layers::deserialize(layers::serialize(reg));
  CHECK(copy->class_name() == "ActivityRegularization");
  CHECK(copy->get_config().at("l2") == 0.2);
  (*copy)(z);
  CHECK(scalar(copy->losses()[0]) == Approx((0.1 * 6 + 0.2 * 14) / 2));
}

// ---------------------------------------------------------------------------------------------------------------
// Model: the loss of a step, constraints after the update

TEST_CASE("train_on_batch reports the data loss plus the penalties and descends their gradient",
          "[regularization]") {
  auto dense = std::make_shared<layers::Dense>(
      1, layers::DenseOptions{.kernel_regularizer = regularizers::L2(0.1), .bias_regularizer = regularizers::L1(0.2),
                              .activity_regularizer = regularizers::L1(0.05)});
  Sequential model({layers::Input({2}), dense});
  const at::Tensor w0 = at::tensor({1.0f, -1.0f}).reshape({2, 1});
  const at::Tensor b0 = at::tensor({0.5f});
  model.set_weights({w0, b0});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  const at::Tensor x = at::tensor({1.0f, 2.0f, 3.0f, 1.0f, 0.0f, 1.0f}).reshape({3, 2});
  const at::Tensor y = at::tensor({1.0f, 2.0f, 3.0f}).reshape({3, 1});
  // pred = [-0.5, 2.5, -0.5]; MSE = (2.25 + 0.25 + 12.25) / 3 = 4.916667
  // kernel penalty 0.1 * (1 + 1) = 0.2; bias penalty 0.2 * 0.5 = 0.1; activity 0.05 * (0.5 + 2.5 + 0.5) / 3
  const double expected = 14.75 / 3 + 0.2 + 0.1 + 0.05 * 3.5 / 3;
  CHECK(model.test_on_batch(x, y).at("loss") == Approx(expected));
  CHECK(model.train_on_batch(x, y).at("loss") == Approx(expected));

  // The update follows the gradient of that total, written out here with plain ATen ops.
  const at::Tensor w = w0.to(at::kDouble).requires_grad_(true);
  const at::Tensor b = b0.to(at::kDouble).requires_grad_(true);
  const at::Tensor pred = at::matmul(x.to(at::kDouble), w) + b;
  const at::Tensor total = (pred - y.to(at::kDouble)).square().mean() + 0.1 * w.square().sum() + 0.2 * b.abs().sum() +
                           0.05 * pred.abs().sum() / 3;
  CHECK(total.item<double>() == Approx(expected));
  total.backward();
  const auto weights = model.get_weights();
  CHECK(at::allclose(weights[0].to(at::kDouble), w.detach() - 0.1 * w.grad(), 1e-5, 1e-6));
  CHECK(at::allclose(weights[1].to(at::kDouble), b.detach() - 0.1 * b.grad(), 1e-5, 1e-6));
}

TEST_CASE("constraints hold after fit, and frozen weights keep their values", "[regularization]") {
  auto nonneg = std::make_shared<layers::Dense>(
      4, layers::DenseOptions{.kernel_initializer = initializers::RandomNormal({.seed = 3}),
                              .kernel_constraint = constraints::NonNeg()});
  auto maxnorm = std::make_shared<layers::Dense>(
      2, layers::DenseOptions{.kernel_initializer = initializers::RandomNormal({.stddev = 2.0, .seed = 4}),
                              .kernel_constraint = constraints::MaxNorm(0.5)});
  Sequential model({layers::Input({3}), nonneg, maxnorm});
  CHECK(nonneg->kernel().min().item<float>() < 0.0f);  // the test starts from weights that break them
  CHECK(maxnorm->kernel().square().sum(0).sqrt().max().item<float>() > 0.5f);
  const at::Tensor x = at::randn({32, 3}, at::kFloat);
  const at::Tensor y = -at::ones({32, 2}) * 5.0;  // pulls weights negative and large
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0});
  CHECK(nonneg->kernel().min().item<float>() >= 0.0f);
  CHECK(maxnorm->kernel().square().sum(0).sqrt().max().item<float>() <= 0.5f + 1e-5f);

  // A frozen layer is not updated, so its constraint is not applied either (as Keras' optimizer).
  auto frozen = std::make_shared<layers::Dense>(2, layers::DenseOptions{.kernel_constraint = constraints::NonNeg()});
  Sequential second({layers::Input({3}), layers::Dense(3), frozen});
  const at::Tensor negative = -at::ones({3, 2});
  frozen->set_weights({negative, at::zeros({2})});
  frozen->set_trainable(false);
  second.compile({.optimizer = optimizers::SGD({.learning_rate = 0.05}), .loss = "mse"});
  second.train_on_batch(x, at::ones({32, 2}));
  CHECK(at::equal(frozen->kernel(), negative));
}

// ---------------------------------------------------------------------------------------------------------------
// Masks: the loss reduction, and a mask reaching the loss and metrics through Sequential

TEST_CASE("a masked sum_over_batch_size loss averages over the unmasked entries", "[masking]") {
  // y_pred, y_true of shape (2, 3, 1): per-entry MSE = squared error (one feature).
  const at::Tensor y_pred = at::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}).reshape({2, 3, 1});
  const at::Tensor y_true = at::zeros({2, 3, 1});
  const at::Tensor mask = at::tensor({1, 1, 0, 1, 0, 0}).to(at::kBool).reshape({2, 3});
  losses::MeanSquaredError mse;
  // kept entries: 1, 4 and 16 -> (1 + 4 + 16) / 3 = 7
  CHECK(scalar(mse(y_true, y_pred, {}, mask)) == Approx(7.0));
  CHECK(scalar(mse(y_true, y_pred)) == Approx(91.0 / 6));
  // With sample weights [1, 2]: (1 + 4 + 2 * 16) / 3, the mask's count in the denominator, as Keras.
  CHECK(scalar(mse(y_true, y_pred, at::tensor({1.0f, 2.0f}), mask)) == Approx(37.0 / 3));
  // "sum" just drops the masked entries; "none" zeroes them.
  losses::MeanSquaredError sum({.reduction = losses::Reduction::kSum});
  CHECK(scalar(sum(y_true, y_pred, {}, mask)) == Approx(21.0));
  losses::MeanSquaredError none({.reduction = losses::Reduction::kNone});
  CHECK(at::allclose(none(y_true, y_pred, {}, mask), at::tensor({1.0f, 4.0f, 0.0f, 16.0f, 0.0f, 0.0f}).reshape({2, 3})));
  // Everything masked: 0, not NaN.
  CHECK(scalar(mse(y_true, y_pred, {}, at::zeros({2, 3}, at::kBool))) == 0.0);
  // A mask that does not match the losses is an error naming both shapes.
  CHECK_THROWS_WITH(mse(y_true, y_pred, {}, at::ones({2, 4}, at::kBool)), Contains("[2, 4]") && Contains("[2, 3]"));
}

TEST_CASE("a mask from a layer reaches the loss and the metrics through fit and evaluate", "[masking]") {
  // x (4, 3, 2): the last timestep of every sample is all zeros, so MaskZeros masks it. Dense(1) with
  // kernel [1, 1], bias 0 predicts the feature sum. Targets are right (probability-like 0/1) where kept
  // and wildly wrong where masked, so any weight on a masked entry shows in the loss and the accuracy.
  const at::Tensor x = at::tensor({0.2f, 0.1f, 0.5f, 0.4f, 0.0f, 0.0f,  //
                                   0.6f, 0.3f, 0.1f, 0.0f, 0.0f, 0.0f,  //
                                   0.3f, 0.3f, 0.7f, 0.2f, 0.0f, 0.0f,  //
                                   0.0f, 0.1f, 0.8f, 0.1f, 0.0f, 0.0f})
                           .reshape({4, 3, 2});
  const at::Tensor y = at::tensor({0.0f, 1.0f, 50.0f, 1.0f, 0.0f, 50.0f, 1.0f, 1.0f, 50.0f, 0.0f, 1.0f, 50.0f})
                           .reshape({4, 3, 1});
  auto dense = std::make_shared<layers::Dense>(1);
  Sequential model({layers::Input({3, 2}), MaskZeros(), layers::Activation("linear"), dense});
  dense->set_weights({at::ones({2, 1}), at::zeros({1})});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.0}),
                 .loss = "mse",
                 .metrics = {metrics::BinaryAccuracy()}});

  Tensors masks;
  const at::Tensor pred = model.apply({x}, {}, false, &masks).front();
  REQUIRE(masks.size() == 1);
  REQUIRE(masks[0].defined());
  CHECK(at::equal(masks[0], x.ne(0).any(-1)));
  // The expected loss, from the predictions: squared errors of the 8 kept entries, averaged over 8.
  const at::Tensor kept = masks[0].unsqueeze(-1).to(at::kFloat);
  const double expected = ((pred - y).square() * kept).sum().item<double>() / 8.0;
  CHECK(expected < 1.0);  // the masked entries (errors near 50) would make it huge

  const Logs eval = model.evaluate(x, y, {.batch_size = 4, .verbose = 0});
  CHECK(eval.at("loss") == Approx(expected));
  CHECK(eval.at("binary_accuracy") == Approx(1.0));  // kept predictions are all on the right side of 0.5
  const Logs step = model.train_on_batch(x, y);
  CHECK(step.at("loss") == Approx(expected));
  model.fit(x, y, {.batch_size = 2, .epochs = 1, .verbose = 0});
  const Logs again = model.evaluate(x, y, {.batch_size = 2, .verbose = 0});
  CHECK(again.at("loss") == Approx(expected));  // learning rate 0: the weights did not move
  CHECK(again.at("binary_accuracy") == Approx(1.0));
}

TEST_CASE("element-wise layers pass a Keras mask through; others drop it", "[masking]") {
  const at::Tensor x = at::randn({2, 4, 6});
  const at::Tensor mask = at::tensor({1, 1, 0, 0, 1, 0, 1, 0}).to(at::kBool).reshape({2, 4});
  const std::vector<LayerRef> passing = {
      layers::Dense(3),
      layers::Activation("relu"),
      layers::Dropout(0.5),
      layers::SpatialDropout1D(0.5),
      layers::GaussianDropout(0.3),
      layers::GaussianNoise(0.1),
      layers::AlphaDropout(0.2),
      layers::ActivityRegularization(0.1),
      layers::ReLU(),
      layers::LeakyReLU(),
      layers::PReLU(),
      layers::ELU(),
      layers::Softmax(),
      layers::BatchNormalization(),
      layers::LayerNormalization(),
      layers::GroupNormalization({.groups = 2}),
      layers::UnitNormalization(),
  };
  for (const auto& layer : passing) {
    INFO(layer->describe());
    CHECK(layer->supports_masking());
    for (bool training : {false, true}) {
      Tensors out_masks;
      layer->apply({x}, {mask}, training, &out_masks);
      REQUIRE(out_masks.size() == 1);
      REQUIRE(out_masks[0].defined());
      CHECK(at::equal(out_masks[0], mask));
    }
  }
  // Keras' Conv1D and Flatten do not support masking: the mask stops there.
  const std::vector<LayerRef> dropping = {layers::Conv1D(2, 3), layers::Flatten()};
  for (const auto& layer : dropping) {
    INFO(layer->describe());
    Tensors out_masks;
    layer->apply({x}, {mask}, false, &out_masks);
    REQUIRE(out_masks.size() == 1);
    CHECK_FALSE(out_masks[0].defined());
  }
  // In a Sequential the mask passes layer to layer and stops at the first that drops it.
  Sequential model({layers::Input({4, 6}), MaskZeros(), layers::Dense(5), layers::ReLU(), layers::LayerNormalization()});
  const at::Tensor with_zeros = x.clone();
  with_zeros.select(1, 3).zero_();
  Tensors masks;
  model.apply({with_zeros}, {}, false, &masks);
  REQUIRE(masks[0].defined());
  CHECK(at::equal(masks[0], with_zeros.ne(0).any(-1)));
  Sequential flat({layers::Input({4, 6}), MaskZeros(), layers::Dense(5), layers::Flatten(), layers::Dense(1)});
  flat.apply({with_zeros}, {}, false, &masks);
  CHECK_FALSE(masks[0].defined());
}

// ---------------------------------------------------------------------------------------------------------------
// The options of the built-in layers

namespace {

// A layer built with L2(factor) on some weights (matched by local name), NonNeg on the same weights and
// possibly an activity regularizer L2(activity); `x` is an input for it.
struct RegularizedCase {
  LayerRef layer;
  at::Tensor x;
  std::vector<std::pair<std::string, double>> factors;  // weight name -> L2 factor
  double activity = 0.0;
};

double factor_of(const RegularizedCase& c, const std::string& path) {
  for (const auto& [name, factor] : c.factors)
    if (path.size() > name.size() && path.compare(path.size() - name.size() - 1, std::string::npos, "/" + name) == 0)
      return factor;
  return 0.0;
}

// losses() against the formula from the current weights and the last output.
void check_losses(const RegularizedCase& c, const Layer& layer, const at::Tensor& output) {
  std::vector<double> expected;
  for (const auto& var : layer.variables()) {
    const double factor = factor_of(c, var.name);
    if (factor > 0) expected.push_back(factor * var.value.to(at::kDouble).square().sum().item<double>());
  }
  REQUIRE(expected.size() == c.factors.size());
  if (c.activity > 0)
    expected.push_back(c.activity * output.to(at::kDouble).square().sum().item<double>() / output.size(0));
  const Tensors losses = layer.losses();
  REQUIRE(losses.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) CHECK(scalar(losses[i]) == Approx(expected[i]).epsilon(1e-5));
}

}  // namespace

TEST_CASE("built-in layers take Keras' regularizer and constraint arguments and serialize them",
          "[regularization]") {
  const regularizers::Spec r1 = regularizers::L2(0.1), r2 = regularizers::L2(0.2), r3 = regularizers::L2(0.3);
  const constraints::Spec nn = constraints::NonNeg();
  std::vector<RegularizedCase> cases;
  cases.push_back({layers::Dense(3, {.kernel_regularizer = r1, .bias_regularizer = r2, .activity_regularizer = r3,
                                     .kernel_constraint = nn, .bias_constraint = nn}),
                   at::randn({2, 4}), {{"kernel", 0.1}, {"bias", 0.2}}, 0.3});
  const layers::ConvOptions conv{.kernel_regularizer = r1, .bias_regularizer = r2, .activity_regularizer = r3,
                                 .kernel_constraint = nn, .bias_constraint = nn};
  cases.push_back({layers::Conv1D(2, 3, conv), at::randn({2, 5, 3}), {{"kernel", 0.1}, {"bias", 0.2}}, 0.3});
  cases.push_back({layers::Conv2D(2, 2, conv), at::randn({2, 3, 3, 2}), {{"kernel", 0.1}, {"bias", 0.2}}, 0.3});
  cases.push_back({layers::Conv3D(2, 2, conv), at::randn({1, 3, 3, 3, 2}), {{"kernel", 0.1}, {"bias", 0.2}}, 0.3});
  const layers::ConvTransposeOptions transpose{.kernel_regularizer = r1, .bias_regularizer = r2,
                                               .activity_regularizer = r3, .kernel_constraint = nn,
                                               .bias_constraint = nn};
  cases.push_back(
      {layers::Conv1DTranspose(2, 3, transpose), at::randn({2, 4, 3}), {{"kernel", 0.1}, {"bias", 0.2}}, 0.3});
  cases.push_back(
      {layers::Conv2DTranspose(2, 2, transpose), at::randn({2, 3, 3, 2}), {{"kernel", 0.1}, {"bias", 0.2}}, 0.3});
  cases.push_back(
      {layers::Conv3DTranspose(2, 2, transpose), at::randn({1, 2, 2, 2, 2}), {{"kernel", 0.1}, {"bias", 0.2}}, 0.3});
  cases.push_back({layers::DepthwiseConv2D(2, {.depth_multiplier = 2, .depthwise_regularizer = r1,
                                               .bias_regularizer = r2, .activity_regularizer = r3,
                                               .depthwise_constraint = nn, .bias_constraint = nn}),
                   at::randn({2, 4, 4, 3}), {{"depthwise_kernel", 0.1}, {"bias", 0.2}}, 0.3});
  cases.push_back({layers::SeparableConv2D(4, 2, {.depthwise_regularizer = r1, .pointwise_regularizer = r2,
                                                  .bias_regularizer = r3, .activity_regularizer = r1,
                                                  .depthwise_constraint = nn, .pointwise_constraint = nn,
                                                  .bias_constraint = nn}),
                   at::randn({2, 4, 4, 3}), {{"depthwise_kernel", 0.1}, {"pointwise_kernel", 0.2}, {"bias", 0.3}}, 0.1});
  cases.push_back({layers::BatchNormalization({.beta_regularizer = r1, .gamma_regularizer = r2,
                                               .beta_constraint = nn, .gamma_constraint = nn}),
                   at::randn({4, 3}), {{"beta", 0.1}, {"gamma", 0.2}}});
  cases.push_back({layers::LayerNormalization({.beta_regularizer = r1, .gamma_regularizer = r2,
                                               .beta_constraint = nn, .gamma_constraint = nn}),
                   at::randn({4, 3}), {{"beta", 0.1}, {"gamma", 0.2}}});
  cases.push_back({layers::GroupNormalization({.groups = 2, .beta_regularizer = r1, .gamma_regularizer = r2,
                                               .beta_constraint = nn, .gamma_constraint = nn}),
                   at::randn({2, 3, 4}), {{"beta", 0.1}, {"gamma", 0.2}}});
  cases.push_back({layers::PReLU({.alpha_regularizer = r1, .alpha_constraint = nn}), at::randn({2, 5}),
                   {{"alpha", 0.1}}});

  for (const auto& c : cases) {
    Layer& layer = *c.layer;
    INFO(layer.describe());
    layer(c.x);
    // Random weights, negative where constrained, so the penalties and the projection have work to do.
    std::vector<at::Tensor> weights;
    for (const auto& var : layer.variables())
      weights.push_back(factor_of(c, var.name) > 0 ? -at::rand_like(var.value) - 0.1 : var.value.detach().clone());
    layer.set_weights(weights);
    at::Tensor y = layer(c.x);
    check_losses(c, layer, y);

    // Config: Keras' keys with the serialized objects, and a layer built from it behaves the same.
    const nlohmann::json config = layer.get_config();
    for (const auto& [name, factor] : c.factors) {
      const std::string prefix = name == "depthwise_kernel" ? "depthwise"
                                 : name == "pointwise_kernel" ? "pointwise"
                                                              : name;
      CHECK(config.at(prefix + "_regularizer").at("config").at("l2").get<double>() == Approx(factor));
      CHECK(config.at(prefix + "_constraint").at("class_name") == "NonNeg");
    }
    if (c.activity > 0) CHECK(config.at("activity_regularizer").at("config").at("l2").get<double>() == Approx(c.activity));
    const auto copy = layers::deserialize(layers::serialize(layer));
    CHECK(copy->get_config() == config);
    (*copy)(c.x);
    copy->set_weights(layer.get_weights());
    const at::Tensor y_copy = (*copy)(c.x);
    CHECK(at::allclose(y_copy, y, 1e-5, 1e-6));
    check_losses(c, *copy, y_copy);

    // apply_constraints projects the constrained weights (NonNeg) and leaves the others.
    layer.apply_constraints();
    const auto variables = layer.variables();
    for (size_t i = 0; i < variables.size(); ++i) {
      if (factor_of(c, variables[i].name) > 0)
        CHECK(variables[i].value.min().item<float>() >= 0.0f);
      else
        CHECK(at::equal(variables[i].value, weights[i]));
    }
  }
}

TEST_CASE("layers without the options keep null regularizers and constraints in their configs",
          "[regularization]") {
  const nlohmann::json dense = layers::Dense(2).get_config();
  for (const char* key :
       {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"})
    CHECK(dense.at(key).is_null());
  // Keras' string names load.
  nlohmann::json config = dense;
  config["kernel_regularizer"] = "l2";
  config["kernel_constraint"] = "non_neg";
  const layers::Dense loaded = layers::Dense::from_config(config);
  CHECK(loaded.get_config().at("kernel_regularizer").at("class_name") == "L2");
  CHECK(loaded.get_config().at("kernel_constraint").at("class_name") == "NonNeg");
  config["kernel_regularizer"] = nlohmann::json::parse(R"({"class_name": "L5", "config": {}})");
  CHECK_THROWS_WITH(layers::Dense::from_config(config), Contains("L5"));
}
