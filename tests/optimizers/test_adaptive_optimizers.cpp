// AdamW, Adamax, Nadam, Adagrad, Adadelta, Ftrl, Lion and Adafactor: four steps with changing gradients on a
// vector and a matrix, against each update rule written out here element by element in double arithmetic
// from Keras 3's optimizer sources; Keras' defaults; config round trips; argument errors.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/optimizers/adadelta.h>
#include <strata/optimizers/adafactor.h>
#include <strata/optimizers/adagrad.h>
#include <strata/optimizers/adamax.h>
#include <strata/optimizers/adamw.h>
#include <strata/optimizers/ftrl.h>
#include <strata/optimizers/lion.h>
#include <strata/optimizers/nadam.h>
#include <strata/optimizers/optimizer.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using Vec = std::vector<double>;
constexpr int kSteps = 4;

// A vector of 3 and a 2x3 matrix (row-major), the two variables every test updates.
const std::vector<std::vector<int64_t>> kShapes = {{3}, {2, 3}};
const std::vector<Vec> kInitial = {{1.0, -2.0, 0.5}, {0.3, -0.7, 1.2, -1.5, 0.8, 0.05}};

// Gradient of element i of variable v at step t (1-based): a different mix of signs and sizes each step.
double gradient(int t, size_t v, size_t i) {
  return std::sin(1.3 * static_cast<double>(i + 1) + 0.7 * t * static_cast<double>(v + 1)) * (0.5 + 0.5 * t);
}

at::Tensor to_tensor(const Vec& data, const std::vector<int64_t>& shape) {
  return at::tensor(data, at::kDouble).reshape(shape);
}

Vec to_vec(const at::Tensor& t) {
  at::Tensor flat = t.contiguous().reshape({-1});
  return Vec(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

// trajectory[t][v]: variable v after step t+1.
using Trajectory = std::vector<std::vector<Vec>>;

Trajectory run(optimizers::Optimizer& optimizer) {
  std::vector<at::Tensor> variables;
  for (size_t v = 0; v < kShapes.size(); ++v) variables.push_back(to_tensor(kInitial[v], kShapes[v]));
  Trajectory out;
  for (int t = 1; t <= kSteps; ++t) {
    std::vector<at::Tensor> grads;
    for (size_t v = 0; v < kShapes.size(); ++v) {
      Vec g(kInitial[v].size());
      for (size_t i = 0; i < g.size(); ++i) g[i] = gradient(t, v, i);
      grads.push_back(to_tensor(g, kShapes[v]));
    }
    optimizer.apply(grads, variables);
    out.push_back({to_vec(variables[0]), to_vec(variables[1])});
  }
  return out;
}

// An element-wise rule: updates w and its per-element state s (all starting at `initial`) with gradient g at
// step t.
using Rule = std::function<void(double& w, double g, std::array<double, 3>& s, int t)>;

Trajectory reference(const Rule& rule, std::array<double, 3> initial = {0.0, 0.0, 0.0}) {
  std::vector<Vec> w = kInitial;
  std::vector<std::vector<std::array<double, 3>>> state;
  for (const Vec& v : w) state.emplace_back(v.size(), initial);
  Trajectory out;
  for (int t = 1; t <= kSteps; ++t) {
    for (size_t v = 0; v < w.size(); ++v)
      for (size_t i = 0; i < w[v].size(); ++i) rule(w[v][i], gradient(t, v, i), state[v][i], t);
    out.push_back(w);
  }
  return out;
}

void check_trajectory(const Trajectory& actual, const Trajectory& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t t = 0; t < actual.size(); ++t)
    for (size_t v = 0; v < actual[t].size(); ++v)
      for (size_t i = 0; i < actual[t][v].size(); ++i) {
        INFO("step " << t + 1 << ", variable " << v << ", element " << i);
        CHECK(actual[t][v][i] == Approx(expected[t][v][i]).epsilon(1e-11).margin(1e-14));
      }
}

// Every step moved something: guards against a rule that never updates.
void check_moves(const Trajectory& actual) {
  Vec previous = kInitial[1];
  for (const auto& step : actual) {
    CHECK(step[1] != previous);
    previous = step[1];
  }
}

// from_config(get_config()) gives the same config and the same updates as the optimizer it came from.
template <class T>
void check_round_trip(const std::function<T()>& make) {
  T original = make();
  T restored = T::from_config(original.get_config());
  CHECK(restored.get_config() == original.get_config());
  CHECK(restored.class_name() == original.class_name());
  check_trajectory(run(restored), run(original));
}

}  // namespace

