// Optimizers: each update checked over two steps against its formula, evaluated here element by element in
// plain double arithmetic (Keras' forms, as documented in the headers and in Keras' optimizer sources).

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/optimizer.h>
#include <strata/optimizers/rmsprop.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace strata;

namespace {

using Vec = std::vector<double>;

const Vec kW0 = {1.0, -2.0, 0.5};
const Vec kG1 = {0.5, -1.0, 2.0};
const Vec kG2 = {0.25, 2.0, -0.01};

at::Tensor tensor(const Vec& v) { return at::tensor(v, at::kDouble); }

void check_equals(const at::Tensor& actual, const Vec& expected, const char* what) {
  REQUIRE(actual.numel() == static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(what << " element " << i);
    CHECK(actual[static_cast<int64_t>(i)].item<double>() == Approx(expected[i]).epsilon(1e-12).margin(1e-15));
  }
}

// Runs `optimizer` for two steps with gradients kG1 then kG2 on a copy of kW0; returns the weights after each
// step.
std::pair<at::Tensor, at::Tensor> two_steps(optimizers::Optimizer& optimizer) {
  at::Tensor w = tensor(kW0);
  optimizer.apply({tensor(kG1)}, {w});
  at::Tensor after_one = w.clone();
  optimizer.apply({tensor(kG2)}, {w});
  return {after_one, w};
}

}  // namespace

TEST_CASE("SGD without momentum: w -= lr * g", "[optimizers][sgd]") {
  const double lr = 0.1;
  optimizers::SGD sgd({.learning_rate = lr});
  auto [one, two] = two_steps(sgd);
  Vec e1(3), e2(3);
  for (size_t i = 0; i < 3; ++i) {
    e1[i] = kW0[i] - lr * kG1[i];
    e2[i] = e1[i] - lr * kG2[i];
  }
  check_equals(one, e1, "step 1");
  check_equals(two, e2, "step 2");
  CHECK(sgd.iterations() == 2);
  CHECK(sgd.variables().empty());  // no slots without momentum
}

TEST_CASE("SGD with momentum: v = m*v - lr*g, w += v", "[optimizers][sgd]") {
  const double lr = 0.1, m = 0.9;
  optimizers::SGD sgd({.learning_rate = lr, .momentum = m});
  auto [one, two] = two_steps(sgd);
  Vec e1(3), e2(3);
  for (size_t i = 0; i < 3; ++i) {
    double v = 0.0;
    v = m * v - lr * kG1[i];
    e1[i] = kW0[i] + v;
    v = m * v - lr * kG2[i];
    e2[i] = e1[i] + v;
  }
  check_equals(one, e1, "step 1");
  check_equals(two, e2, "step 2");
  REQUIRE(sgd.variables().size() == 1);
  // The momentum slot after two steps: m*(-lr*g1) - lr*g2.
  Vec velocity(3);
  for (size_t i = 0; i < 3; ++i) velocity[i] = m * (-lr * kG1[i]) - lr * kG2[i];
  check_equals(sgd.variables()[0], velocity, "velocity");
}

TEST_CASE("SGD with Nesterov momentum: v = m*v - lr*g, w += m*v - lr*g", "[optimizers][sgd]") {
  const double lr = 0.05, m = 0.8;
  optimizers::SGD sgd({.learning_rate = lr, .momentum = m, .nesterov = true});
  auto [one, two] = two_steps(sgd);
  Vec e1(3), e2(3);
  for (size_t i = 0; i < 3; ++i) {
    double v = 0.0;
    v = m * v - lr * kG1[i];
    e1[i] = kW0[i] + m * v - lr * kG1[i];
    v = m * v - lr * kG2[i];
    e2[i] = e1[i] + m * v - lr * kG2[i];
  }
  check_equals(one, e1, "step 1");
  check_equals(two, e2, "step 2");
}

