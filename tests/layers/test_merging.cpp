// Merging layers: output shapes against Keras' Merge / Concatenate / batch_dot shape rules, values against
// hand-worked cases and element loops, masks (AND of the given masks, concatenated masks), gradients against
// central finite differences, config round trips, shape and argument errors, and a residual block inside a
// subclassed Model trained with fit.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/merging.h>
#include <strata/layers/registry.h>
#include <strata/models/model.h>
#include <strata/optimizers/adam.h>

#include "../support/tensor_checks.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using test_support::random;
using test_support::values_of;

void check_values(const at::Tensor& actual, const std::vector<double>& expected, double tol = 1e-12) {
  test_support::check_values(actual, expected, tol);
}

at::Tensor row(std::vector<double> values) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kDouble).reshape({1, n});
}

// Central finite differences of sum(f(x) * weights) against autograd, in float64.
void check_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x0) {
  test_support::check_input_gradient(f, x0, 1e-6, 1e-6, 1e-6);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Shapes

TEST_CASE("element-wise merges broadcast size-1 axes and expand lower ranks after the batch axis",
          "[merging][shapes]") {
  layers::Add add;
  CHECK(add.compute_output_shape({{kNone, 3, 4}, {kNone, 3, 4}}) == Shape{kNone, 3, 4});
  CHECK(add.compute_output_shape({{kNone, 3, 1}, {kNone, 1, 4}}) == Shape{kNone, 3, 4});
  CHECK(add.compute_output_shape({{kNone, 3, 4}, {kNone, 4}}) == Shape{kNone, 3, 4});
  CHECK(add.compute_output_shape({{kNone, 3, 1}, {kNone, 5}}) == Shape{kNone, 3, 5});
  CHECK(add.compute_output_shape({{kNone, kNone, 4}, {kNone, 7, 4}}) == Shape{kNone, kNone, 4});
  CHECK(add.compute_output_shape({{6, 2}, {kNone, 2}, {kNone, 1}}) == Shape{6, 2});

  // The call agrees with the shape arithmetic, for every element-wise class.
  std::vector<std::shared_ptr<Layer>> all = {
      std::make_shared<layers::Add>(), std::make_shared<layers::Multiply>(),
      std::make_shared<layers::Average>(), std::make_shared<layers::Maximum>(),
      std::make_shared<layers::Minimum>()};
  for (const auto& layer : all) {
    INFO(layer->class_name());
    CHECK(shape_of((*layer)({random({2, 3, 1}), random({2, 1, 4}), random({2, 4})}).front()) ==
          Shape{2, 3, 4});
  }
  CHECK(shape_of(layers::Subtract()({random({2, 5, 3}), random({2, 3})}).front()) == Shape{2, 5, 3});
}

TEST_CASE("Concatenate adds up the concatenation axis and keeps the others", "[merging][shapes]") {
  CHECK(layers::Concatenate().compute_output_shape({{kNone, 3, 4}, {kNone, 3, 2}}) == Shape{kNone, 3, 6});
  CHECK(layers::Concatenate(1).compute_output_shape({{kNone, 3, 4}, {kNone, 5, 4}, {kNone, 1, 4}}) ==
        Shape{kNone, 9, 4});
  CHECK(layers::Concatenate(-2).compute_output_shape({{kNone, 3, 4}, {kNone, kNone, 4}}) ==
        Shape{kNone, kNone, 4});
  CHECK(layers::Concatenate().compute_output_shape({{kNone, kNone, 4}, {kNone, 3, 2}}) == Shape{kNone, 3, 6});
  CHECK(shape_of(layers::Concatenate(2)({random({2, 3, 4, 1}), random({2, 3, 2, 1})}).front()) ==
        Shape{2, 3, 6, 1});
}

TEST_CASE("Dot's output keeps the first input's other axes then the second's, (batch, 1) when none remain",
          "[merging][shapes]") {
  CHECK(layers::Dot(1).compute_output_shape({{kNone, 5}, {kNone, 5}}) == Shape{kNone, 1});
  CHECK(layers::Dot(-1).compute_output_shape({{kNone, 5}, {kNone, 5}}) == Shape{kNone, 1});
  CHECK(layers::Dot(2).compute_output_shape({{kNone, 3, 4}, {kNone, 5, 4}}) == Shape{kNone, 3, 5});
  CHECK(layers::Dot(1).compute_output_shape({{kNone, 3, 4}, {kNone, 3, 6}}) == Shape{kNone, 4, 6});
  CHECK(layers::Dot({1, 2}).compute_output_shape({{kNone, 3, 4}, {kNone, 5, 3}}) == Shape{kNone, 4, 5});
  CHECK(layers::Dot({2, 1}).compute_output_shape({{kNone, 3, 4}, {kNone, 4}}) == Shape{kNone, 3});
  CHECK(layers::Dot({-1, 1}).compute_output_shape({{kNone, 2, 3, 4}, {kNone, 4, 6}}) ==
        Shape{kNone, 2, 3, 6});

  CHECK(shape_of(layers::Dot(1)({random({2, 5}), random({2, 5})}).front()) == Shape{2, 1});
  CHECK(shape_of(layers::Dot({1, 2})({random({2, 3, 4}), random({2, 5, 3})}).front()) == Shape{2, 4, 5});
  CHECK(shape_of(layers::Dot({-1, 1})({random({2, 2, 3, 4}), random({2, 4, 6})}).front()) ==
        Shape{2, 2, 3, 6});
  CHECK(shape_of(layers::Dot(1)({random({2, 4}), random({2, 4, 3})}).front()) == Shape{2, 3});
}

// ---------------------------------------------------------------------------------------------------------------
// Values

TEST_CASE("element-wise merges, hand-worked on three rows", "[merging][values]") {
  const at::Tensor a = row({1, 5, -2}), b = row({4, 2, -3}), c = row({0, 7, 1});
  check_values(layers::Add()({a, b, c}).front(), {5, 14, -4});
  check_values(layers::Subtract()({a, b}).front(), {-3, 3, 1});
  check_values(layers::Multiply()({a, b, c}).front(), {0, 70, 6});
  check_values(layers::Average()({a, b, c}).front(), {5.0 / 3, 14.0 / 3, -4.0 / 3});
  check_values(layers::Maximum()({a, b, c}).front(), {4, 7, 1});
  check_values(layers::Minimum()({a, b, c}).front(), {0, 2, -3});
  // One input is allowed (Keras 3) and passes through.
  check_values(layers::Add()(Tensors{a}).front(), {1, 5, -2});
}

TEST_CASE("element-wise merges broadcast as Keras does, checked element by element", "[merging][values]") {
  const at::Tensor x = random({2, 3, 4}), y = random({2, 4}), z = random({2, 3, 1});
  const at::Tensor sum = layers::Add()({x, y, z}).front();
  const at::Tensor difference = layers::Subtract()({y, x}).front();
  REQUIRE(shape_of(sum) == Shape{2, 3, 4});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        const double xv = x[n][i][j].item<double>(), yv = y[n][j].item<double>(),
                     zv = z[n][i][0].item<double>();
        CHECK(sum[n][i][j].item<double>() == Approx(xv + yv + zv));
        CHECK(difference[n][i][j].item<double>() == Approx(yv - xv));
      }
}