TEST_CASE("AdamW: w -= lr*wd*w then Adam", "[optimizers][adamw]") {
  const double lr = 0.01, wd = 0.1, b1 = 0.8, b2 = 0.95, eps = 1e-6;
  optimizers::AdamW opt({.learning_rate = lr, .weight_decay = wd, .beta_1 = b1, .beta_2 = b2, .epsilon = eps});
  auto expected = reference([&](double& w, double g, auto& s, int t) {
    w -= lr * wd * w;
    s[0] = b1 * s[0] + (1 - b1) * g;
    s[1] = b2 * s[1] + (1 - b2) * g * g;
    const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    w -= alpha * s[0] / (std::sqrt(s[1]) + eps);
  });
  auto actual = run(opt);
  check_trajectory(actual, expected);
  check_moves(actual);
}

TEST_CASE("AdamW with amsgrad decays and uses the running maximum of v", "[optimizers][adamw]") {
  const double lr = 0.02, wd = 0.004, b1 = 0.9, b2 = 0.5, eps = 1e-7;
  optimizers::AdamW opt({.learning_rate = lr, .beta_2 = b2, .amsgrad = true});
  auto expected = reference([&](double& w, double g, auto& s, int t) {
    w -= lr * wd * w;
    s[0] = b1 * s[0] + (1 - b1) * g;
    s[1] = b2 * s[1] + (1 - b2) * g * g;
    s[2] = std::max(s[2], s[1]);
    const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    w -= alpha * s[0] / (std::sqrt(s[2]) + eps);
  });
  check_trajectory(run(opt), expected);
}

TEST_CASE("Adamax: u = max of b2*u and |g| then w -= lr*m/((1-b1^t)*(u+eps))", "[optimizers][adamax]") {
  const double lr = 0.05, b1 = 0.7, b2 = 0.9, eps = 1e-5;
  optimizers::Adamax opt({.learning_rate = lr, .beta_1 = b1, .beta_2 = b2, .epsilon = eps});
  auto expected = reference([&](double& w, double g, auto& s, int t) {
    s[0] += (g - s[0]) * (1 - b1);
    s[1] = std::max(b2 * s[1], std::abs(g));
    w -= lr * s[0] / ((1 - std::pow(b1, t)) * (s[1] + eps));
  });
  auto actual = run(opt);
  check_trajectory(actual, expected);
  check_moves(actual);
}

TEST_CASE("Nadam follows Keras' momentum-cache schedule", "[optimizers][nadam]") {
  const double lr = 0.03, b1 = 0.85, b2 = 0.99, eps = 1e-6;
  optimizers::Nadam opt({.learning_rate = lr, .beta_1 = b1, .beta_2 = b2, .epsilon = eps});
  auto mu = [&](int t) { return b1 * (1 - 0.5 * std::pow(0.96, t)); };
  auto expected = reference([&](double& w, double g, auto& s, int t) {
    double product = 1.0;  // mu_1 ... mu_t
    for (int i = 1; i <= t; ++i) product *= mu(i);
    const double product_next = product * mu(t + 1);
    s[0] += (g - s[0]) * (1 - b1);
    s[1] += (g * g - s[1]) * (1 - b2);
    const double m_hat = mu(t + 1) * s[0] / (1 - product_next) + (1 - mu(t)) * g / (1 - product);
    const double v_hat = s[1] / (1 - std::pow(b2, t));
    w -= m_hat * lr / (std::sqrt(v_hat) + eps);
  });
  auto actual = run(opt);
  check_trajectory(actual, expected);
  check_moves(actual);
}

TEST_CASE("Adagrad: a += g^2 from 0.1 and w -= lr*g/sqrt(a+eps)", "[optimizers][adagrad]") {
  const double lr = 0.1, init = 0.25, eps = 1e-6;
  optimizers::Adagrad opt({.learning_rate = lr, .initial_accumulator_value = init, .epsilon = eps});
  auto expected = reference(
      [&](double& w, double g, auto& s, int) {
        s[0] += g * g;
        w -= lr * g / std::sqrt(s[0] + eps);
      },
      {init, 0.0, 0.0});
  auto actual = run(opt);
  check_trajectory(actual, expected);
  check_moves(actual);
}