TEST_CASE("SGD step 1 by hand", "[optimizers][sgd]") {
  // w = 1, g = 0.5, lr = 0.1, momentum 0.9: v = -0.05, w = 0.95; Nesterov: w = 1 + 0.9*(-0.05) - 0.05 =
  // 0.905.
  at::Tensor w = tensor({1.0}), wn = tensor({1.0});
  optimizers::SGD momentum({.learning_rate = 0.1, .momentum = 0.9});
  optimizers::SGD nesterov({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
  momentum.apply({tensor({0.5})}, {w});
  nesterov.apply({tensor({0.5})}, {wn});
  CHECK(w.item<double>() == Approx(0.95));
  CHECK(wn.item<double>() == Approx(0.905));
}

namespace {

// Adam in Keras' form: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// alpha = lr*sqrt(1-b2^t)/(1-b1^t); w -= alpha*m/(sqrt(v_or_vhat)+eps).
std::pair<Vec, Vec> adam_reference(double lr, double b1, double b2, double eps, bool amsgrad) {
  Vec w = kW0, m(3, 0.0), v(3, 0.0), vhat(3, 0.0), after_one;
  const Vec* grads[] = {&kG1, &kG2};
  for (int t = 1; t <= 2; ++t) {
    const Vec& g = *grads[t - 1];
    const double alpha = lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t));
    for (size_t i = 0; i < 3; ++i) {
      m[i] = b1 * m[i] + (1.0 - b1) * g[i];
      v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
      vhat[i] = std::max(vhat[i], v[i]);
      w[i] -= alpha * m[i] / (std::sqrt(amsgrad ? vhat[i] : v[i]) + eps);
    }
    if (t == 1) after_one = w;
  }
  return {after_one, w};
}

}  // namespace

TEST_CASE("Adam over two steps matches the formula", "[optimizers][adam]") {
  SECTION("defaults") {
    optimizers::Adam adam;
    auto [one, two] = two_steps(adam);
    auto [e1, e2] = adam_reference(0.001, 0.9, 0.999, 1e-7, false);
    check_equals(one, e1, "step 1");
    check_equals(two, e2, "step 2");
    // Step 1 by hand: m = 0.1 g, v = 0.001 g^2, alpha = 0.001*sqrt(0.001)/0.1, so
    // w -= 0.001 * sqrt(0.001)/0.1 * 0.1 g / (sqrt(0.001) |g| + 1e-7) ~= 0.001 * sign(g): 1 -> 0.999.
    CHECK(one[0].item<double>() == Approx(0.999).epsilon(1e-6));
    REQUIRE(adam.variables().size() == 2);  // momentum and velocity slots
  }
  SECTION("custom hyper-parameters") {
    optimizers::Adam adam({.learning_rate = 0.1, .beta_1 = 0.5, .beta_2 = 0.75, .epsilon = 1e-3});
    auto [one, two] = two_steps(adam);
    auto [e1, e2] = adam_reference(0.1, 0.5, 0.75, 1e-3, false);
    check_equals(one, e1, "step 1");
    check_equals(two, e2, "step 2");
  }
}

TEST_CASE("Adam with amsgrad uses the running maximum of v", "[optimizers][adam]") {
  // kG2[2] = -0.01 is small enough that v shrinks on step 2 (0.999*0.001*4 + 0.001*1e-4 < 0.001*4),
  // so amsgrad's max(v_hat, v) differs from v there.
  optimizers::Adam amsgrad({.amsgrad = true});
  auto [one, two] = two_steps(amsgrad);
  auto [e1, e2] = adam_reference(0.001, 0.9, 0.999, 1e-7, true);
  check_equals(one, e1, "step 1");
  check_equals(two, e2, "step 2");
  auto [plain1, plain2] = adam_reference(0.001, 0.9, 0.999, 1e-7, false);
  CHECK(std::abs(plain2[2] - e2[2]) > 1e-9);  // the case actually distinguishes the two
  CHECK(amsgrad.variables().size() == 3);
}