TEST_CASE("Concatenate joins along the axis, hand-worked and by slices", "[merging][values]") {
  check_values(layers::Concatenate()({row({1, 2}), row({3})}).front(), {1, 2, 3});
  const at::Tensor a = random({2, 3, 4}), b = random({2, 5, 4});
  const at::Tensor out = layers::Concatenate(1)({a, b}).front();
  REQUIRE(shape_of(out) == Shape{2, 8, 4});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t t = 0; t < 8; ++t)
      for (int64_t f = 0; f < 4; ++f)
        CHECK(out[n][t][f].item<double>() == (t < 3 ? a[n][t][f] : b[n][t - 3][f]).item<double>());
}

TEST_CASE("Dot sums over the paired axes per sample; normalize gives the cosine", "[merging][values]") {
  // Rank 2: one number per sample.
  const at::Tensor a = at::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, at::kDouble).reshape({2, 3});
  const at::Tensor b = at::tensor({1.0, 0.0, -1.0, 2.0, 2.0, 2.0}, at::kDouble).reshape({2, 3});
  check_values(layers::Dot(1)({a, b}).front(), {1 - 3, 8 + 10 + 12});
  check_values(layers::Dot(1, {.normalize = true})({row({3, 4}), row({4, 3})}).front(), {24.0 / 25});
  check_values(layers::Dot(1, {.normalize = true})({row({1, 0}), row({0, 2})}).front(), {0});

  // Axes (1, 2): out[n][i][j] = sum_k x[n][k][i] * y[n][j][k], with loops.
  const at::Tensor x = random({2, 3, 4}), y = random({2, 5, 3});
  const at::Tensor out = layers::Dot({1, 2})({x, y}).front();
  REQUIRE(shape_of(out) == Shape{2, 4, 5});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        double expected = 0;
        for (int64_t k = 0; k < 3; ++k) expected += x[n][k][i].item<double>() * y[n][j][k].item<double>();
        CHECK(out[n][i][j].item<double>() == Approx(expected).epsilon(1e-12));
      }

  // normalize: the same sums over unit vectors along the contracted axes.
  const at::Tensor cosine = layers::Dot({1, 2}, {.normalize = true})({x, y}).front();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        double dot = 0, xx = 0, yy = 0;
        for (int64_t k = 0; k < 3; ++k) {
          const double xv = x[n][k][i].item<double>(), yv = y[n][j][k].item<double>();
          dot += xv * yv;
          xx += xv * xv;
          yy += yv * yv;
        }
        CHECK(cosine[n][i][j].item<double>() == Approx(dot / std::sqrt(xx * yy)).epsilon(1e-12));
      }
}