TEST_CASE("Adagrad's accumulator starts at initial_accumulator_value", "[optimizers][adagrad]") {
  optimizers::Adagrad opt;
  at::Tensor w = at::ones({2, 2}, at::kDouble);
  opt.apply({at::zeros({2, 2}, at::kDouble)}, {w});
  REQUIRE(opt.variables().size() == 1);
  CHECK(at::allclose(opt.variables()[0], at::full({2, 2}, 0.1, at::kDouble)));
  CHECK(at::equal(w, at::ones({2, 2}, at::kDouble)));  // zero gradient, no move
}

TEST_CASE("Adadelta: Keras' accumulated_grad / accumulated_delta_var rule", "[optimizers][adadelta]") {
  const double lr = 1.0, rho = 0.9, eps = 1e-6;
  optimizers::Adadelta opt({.learning_rate = lr, .rho = rho, .epsilon = eps});
  auto expected = reference([&](double& w, double g, auto& s, int) {
    s[0] = rho * s[0] + (1 - rho) * g * g;
    const double delta = -std::sqrt(s[1] + eps) * g / std::sqrt(s[0] + eps);
    s[1] = rho * s[1] + (1 - rho) * delta * delta;
    w += lr * delta;
  });
  auto actual = run(opt);
  check_trajectory(actual, expected);
  check_moves(actual);
}

namespace {

Rule ftrl_rule(double lr, double power, double l1, double l2, double shrinkage, double beta) {
  return [=](double& w, double g, std::array<double, 3>& s, int) {
    const double l2_total = l2 + beta / (2 * lr);
    const double adjusted = g + 2 * shrinkage * w;
    const double new_n = s[0] + g * g;
    s[1] += adjusted - (std::pow(new_n, -power) - std::pow(s[0], -power)) / lr * w;
    const double quadratic = std::pow(new_n, -power) / lr + 2 * l2_total;
    const double clipped = std::min(std::max(s[1], -l1), l1);
    w = (clipped - s[1]) / quadratic;
    s[0] = new_n;
  };
}

}  // namespace

TEST_CASE("Ftrl with default strengths", "[optimizers][ftrl]") {
  const double lr = 0.5;
  optimizers::Ftrl opt({.learning_rate = lr});
  auto actual = run(opt);
  check_trajectory(actual, reference(ftrl_rule(lr, -0.5, 0, 0, 0, 0), {0.1, 0.0, 0.0}));
  check_moves(actual);
}

TEST_CASE("Ftrl with l1 and l2 and shrinkage and beta and another power", "[optimizers][ftrl]") {
  const double lr = 0.3, power = -0.3, init = 0.2, l1 = 0.05, l2 = 0.1, shrink = 0.02, beta = 0.4;
  optimizers::Ftrl opt({.learning_rate = lr,
                        .learning_rate_power = power,
                        .initial_accumulator_value = init,
                        .l1_regularization_strength = l1,
                        .l2_regularization_strength = l2,
                        .l2_shrinkage_regularization_strength = shrink,
                        .beta = beta});
  auto actual = run(opt);
  check_trajectory(actual, reference(ftrl_rule(lr, power, l1, l2, shrink, beta), {init, 0.0, 0.0}));
  check_moves(actual);
}

TEST_CASE("Ftrl with a large l1 holds every weight at zero", "[optimizers][ftrl]") {
  optimizers::Ftrl opt({.learning_rate = 0.5, .l1_regularization_strength = 100.0});
  auto actual = run(opt);
  check_trajectory(actual, reference(ftrl_rule(0.5, -0.5, 100.0, 0, 0, 0), {0.1, 0.0, 0.0}));
  for (const auto& step : actual)
    for (const auto& v : step)
      for (double x : v) CHECK(x == 0.0);
}