TEST_CASE("RMSprop: v = rho*v + (1-rho)*g^2, w -= lr*g/sqrt(v + eps)", "[optimizers][rmsprop]") {
  SECTION("plain") {
    const double lr = 0.01, rho = 0.9, eps = 1e-7;
    optimizers::RMSprop rms({.learning_rate = lr});
    auto [one, two] = two_steps(rms);
    Vec w = kW0, v(3, 0.0), e1;
    for (const Vec* g : {&kG1, &kG2}) {
      for (size_t i = 0; i < 3; ++i) {
        v[i] = rho * v[i] + (1.0 - rho) * (*g)[i] * (*g)[i];
        w[i] -= lr * (*g)[i] / std::sqrt(v[i] + eps);
      }
      if (e1.empty()) e1 = w;
    }
    check_equals(one, e1, "step 1");
    check_equals(two, w, "step 2");
    // Step 1 by hand for w0 = 1, g = 0.5: v = 0.1 * 0.25 = 0.025, w = 1 - 0.01*0.5/sqrt(0.0250001) =
    // 0.9683773
    CHECK(one[0].item<double>() == Approx(1.0 - 0.005 / std::sqrt(0.0250001)));
    CHECK(one[0].item<double>() == Approx(0.9683773).epsilon(1e-6));
  }
  SECTION("with momentum: mom = m*mom + lr*g/sqrt(v + eps); w -= mom") {
    const double lr = 0.01, rho = 0.8, m = 0.5, eps = 1e-7;
    optimizers::RMSprop rms({.learning_rate = lr, .rho = rho, .momentum = m});
    auto [one, two] = two_steps(rms);
    Vec w = kW0, v(3, 0.0), mom(3, 0.0), e1;
    for (const Vec* g : {&kG1, &kG2}) {
      for (size_t i = 0; i < 3; ++i) {
        v[i] = rho * v[i] + (1.0 - rho) * (*g)[i] * (*g)[i];
        mom[i] = m * mom[i] + lr * (*g)[i] / std::sqrt(v[i] + eps);
        w[i] -= mom[i];
      }
      if (e1.empty()) e1 = w;
    }
    check_equals(one, e1, "step 1");
    check_equals(two, w, "step 2");
  }
  SECTION("centered: the denominator subtracts the squared mean gradient") {
    const double lr = 0.01, rho = 0.9, eps = 1e-7;
    optimizers::RMSprop rms({.learning_rate = lr, .centered = true});
    auto [one, two] = two_steps(rms);
    Vec w = kW0, v(3, 0.0), mg(3, 0.0), e1;
    for (const Vec* g : {&kG1, &kG2}) {
      for (size_t i = 0; i < 3; ++i) {
        v[i] = rho * v[i] + (1.0 - rho) * (*g)[i] * (*g)[i];
        mg[i] = rho * mg[i] + (1.0 - rho) * (*g)[i];
        w[i] -= lr * (*g)[i] / std::sqrt(v[i] - mg[i] * mg[i] + eps);
      }
      if (e1.empty()) e1 = w;
    }
    check_equals(one, e1, "step 1");
    check_equals(two, w, "step 2");
  }
}

TEST_CASE("optimizers keep Keras' defaults", "[optimizers][defaults]") {
  optimizers::Adam adam;
  const auto adam_config = adam.get_config();
  CHECK(adam.learning_rate() == 0.001);
  CHECK(adam_config.at("beta_1") == 0.9);
  CHECK(adam_config.at("beta_2") == 0.999);
  CHECK(adam_config.at("epsilon") == 1e-7);
  CHECK(adam_config.at("amsgrad") == false);
  CHECK(adam.name() == "Adam");

  optimizers::SGD sgd;
  CHECK(sgd.learning_rate() == 0.01);
  CHECK(sgd.get_config().at("momentum") == 0.0);
  CHECK(sgd.get_config().at("nesterov") == false);

  optimizers::RMSprop rms;
  CHECK(rms.learning_rate() == 0.001);
  CHECK(rms.get_config().at("rho") == 0.9);
  CHECK(rms.get_config().at("momentum") == 0.0);
  CHECK(rms.get_config().at("epsilon") == 1e-7);
  CHECK(rms.get_config().at("centered") == false);
}