// ---------------------------------------------------------------------------------------------------------------
// Masks

TEST_CASE("element-wise merges output the AND of the given masks; Dot outputs none", "[merging][masks]") {
  const at::Tensor x = random({1, 3, 2}), y = random({1, 3, 2});
  const at::Tensor m1 = at::tensor({1, 1, 0}, at::kInt).reshape({1, 3}).to(at::kBool);
  const at::Tensor m2 = at::tensor({1, 0, 0}, at::kInt).reshape({1, 3}).to(at::kBool);
  layers::Add add;
  Tensors out_masks;
  add.apply({x, y}, {m1, m2}, false, &out_masks);
  REQUIRE(out_masks.size() == 1);
  check_values(out_masks[0], {1, 0, 0});

  add.apply({x, y}, {at::Tensor(), m1}, false, &out_masks);
  check_values(out_masks[0], {1, 1, 0});
  add.apply({x, y}, {}, false, &out_masks);
  CHECK_FALSE(out_masks[0].defined());
  add.apply({x, y}, {at::Tensor(), at::Tensor()}, false, &out_masks);
  CHECK_FALSE(out_masks[0].defined());

  layers::Dot dot(2);
  dot.apply({x, y}, {m1, m2}, false, &out_masks);
  REQUIRE(out_masks.size() == 1);
  CHECK_FALSE(out_masks[0].defined());
}

TEST_CASE("Concatenate concatenates masks, all-true for an input without one", "[merging][masks]") {
  const at::Tensor m = at::tensor({1, 0, 1}, at::kInt).reshape({1, 3}).to(at::kBool);
  Tensors out_masks;
  // Along time: the masks are joined.
  layers::Concatenate(1).apply({random({1, 3, 2}), random({1, 2, 2})}, {m, at::Tensor()}, false, &out_masks);
  check_values(out_masks[0], {1, 0, 1, 1, 1});
  // Along features: one entry per time step, true where every input's mask is.
  const at::Tensor m2 = at::tensor({1, 1, 0}, at::kInt).reshape({1, 3}).to(at::kBool);
  layers::Concatenate().apply({random({1, 3, 2}), random({1, 3, 4})}, {m, m2}, false, &out_masks);
  check_values(out_masks[0], {1, 0, 0});
  layers::Concatenate().apply({random({1, 3, 2}), random({1, 3, 4})}, {at::Tensor(), m2}, false, &out_masks);
  check_values(out_masks[0], {1, 1, 0});
  layers::Concatenate().apply({random({1, 3, 2}), random({1, 3, 4})}, {}, false, &out_masks);
  CHECK_FALSE(out_masks[0].defined());
}