TEST_CASE("Lion: w -= lr*sign(b1*m + (1-b1)*g) then m = b2*m + (1-b2)*g", "[optimizers][lion]") {
  const double lr = 0.01, b1 = 0.8, b2 = 0.95;
  optimizers::Lion opt({.learning_rate = lr, .beta_1 = b1, .beta_2 = b2});
  auto sign = [](double x) { return static_cast<double>((x > 0) - (x < 0)); };
  auto expected = reference([&](double& w, double g, auto& s, int) {
    w -= lr * sign(b1 * s[0] + (1 - b1) * g);
    s[0] = b2 * s[0] + (1 - b2) * g;
  });
  auto actual = run(opt);
  check_trajectory(actual, expected);
  check_moves(actual);
}

namespace {

double rms(const Vec& x) {
  double sum = 0;
  for (double v : x) sum += v * v;
  return std::sqrt(sum / static_cast<double>(x.size()));
}

// Keras 3's Adafactor, written out with loops: the vector keeps a full second moment, the 2x3 matrix
// row (r, 2 values) and column (c, 3 values) means.
Trajectory adafactor_reference(double lr, double decay, double eps1, double eps2, double clip) {
  std::vector<Vec> w = kInitial;
  Vec v_vec(3, 0.0), r(2, 0.0), c(3, 0.0);
  Trajectory out;
  for (int t = 1; t <= kSteps; ++t) {
    const double rho = std::min(lr, 1 / std::sqrt(static_cast<double>(t)));
    const double beta = 1 - std::pow(static_cast<double>(t), decay);
    for (size_t var = 0; var < 2; ++var) {
      Vec g(w[var].size()), G(w[var].size()), v(w[var].size());
      for (size_t i = 0; i < g.size(); ++i) {
        g[i] = gradient(t, var, i);
        G[i] = g[i] * g[i] + eps1;
      }
      const double alpha = std::max(eps2, rms(w[var])) * rho;
      if (var == 0) {
        for (size_t i = 0; i < 3; ++i) v_vec[i] = beta * v_vec[i] + (1 - beta) * G[i];
        v = v_vec;
      } else {
        for (size_t row = 0; row < 2; ++row)
          r[row] = beta * r[row] + (1 - beta) * (G[row * 3] + G[row * 3 + 1] + G[row * 3 + 2]) / 3;
        for (size_t col = 0; col < 3; ++col) c[col] = beta * c[col] + (1 - beta) * (G[col] + G[3 + col]) / 2;
        const double r_mean = (r[0] + r[1]) / 2;
        for (size_t row = 0; row < 2; ++row)
          for (size_t col = 0; col < 3; ++col) v[row * 3 + col] = r[row] / r_mean * c[col];
      }
      Vec u(g.size());
      for (size_t i = 0; i < g.size(); ++i) u[i] = g[i] / std::sqrt(v[i]);
      const double scale = std::max(1.0, rms(u) / clip);
      for (size_t i = 0; i < g.size(); ++i) w[var][i] -= alpha * u[i] / scale;
    }
    out.push_back(w);
  }
  return out;
}

}  // namespace

TEST_CASE("Adafactor with defaults: factored moments for the matrix", "[optimizers][adafactor]") {
  optimizers::Adafactor opt;
  auto actual = run(opt);
  check_trajectory(actual, adafactor_reference(0.001, -0.8, 1e-30, 1e-3, 1.0));
  check_moves(actual);
  // Slots: r, c per variable (scalars for the vector), then velocity; in first-seen order, slot by slot.
  auto slots = opt.variables();
  REQUIRE(slots.size() == 6);
  CHECK(slots[0].dim() == 0);
  CHECK(slots[1].sizes() == at::IntArrayRef({2}));
  CHECK(slots[2].dim() == 0);
  CHECK(slots[3].sizes() == at::IntArrayRef({3}));
  CHECK(slots[4].sizes() == at::IntArrayRef({3}));
  CHECK(slots[5].sizes() == at::IntArrayRef({2, 3}));
}

TEST_CASE("Adafactor: large learning rate is capped at 1/sqrt(t) and updates are clipped", "[optimizers][adafactor]") {
  const double lr = 0.8, decay = -0.5, eps1 = 1e-20, eps2 = 0.01, clip = 0.5;
  optimizers::Adafactor opt(
      {.learning_rate = lr, .beta_2_decay = decay, .epsilon_1 = eps1, .epsilon_2 = eps2, .clip_threshold = clip});
  check_trajectory(run(opt), adafactor_reference(lr, decay, eps1, eps2, clip));
}