TEST_CASE("optimizers::get resolves names with Keras' defaults", "[optimizers][registry]") {
  auto adam = optimizers::get("adam");
  CHECK(adam->class_name() == "Adam");
  CHECK(adam->learning_rate() == 0.001);
  CHECK(optimizers::get("sgd")->class_name() == "SGD");
  CHECK(optimizers::get("sgd")->learning_rate() == 0.01);
  CHECK(optimizers::get("rmsprop")->class_name() == "RMSprop");
  CHECK_THROWS_AS(optimizers::get("adamw_typo"), ValueError);
  // A named optimizer updates like the object: Adam's first step moves each weight by ~lr against the
  // gradient.
  at::Tensor w = tensor({1.0});
  adam->apply({tensor({3.0})}, {w});
  CHECK(w.item<double>() == Approx(0.999).epsilon(1e-6));
}

TEST_CASE("an undefined gradient skips its variable", "[optimizers]") {
  optimizers::SGD sgd({.learning_rate = 0.5});
  at::Tensor frozen = tensor({1.0, 2.0});
  at::Tensor moving = tensor({1.0, 2.0});
  sgd.apply({at::Tensor(), tensor({1.0, -1.0})}, {frozen, moving});
  check_equals(frozen, {1.0, 2.0}, "frozen");
  check_equals(moving, {0.5, 2.5}, "moving");  // 1 - 0.5*1, 2 - 0.5*(-1)
  CHECK(sgd.iterations() == 1);
}

TEST_CASE("optimizer input errors", "[optimizers][errors]") {
  optimizers::SGD sgd;
  at::Tensor w = tensor({1.0, 2.0});
  CHECK_THROWS_AS(sgd.apply({tensor({1.0})}, {w}), ShapeError);
  CHECK_THROWS_AS(sgd.apply({}, {w}), ValueError);
  CHECK_THROWS_AS(optimizers::SGD({.learning_rate = -0.1}), ValueError);
  CHECK_THROWS_AS(optimizers::SGD({.momentum = 1.5}), ValueError);
  CHECK_THROWS_AS(optimizers::Adam({.beta_1 = 1.0}), ValueError);
  CHECK_THROWS_AS(optimizers::Adam({.epsilon = 0.0}), ValueError);
  CHECK_THROWS_AS(optimizers::RMSprop({.rho = 1.0}), ValueError);
  CHECK_THROWS_AS(sgd.set_learning_rate(-1.0), ValueError);
  sgd.set_learning_rate(0.2);
  CHECK(sgd.learning_rate() == 0.2);
}

TEST_CASE("optimizer slots are kept per variable", "[optimizers]") {
  // Two variables updated together, then one alone: each keeps its own momentum.
  const double lr = 0.1, m = 0.9;
  optimizers::SGD sgd({.learning_rate = lr, .momentum = m});
  at::Tensor a = tensor({0.0}), b = tensor({0.0});
  sgd.apply({tensor({1.0}), tensor({2.0})}, {a, b});  // v_a = -0.1, v_b = -0.2
  sgd.apply({tensor({1.0})}, {a});                    // v_a = -0.09 - 0.1 = -0.19
  sgd.apply({tensor({0.0})}, {b});                    // v_b = 0.9 * -0.2 = -0.18
  CHECK(a.item<double>() == Approx(-0.1 - 0.19));
  CHECK(b.item<double>() == Approx(-0.2 - 0.18));
}