// ---------------------------------------------------------------------------------------------------------------
// Gradients

TEST_CASE("merging gradients match central finite differences", "[merging][gradient]") {
  const at::Tensor a = random({2, 3, 2}), b = random({2, 2}), c = random({2, 3, 1});
  std::vector<std::shared_ptr<Layer>> elementwise = {
      std::make_shared<layers::Add>(), std::make_shared<layers::Multiply>(),
      std::make_shared<layers::Average>(), std::make_shared<layers::Maximum>(),
      std::make_shared<layers::Minimum>()};
  for (const auto& layer : elementwise) {
    INFO(layer->class_name());
    check_gradient([&](const at::Tensor& x) { return (*layer)({x, b, c}).front(); }, a);
    check_gradient([&](const at::Tensor& x) { return (*layer)({a, x, c}).front(); }, b);
    check_gradient([&](const at::Tensor& x) { return (*layer)({a, b, x}).front(); }, c);
  }
  layers::Subtract subtract;
  check_gradient([&](const at::Tensor& x) { return subtract({a, x}).front(); }, b);
  layers::Concatenate concatenate(1);
  check_gradient([&](const at::Tensor& x) { return concatenate({a, x}).front(); }, random({2, 4, 2}));
  layers::Dot dot({1, 2}, {.normalize = true});
  const at::Tensor y = random({2, 4, 3});
  check_gradient([&](const at::Tensor& x) { return dot({x, y}).front(); }, a);
  check_gradient([&](const at::Tensor& x) { return dot({a, x}).front(); }, y);
}

// ---------------------------------------------------------------------------------------------------------------
// Configs