TEST_CASE("Adafactor factors the last two axes of a rank-3 variable", "[optimizers][adafactor]") {
  optimizers::Adafactor opt;
  at::Tensor w = at::ones({4, 2, 3}, at::kDouble);
  opt.apply({at::full({4, 2, 3}, 0.5, at::kDouble)}, {w});
  auto slots = opt.variables();
  REQUIRE(slots.size() == 3);
  CHECK(slots[0].sizes() == at::IntArrayRef({4, 2}));
  CHECK(slots[1].sizes() == at::IntArrayRef({4, 3}));
  CHECK(slots[2].sizes() == at::IntArrayRef({4, 2, 3}));
  // Uniform gradient: v = G everywhere, u = 0.5/sqrt(0.25) = 1, rms(u) = 1; alpha = 1 * min(1e-3, 1) = 1e-3.
  CHECK(at::allclose(w, at::full({4, 2, 3}, 1.0 - 1e-3, at::kDouble)));
}

TEST_CASE("new optimizers keep Keras 3's defaults", "[optimizers][defaults]") {
  const optimizers::AdamWOptions adamw;
  CHECK(adamw.learning_rate.at(0) == 0.001);
  CHECK(adamw.weight_decay == 0.004);
  CHECK(adamw.beta_1 == 0.9);
  CHECK(adamw.beta_2 == 0.999);
  CHECK(adamw.epsilon == 1e-7);
  CHECK_FALSE(adamw.amsgrad);
  CHECK(adamw.name == "adamw");
  const optimizers::AdamaxOptions adamax;
  CHECK(adamax.learning_rate.at(0) == 0.001);
  CHECK(adamax.beta_1 == 0.9);
  CHECK(adamax.beta_2 == 0.999);
  CHECK(adamax.epsilon == 1e-7);
  const optimizers::NadamOptions nadam;
  CHECK(nadam.learning_rate.at(0) == 0.001);
  CHECK(nadam.beta_1 == 0.9);
  CHECK(nadam.beta_2 == 0.999);
  CHECK(nadam.epsilon == 1e-7);
  const optimizers::AdagradOptions adagrad;
  CHECK(adagrad.learning_rate.at(0) == 0.001);
  CHECK(adagrad.initial_accumulator_value == 0.1);
  CHECK(adagrad.epsilon == 1e-7);
  const optimizers::AdadeltaOptions adadelta;
  CHECK(adadelta.learning_rate.at(0) == 0.001);
  CHECK(adadelta.rho == 0.95);
  CHECK(adadelta.epsilon == 1e-7);
  const optimizers::FtrlOptions ftrl;
  CHECK(ftrl.learning_rate.at(0) == 0.001);
  CHECK(ftrl.learning_rate_power == -0.5);
  CHECK(ftrl.initial_accumulator_value == 0.1);
  CHECK(ftrl.l1_regularization_strength == 0.0);
  CHECK(ftrl.l2_regularization_strength == 0.0);
  CHECK(ftrl.l2_shrinkage_regularization_strength == 0.0);
  CHECK(ftrl.beta == 0.0);
  const optimizers::LionOptions lion;
  CHECK(lion.learning_rate.at(0) == 0.001);
  CHECK(lion.beta_1 == 0.9);
  CHECK(lion.beta_2 == 0.99);
  const optimizers::AdafactorOptions adafactor;
  CHECK(adafactor.learning_rate.at(0) == 0.001);
  CHECK(adafactor.beta_2_decay == -0.8);
  CHECK(adafactor.epsilon_1 == 1e-30);
  CHECK(adafactor.epsilon_2 == 1e-3);
  CHECK(adafactor.clip_threshold == 1.0);
  CHECK(adafactor.relative_step);
}

TEST_CASE("optimizers::get knows the new optimizers by Keras' names", "[optimizers][registry]") {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"adamw", "AdamW"}, {"adamax", "Adamax"},     {"nadam", "Nadam"}, {"adagrad", "Adagrad"},
      {"adadelta", "Adadelta"}, {"ftrl", "Ftrl"}, {"lion", "Lion"},   {"adafactor", "Adafactor"}};
  for (const auto& [key, class_name] : names) {
    INFO(key);
    auto opt = optimizers::get(key);
    CHECK(opt->class_name() == class_name);
    CHECK(opt->name() == key);
    CHECK(opt->learning_rate() == 0.001);
  }
  CHECK(optimizers::get("adamw")->get_config().at("weight_decay") == 0.004);
}