TEST_CASE("merging configs hold Keras' keys and round-trip through serialize and deserialize",
          "[merging][config]") {
  const nlohmann::json concat = layers::Concatenate(1, {.name = "join"}).get_config();
  CHECK(concat.at("axis") == 1);
  CHECK(concat.at("name") == "join");
  const nlohmann::json dot_single = layers::Dot(2).get_config();
  CHECK(dot_single.at("axes") == 2);
  CHECK(dot_single.at("normalize") == false);
  const nlohmann::json dot_pair = layers::Dot({1, 2}, {.normalize = true}).get_config();
  CHECK(dot_pair.at("axes") == nlohmann::json({1, 2}));
  CHECK(dot_pair.at("normalize") == true);

  const at::Tensor x = random({2, 3, 4}), y = random({2, 3, 4});
  std::vector<std::shared_ptr<Layer>> originals = {
      std::make_shared<layers::Add>(),
      std::make_shared<layers::Subtract>(),
      std::make_shared<layers::Multiply>(),
      std::make_shared<layers::Average>(),
      std::make_shared<layers::Maximum>(),
      std::make_shared<layers::Minimum>(),
      std::make_shared<layers::Concatenate>(1),
      std::make_shared<layers::Dot>(layers::DotAxes(1, 1), layers::DotOptions{.normalize = true})};
  for (const auto& original : originals) {
    INFO(original->class_name());
    const nlohmann::json spec = layers::serialize(*original);
    const std::shared_ptr<Layer> copy = layers::deserialize(spec);
    CHECK(copy->class_name() == original->class_name());
    CHECK(copy->name() == original->name());
    CHECK(copy->get_config() == original->get_config());
    CHECK(at::allclose((*copy)({x, y}).front(), (*original)({x, y}).front()));
  }
  // Keras' int form of Dot's axes comes back as an int.
  CHECK(layers::deserialize(layers::serialize(layers::Dot(-1)))->get_config().at("axes") == -1);
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

TEST_CASE("merging layers reject incompatible shapes with errors naming the layer", "[merging][errors]") {
  CHECK_THROWS_AS(layers::Add()({random({2, 3}), random({2, 4})}), ShapeError);
  CHECK_THROWS_WITH(layers::Add("add_bad")({random({2, 3}), random({2, 4})}),
                    Contains("Add 'add_bad'") && Contains("incompatible shapes") && Contains("(None, 3)") &&
                        Contains("(None, 4)"));
  CHECK_THROWS_WITH(layers::Multiply()({random({2, 3}), random({3, 3})}),
                    Contains("Multiply '") && Contains("different batch sizes"));
  // Once built, a later call with shapes that do not fit is still refused.
  layers::Maximum maximum;
  maximum({random({2, 3}), random({2, 3})});
  CHECK_THROWS_AS(maximum({random({2, 3}), random({2, 5})}), ShapeError);

  CHECK_THROWS_AS(layers::Subtract()({random({2, 3}), random({2, 3}), random({2, 3})}), ValueError);
  CHECK_THROWS_WITH(layers::Subtract("sub")({random({2, 3}), random({2, 3}), random({2, 3})}),
                    Contains("Subtract 'sub'") && Contains("exactly 2 inputs, got 3"));

  CHECK_THROWS_AS(layers::Concatenate()({random({2, 3, 4}), random({2, 5, 4})}), ShapeError);
  CHECK_THROWS_WITH(layers::Concatenate(-1, {.name = "cat"})({random({2, 3, 4}), random({2, 5, 4})}),
                    Contains("Concatenate 'cat'") && Contains("except along the concatenation axis -1") &&
                        Contains("(None, 3, 4)") && Contains("(None, 5, 4)"));
  CHECK_THROWS_WITH(layers::Concatenate()({random({2, 3, 4}), random({2, 4})}), Contains("one rank"));
  CHECK_THROWS_WITH(layers::Concatenate(3)({random({2, 3, 4}), random({2, 3, 4})}), Contains("out of range"));

  CHECK_THROWS_AS(layers::Dot(1)({random({2, 3}), random({2, 4})}), ShapeError);
  CHECK_THROWS_WITH(layers::Dot(1, {.name = "dot"})({random({2, 3}), random({2, 4})}),
                    Contains("Dot 'dot'") && Contains("size 3 (axis 1 of input 0) != 4 (axis 1 of input 1)"));
  CHECK_THROWS_WITH(layers::Dot(1)({random({2, 3}), random({2, 3}), random({2, 3})}),
                    Contains("exactly 2 inputs"));
  CHECK_THROWS_WITH(layers::Dot(1)({random({2}), random({2})}), Contains("rank >= 2"));
  CHECK_THROWS_WITH(layers::Dot(3)({random({2, 3}), random({2, 3})}), Contains("non-batch axis"));
  CHECK_THROWS_AS(layers::Dot(0), ValueError);
  CHECK_THROWS_WITH(layers::Dot({1, 0}), Contains("batch axis"));
  CHECK_THROWS_WITH(layers::deserialize({{"class_name", "Dot"}, {"config", {{"axes", {1, 2, 3}}}}}),
                    Contains("pair"));
}

// ---------------------------------------------------------------------------------------------------------------
// Inside a model

namespace {

// A residual block: out = Dense(1)(relu(x + Dense(x))), written as a subclassed Model's call.
class ResidualRegressor : public Model {
 public:
  ResidualRegressor() : Model("ResidualRegressor") {
    inner_ = track(layers::Dense(4));
    add_ = track(layers::Add());
    head_ = track(layers::Dense(1));
  }
  at::Tensor call(const at::Tensor& x, bool training) override {
    const at::Tensor residual = (*add_)({x, (*inner_)(x, training)}, training).front();
    return (*head_)(at::relu(residual), training);
  }

 private:
  std::shared_ptr<layers::Dense> inner_, head_;
  std::shared_ptr<layers::Add> add_;
};

}  // namespace

TEST_CASE("an Add residual connection inside a subclassed Model trains with fit", "[merging][model]") {
  set_random_seed(7);
  const at::Tensor x = at::rand({128, 4}) * 2 - 1;
  const at::Tensor y = (x * at::tensor({0.5F, -1.0F, 2.0F, 1.0F})).sum(1, true).abs();
  ResidualRegressor model;
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 0.01}), .loss = "mse"});
  const auto history = model.fit(x, y, {.batch_size = 32, .epochs = 20, .verbose = 0});
  const auto& loss = history.history.at("loss");
  REQUIRE(loss.size() == 20);
  CHECK(loss.back() < 0.3 * loss.front());
  CHECK(model.trainable_weights().size() == 4);
}