TEST_CASE("new optimizers' configs round-trip with Keras' keys", "[optimizers][config]") {
  using namespace optimizers;
  check_round_trip<AdamW>([] { return AdamW({.learning_rate = 0.02, .weight_decay = 0.01, .amsgrad = true, .name = "w"}); });
  CHECK(AdamW({.amsgrad = true}).get_config().at("amsgrad") == true);
  check_round_trip<Adamax>([] { return Adamax({.beta_2 = 0.9, .epsilon = 1e-4}); });
  check_round_trip<Nadam>([] { return Nadam({.learning_rate = 0.01, .beta_1 = 0.8}); });
  check_round_trip<Adagrad>([] { return Adagrad({.initial_accumulator_value = 0.3}); });
  CHECK(Adagrad({.initial_accumulator_value = 0.3}).get_config().at("initial_accumulator_value") == 0.3);
  check_round_trip<Adadelta>([] { return Adadelta({.learning_rate = 1.0, .rho = 0.9}); });
  auto make_ftrl = [] {
    return Ftrl({.learning_rate = 0.1,
                 .learning_rate_power = -0.4,
                 .l1_regularization_strength = 0.01,
                 .l2_shrinkage_regularization_strength = 0.2,
                 .beta = 0.5});
  };
  check_round_trip<Ftrl>(make_ftrl);
  Ftrl ftrl = make_ftrl();
  for (const char* key : {"learning_rate_power", "initial_accumulator_value", "l1_regularization_strength",
                          "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta"})
    CHECK(ftrl.get_config().contains(key));
  check_round_trip<Lion>([] { return Lion({.beta_1 = 0.5}); });
  check_round_trip<Adafactor>([] { return Adafactor({.clip_threshold = 2.0, .relative_step = false}); });
  Adafactor adafactor({.clip_threshold = 2.0, .relative_step = false});
  for (const char* key : {"beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step"})
    CHECK(adafactor.get_config().contains(key));
  CHECK(Lion::from_config(Lion({.beta_1 = 0.5}).get_config()).options().beta_1 == 0.5);
}

TEST_CASE("new optimizers reject bad arguments clearly", "[optimizers][errors]") {
  CHECK_THROWS_WITH(optimizers::AdamW({.weight_decay = -1}), Contains("AdamW 'adamw'") && Contains("weight_decay >= 0"));
  CHECK_THROWS_WITH(optimizers::AdamW({.beta_1 = 1.0}), Contains("beta_1 and beta_2 in [0, 1)"));
  CHECK_THROWS_WITH(optimizers::Adamax({.beta_2 = 1.5}), Contains("Adamax") && Contains("[0, 1)"));
  CHECK_THROWS_WITH(optimizers::Adamax({.epsilon = 0}), Contains("epsilon > 0"));
  CHECK_THROWS_WITH(optimizers::Nadam({.beta_1 = -0.1}), Contains("Nadam 'nadam'"));
  CHECK_THROWS_WITH(optimizers::Adagrad({.initial_accumulator_value = -0.1}),
                    Contains("initial_accumulator_value >= 0"));
  CHECK_THROWS_WITH(optimizers::Adadelta({.rho = 1.5}), Contains("rho in [0, 1]"));
  CHECK_THROWS_WITH(optimizers::Ftrl({.learning_rate_power = 0.5}), Contains("learning_rate_power <= 0"));
  CHECK_THROWS_WITH(optimizers::Ftrl({.l1_regularization_strength = -1}), Contains("l1_regularization_strength"));
  CHECK_THROWS_WITH(optimizers::Ftrl({.l2_shrinkage_regularization_strength = -1}),
                    Contains("l2_shrinkage_regularization_strength"));
  CHECK_THROWS_WITH(optimizers::Lion({.beta_1 = 0.0}), Contains("Lion 'lion'") && Contains("beta_1 in (0, 1]"));
  CHECK_THROWS_WITH(optimizers::Adafactor({.clip_threshold = 0}), Contains("clip_threshold > 0"));
  CHECK_THROWS_WITH(optimizers::Adafactor({.learning_rate = -1.0}), Contains("learning_rate >= 0"));
  CHECK_THROWS_WITH(optimizers::AdamW({.weight_decay = std::nullopt}), Contains("AdamW") && Contains("weight_decay must be a number"));
  CHECK_THROWS_AS(optimizers::Ftrl({.initial_accumulator_value = -1}), ValueError);
}

TEST_CASE("shared options work on the new optimizers: weight decay and clipvalue", "[optimizers][adamax][lion]") {
  SECTION("Adamax with weight_decay: w -= lr*wd*w before the Adamax update") {
    const double lr = 0.05, wd = 0.2, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    optimizers::Adamax opt({.learning_rate = lr, .weight_decay = wd});
    auto expected = reference([&](double& w, double g, auto& s, int t) {
      w -= lr * wd * w;
      s[0] += (g - s[0]) * (1 - b1);
      s[1] = std::max(b2 * s[1], std::abs(g));
      w -= lr * s[0] / ((1 - std::pow(b1, t)) * (s[1] + eps));
    });
    check_trajectory(run(opt), expected);
  }
  SECTION("Lion with clipvalue: each gradient element clipped to [-c, c] first") {
    const double lr = 0.01, b1 = 0.9, b2 = 0.99, c = 0.4;
    optimizers::Lion opt({.learning_rate = lr, .clipvalue = c});
    auto sign = [](double x) { return static_cast<double>((x > 0) - (x < 0)); };
    auto expected = reference([&](double& w, double g, auto& s, int) {
      g = std::min(std::max(g, -c), c);
      w -= lr * sign(b1 * s[0] + (1 - b1) * g);
      s[0] = b2 * s[0] + (1 - b2) * g;
    });
    check_trajectory(run(opt), expected);
  }
}

namespace {

// Runs `first` for two steps, copies its state into `second` (built on copies of the variables), then runs both
// two more steps with the same gradients: the weights must agree bit for bit.
void check_resume(optimizers::Optimizer& first, optimizers::Optimizer& second) {
  std::vector<at::Tensor> a, b;
  for (size_t v = 0; v < kShapes.size(); ++v) a.push_back(to_tensor(kInitial[v], kShapes[v]));
  auto grads_at = [](int t) {
    std::vector<at::Tensor> grads;
    for (size_t v = 0; v < kShapes.size(); ++v) {
      Vec g(kInitial[v].size());
      for (size_t i = 0; i < g.size(); ++i) g[i] = gradient(t, v, i);
      grads.push_back(to_tensor(g, kShapes[v]));
    }
    return grads;
  };
  for (int t = 1; t <= 2; ++t) first.apply(grads_at(t), a);
  for (const auto& w : a) b.push_back(w.clone());
  second.build(b);
  second.set_state(first.get_state());
  CHECK(second.iterations() == 2);
  for (int t = 3; t <= kSteps; ++t) {
    first.apply(grads_at(t), a);
    second.apply(grads_at(t), b);
  }
  for (size_t v = 0; v < a.size(); ++v) CHECK(at::equal(a[v], b[v]));
}

}  // namespace

TEST_CASE("the new optimizers resume bit for bit from get_state/set_state", "[optimizers][state]") {
  using namespace optimizers;
  { Nadam a({.learning_rate = 0.05}), b({.learning_rate = 0.05}); check_resume(a, b); }
  { Adafactor a({.learning_rate = 0.1}), b({.learning_rate = 0.1}); check_resume(a, b); }
  { Ftrl a({.learning_rate = 0.2}), b({.learning_rate = 0.2}); check_resume(a, b); }
  { Adagrad a, b; check_resume(a, b); }
  { Adadelta a({.learning_rate = 1.0}), b({.learning_rate = 1.0}); check_resume(a, b); }
  { Lion a, b; check_resume(a, b); }
  { Adamax a, b; check_resume(a, b); }
  { AdamW a({.learning_rate = 0.01, .weight_decay = 0.1}), b({.learning_rate = 0.01, .weight_decay = 0.1}); check_resume(a, b); }
}
