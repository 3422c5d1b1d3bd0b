// Keras 3's shared optimizer arguments (weight decay, clipping, EMA, gradient accumulation, loss scaling,
// exclusion from decay, schedules as learning rate) and optimizer state. Each option is checked over several
// steps against the update written out here in plain double arithmetic, following Keras 3's
// base_optimizer.apply: unscale -> accumulate -> clip -> decay -> update_step -> EMA -> count.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/optimizer.h>
#include <strata/optimizers/rmsprop.h>
#include <strata/optimizers/schedules.h>
#include <strata/optimizers/sgd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using Vec = std::vector<double>;
using Vars = std::vector<Vec>;  // one entry per variable

// Two variables (shapes [3] and [2]) and five steps of gradients; the second variable's first gradient has
// norm 5, the first's about 2.29, so clipping at 1 or 3 treats them differently.
const Vars kW0 = {{1.0, -2.0, 0.5}, {0.3, 4.0}};
const std::vector<Vars> kGrads = {
    {{0.5, -1.0, 2.0}, {3.0, -4.0}}, {{0.25, 2.0, -0.01}, {0.1, 0.2}}, {{-1.5, 0.5, 0.5}, {-0.6, 0.8}},
    {{0.0, 0.0, 3.0}, {1.0, 1.0}},   {{2.0, -2.0, 1.0}, {-0.5, 0.25}},
};

std::vector<at::Tensor> tensors(const Vars& vars) {
  std::vector<at::Tensor> out;
  for (const auto& v : vars) out.push_back(at::tensor(v, at::kDouble));
  return out;
}

void check_close(const std::vector<at::Tensor>& actual, const Vars& expected, const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  for (size_t v = 0; v < expected.size(); ++v) {
    REQUIRE(actual[v].numel() == static_cast<int64_t>(expected[v].size()));
    const at::Tensor flat = actual[v].reshape({-1});
    for (size_t i = 0; i < expected[v].size(); ++i) {
      INFO(what << ": variable " << v << " element " << i);
      CHECK(flat[static_cast<int64_t>(i)].item<double>() ==
            Approx(expected[v][i]).epsilon(1e-12).margin(1e-14));
    }
  }
}

double norm(const Vec& v) {
  double sum = 0.0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}

// Runs `steps` applies of kGrads on a copy of kW0 and checks the weights after each against `reference`,
// which advances its own copy of the weights by one step given the step index and that step's gradients.
template <class Reference>
void check_steps(optimizers::Optimizer& optimizer, size_t steps, Reference reference) {
  std::vector<at::Tensor> w = tensors(kW0);
  Vars expected = kW0;
  for (size_t t = 0; t < steps; ++t) {
    optimizer.apply(tensors(kGrads[t]), w);
    reference(t, kGrads[t], expected);
    check_close(w, expected, "after step " + std::to_string(t + 1));
  }
}

// Plain SGD: w -= lr * g.
void sgd_step(Vars& w, const Vars& g, double lr) {
  for (size_t v = 0; v < w.size(); ++v)
    for (size_t i = 0; i < w[v].size(); ++i) w[v][i] -= lr * g[v][i];
}

}  // namespace

TEST_CASE("weight_decay is decoupled: w -= lr*wd*w before the update",
          "[optimizers][options][weight_decay]") {
  SECTION("SGD") {
    const double lr = 0.1, wd = 0.05;
    optimizers::SGD sgd({.learning_rate = lr, .weight_decay = wd});
    check_steps(sgd, 4, [&](size_t, const Vars& g, Vars& w) {
      for (auto& v : w)
        for (double& x : v) x -= x * wd * lr;
      sgd_step(w, g, lr);
    });
  }
  SECTION("Adam: the decay happens before the moments' update, with the step's learning rate") {
    const double lr = 0.01, wd = 0.2, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    optimizers::Adam adam({.learning_rate = lr, .weight_decay = wd});
    Vars m = {{0, 0, 0}, {0, 0}}, s = m;
    check_steps(adam, 3, [&](size_t t, const Vars& g, Vars& w) {
      const double step = static_cast<double>(t + 1);
      const double alpha = lr * std::sqrt(1 - std::pow(b2, step)) / (1 - std::pow(b1, step));
      for (size_t v = 0; v < w.size(); ++v)
        for (size_t i = 0; i < w[v].size(); ++i) {
          w[v][i] -= w[v][i] * wd * lr;
          m[v][i] = b1 * m[v][i] + (1 - b1) * g[v][i];
          s[v][i] = b2 * s[v][i] + (1 - b2) * g[v][i] * g[v][i];
          w[v][i] -= alpha * m[v][i] / (std::sqrt(s[v][i]) + eps);
        }
    });
  }
  SECTION("with a schedule the decay uses the scheduled learning rate") {
    const double wd = 0.5;
    optimizers::SGD sgd(
        {.learning_rate = optimizers::schedules::ExponentialDecay(0.2, 1, 0.5), .weight_decay = wd});
    check_steps(sgd, 3, [&](size_t t, const Vars& g, Vars& w) {
      const double lr = 0.2 * std::pow(0.5, static_cast<double>(t));
      for (auto& v : w)
        for (double& x : v) x -= x * wd * lr;
      sgd_step(w, g, lr);
    });
  }
}

TEST_CASE("exclude_from_weight_decay by variable and by name", "[optimizers][options][weight_decay]") {
  const double lr = 0.1, wd = 0.3;
  // Reference: only variable 0 decays.
  const auto only_first_decays = [&](size_t, const Vars& g, Vars& w) {
    for (double& x : w[0]) x -= x * wd * lr;
    sgd_step(w, g, lr);
  };
  SECTION("by variable") {
    optimizers::SGD sgd({.learning_rate = lr, .weight_decay = wd});
    std::vector<at::Tensor> w = tensors(kW0);
    sgd.exclude_from_weight_decay({w[1]});
    Vars expected = kW0;
    for (size_t t = 0; t < 3; ++t) {
      sgd.apply(tensors(kGrads[t]), w);
      only_first_decays(t, kGrads[t], expected);
    }
    check_close(w, expected, "after 3 steps");
  }
  SECTION("by name: var_names are searched in the names given to build()") {
    optimizers::SGD sgd({.learning_rate = lr, .weight_decay = wd});
    sgd.exclude_from_weight_decay({}, {"bias", "gamma$"});
    std::vector<at::Tensor> w = tensors(kW0);
    sgd.build(w, {"dense/kernel", "dense/bias"});
    Vars expected = kW0;
    for (size_t t = 0; t < 3; ++t) {
      sgd.apply(tensors(kGrads[t]), w);
      only_first_decays(t, kGrads[t], expected);
    }
    check_close(w, expected, "after 3 steps");
  }
  SECTION("only before the optimizer is built, and with valid patterns") {
    optimizers::SGD sgd({.weight_decay = wd});
    CHECK_THROWS_WITH(sgd.exclude_from_weight_decay({}, {"("}), Contains("not a valid regular expression"));
    sgd.build(tensors(kW0));
    CHECK_THROWS_AS(sgd.exclude_from_weight_decay({}, {"bias"}), StateError);
  }
}

TEST_CASE("clipnorm rescales each gradient to norm <= clipnorm", "[optimizers][options][clip]") {
  const double lr = 0.1, c = 3.0;
  optimizers::SGD sgd({.learning_rate = lr, .clipnorm = c});
  check_steps(sgd, 5, [&](size_t, const Vars& g, Vars& w) {
    Vars clipped = g;
    for (auto& v : clipped) {
      const double n = norm(v);
      for (double& x : v) x = x * c / std::max(n, c);
    }
    sgd_step(w, clipped, lr);
  });
  // Step 1 by hand: the second gradient (3, -4) has norm 5 and becomes (1.8, -2.4); the first (norm 2.29)
  // stays.
  optimizers::SGD one({.learning_rate = 1.0, .clipnorm = 3.0});
  std::vector<at::Tensor> w = tensors(kW0);
  one.apply(tensors(kGrads[0]), w);
  check_close(w, {{0.5, -1.0, -1.5}, {0.3 - 1.8, 4.0 + 2.4}}, "by hand");
}

TEST_CASE("clipvalue clips each gradient element to plus or minus clipvalue", "[optimizers][options][clip]") {
  const double lr = 0.1, c = 0.75;
  optimizers::SGD sgd({.learning_rate = lr, .clipvalue = c});
  check_steps(sgd, 5, [&](size_t, const Vars& g, Vars& w) {
    Vars clipped = g;
    for (auto& v : clipped)
      for (double& x : v) x = std::clamp(x, -c, c);
    sgd_step(w, clipped, lr);
  });
}

TEST_CASE("global_clipnorm rescales all gradients together", "[optimizers][options][clip]") {
  const double lr = 0.1;
  for (double c : {1.0, 4.0, 100.0}) {
    INFO("global_clipnorm " << c);
    optimizers::SGD sgd({.learning_rate = lr, .global_clipnorm = c});
    check_steps(sgd, 5, [&](size_t, const Vars& g, Vars& w) {
      double squares = 0.0;
      for (const auto& v : g) squares += norm(v) * norm(v);
      const double global = std::sqrt(squares);
      const double scale = global > c ? c / global : 1.0;
      Vars clipped = g;
      for (auto& v : clipped)
        for (double& x : v) x *= scale;
      sgd_step(w, clipped, lr);
    });
  }
  SECTION("a non-finite global norm makes the update NaN, as Keras") {
    optimizers::SGD sgd({.learning_rate = lr, .global_clipnorm = 1.0});
    std::vector<at::Tensor> w = tensors(kW0);
    sgd.apply({at::tensor(Vec{INFINITY, 0.0, 0.0}, at::kDouble), at::tensor(Vec{1.0, 1.0}, at::kDouble)}, w);
    CHECK(at::isnan(w[1]).all().item<bool>());
  }
}

TEST_CASE("use_ema keeps a moving average of the weights", "[optimizers][options][ema]") {
  const double lr = 0.1, m = 0.9;
  // Keras: the average starts at the weights after the first update, then avg = m*avg + (1-m)*w.
  const auto ema_reference = [&](size_t steps, std::optional<int64_t> overwrite, Vars& w, Vars& average) {
    w = kW0;
    for (size_t t = 0; t < steps; ++t) {
      sgd_step(w, kGrads[t], lr);
      for (size_t v = 0; v < w.size(); ++v)
        for (size_t i = 0; i < w[v].size(); ++i)
          average[v][i] = t == 0 ? w[v][i] : m * average[v][i] + (1 - m) * w[v][i];
      if (overwrite && (t + 1) % *overwrite == 0) w = average;
    }
  };
  SECTION("the averages live in the state and finalize_variable_values copies them in") {
    optimizers::SGD sgd({.learning_rate = lr, .use_ema = true, .ema_momentum = m});
    std::vector<at::Tensor> w = tensors(kW0);
    for (size_t t = 0; t < 4; ++t) sgd.apply(tensors(kGrads[t]), w);
    Vars expected_w, average = kW0;
    ema_reference(4, std::nullopt, expected_w, average);
    check_close(w, expected_w, "weights untouched by the average");
    const auto state = sgd.get_state();  // iterations, learning rate, average 0, average 1
    REQUIRE(state.size() == 4);
    check_close({state[2], state[3]}, average, "averages");
    sgd.finalize_variable_values(w);
    check_close(w, average, "after finalize_variable_values");
  }
  SECTION("ema_overwrite_frequency copies the average into the weights every N iterations") {
    optimizers::SGD sgd(
        {.learning_rate = lr, .use_ema = true, .ema_momentum = m, .ema_overwrite_frequency = 2});
    std::vector<at::Tensor> w = tensors(kW0);
    Vars average = kW0;
    for (size_t t = 0; t < 5; ++t) {
      sgd.apply(tensors(kGrads[t]), w);
      Vars expected_w;
      ema_reference(t + 1, 2, expected_w, average);
      check_close(w, expected_w, "after step " + std::to_string(t + 1));
    }
  }
  SECTION("without use_ema finalize_variable_values changes nothing") {
    optimizers::SGD sgd({.learning_rate = lr});
    std::vector<at::Tensor> w = tensors(kW0);
    sgd.apply(tensors(kGrads[0]), w);
    const auto before = w[0].clone();
    sgd.finalize_variable_values(w);
    CHECK(at::equal(before, w[0]));
  }
}

TEST_CASE("gradient_accumulation_steps updates with the mean gradient every N applies",
          "[optimizers][options][accumulation]") {
  SECTION("Adam counts updates, not applies, in its bias correction") {
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-7;
    const int64_t n = 2;
    optimizers::Adam adam({.learning_rate = lr, .gradient_accumulation_steps = n});
    std::vector<at::Tensor> w = tensors(kW0);
    Vars expected = kW0, m = {{0, 0, 0}, {0, 0}}, s = m, sum = m;
    for (size_t t = 0; t < 4; ++t) {
      adam.apply(tensors(kGrads[t]), w);
      for (size_t v = 0; v < sum.size(); ++v)
        for (size_t i = 0; i < sum[v].size(); ++i) sum[v][i] += kGrads[t][v][i];
      if ((t + 1) % n == 0) {
        const double step = static_cast<double>((t + 1) / n);
        const double alpha = lr * std::sqrt(1 - std::pow(b2, step)) / (1 - std::pow(b1, step));
        for (size_t v = 0; v < w.size(); ++v)
          for (size_t i = 0; i < expected[v].size(); ++i) {
            const double g = sum[v][i] / n;
            m[v][i] = b1 * m[v][i] + (1 - b1) * g;
            s[v][i] = b2 * s[v][i] + (1 - b2) * g * g;
            expected[v][i] -= alpha * m[v][i] / (std::sqrt(s[v][i]) + eps);
            sum[v][i] = 0.0;
          }
      }
      check_close(w, expected, "after apply " + std::to_string(t + 1));
      CHECK(adam.iterations() == static_cast<int64_t>((t + 1) / n));
    }
  }
  SECTION("the schedule sees the apply count; clipping applies to the mean") {
    const int64_t n = 3;
    optimizers::SGD sgd(
        {.learning_rate = optimizers::schedules::PiecewiseConstantDecay({1, 2}, {1.0, 0.5, 0.25}),
         .clipnorm = 0.5,
         .gradient_accumulation_steps = n});
    std::vector<at::Tensor> w = tensors(kW0);
    Vars expected = kW0;
    for (size_t t = 0; t < 3; ++t) sgd.apply(tensors(kGrads[t]), w);
    // The update happens on apply 3, when Keras' _iterations is 2: learning rate 0.5.
    Vars mean = {{0, 0, 0}, {0, 0}};
    for (size_t t = 0; t < 3; ++t)
      for (size_t v = 0; v < mean.size(); ++v)
        for (size_t i = 0; i < mean[v].size(); ++i) mean[v][i] += kGrads[t][v][i] / n;
    for (auto& v : mean) {
      const double scale = 0.5 / std::max(norm(v), 0.5);
      for (double& x : v) x *= scale;
    }
    sgd_step(expected, mean, 0.5);
    check_close(w, expected, "after the first accumulated update");
    CHECK(sgd.iterations() == 1);
    CHECK(sgd.learning_rate() == 0.25);  // _iterations is 3 now
  }
}

TEST_CASE("loss_scale_factor divides the gradients and scale_loss multiplies the loss",
          "[optimizers][options][loss_scale]") {
  const double lr = 0.1, scale = 128.0;
  optimizers::SGD sgd({.learning_rate = lr, .loss_scale_factor = scale});
  std::vector<at::Tensor> w = tensors(kW0);
  Vars expected = kW0;
  for (size_t t = 0; t < 3; ++t) {
    Vars scaled = kGrads[t];
    for (auto& v : scaled)
      for (double& x : v) x *= scale;
    sgd.apply(tensors(scaled), w);
    sgd_step(expected, kGrads[t], lr);
  }
  check_close(w, expected, "after 3 steps");
  CHECK(sgd.scale_loss(at::scalar_tensor(0.5, at::kDouble)).item<double>() == 64.0);
  optimizers::SGD plain;
  CHECK(plain.scale_loss(at::scalar_tensor(0.5, at::kDouble)).item<double>() == 0.5);
}

TEST_CASE("gradients passed to apply are not modified by clipping or unscaling", "[optimizers][options]") {
  optimizers::SGD sgd({.clipvalue = 0.1, .loss_scale_factor = 4.0});
  std::vector<at::Tensor> grads = tensors(kGrads[0]);
  std::vector<at::Tensor> copies = {grads[0].clone(), grads[1].clone()};
  std::vector<at::Tensor> w = tensors(kW0);
  sgd.apply(grads, w);
  CHECK(at::equal(grads[0], copies[0]));
  CHECK(at::equal(grads[1], copies[1]));
}

TEST_CASE("a schedule as learning_rate is evaluated at the update count", "[optimizers][options][schedule]") {
  optimizers::schedules::InverseTimeDecay schedule(0.5, 2, 1.0);
  optimizers::SGD sgd({.learning_rate = schedule});
  CHECK(sgd.learning_rate() == 0.5);
  check_steps(sgd, 4, [&](size_t t, const Vars& g, Vars& w) {
    sgd_step(w, g, 0.5 / (1.0 + static_cast<double>(t) / 2.0));
  });
  CHECK(sgd.learning_rate() == Approx(0.5 / 3.0));
  CHECK_THROWS_WITH(sgd.set_learning_rate(0.1), Contains("learning-rate schedule"));
  // A schedule may replace a constant, and a constant another constant.
  optimizers::Adam adam({.learning_rate = 0.1});
  adam.set_learning_rate(0.2);
  CHECK(adam.learning_rate() == 0.2);
  adam.set_learning_rate(optimizers::schedules::PiecewiseConstantDecay({0}, {0.3, 0.4}));
  CHECK(adam.learning_rate() == 0.3);
}

TEST_CASE("bad shared options give clear errors", "[optimizers][options][errors]") {
  CHECK_THROWS_WITH(optimizers::SGD({.clipnorm = 1.0, .clipvalue = 1.0}),
                    Contains("only one of clipnorm, clipvalue and global_clipnorm"));
  CHECK_THROWS_WITH(optimizers::Adam({.clipnorm = 1.0, .global_clipnorm = 1.0}), Contains("only one of"));
  CHECK_THROWS_WITH(optimizers::RMSprop({.clipvalue = 1.0, .global_clipnorm = 1.0}), Contains("only one of"));
  CHECK_THROWS_WITH(optimizers::SGD({.clipnorm = -1.0}), Contains("expected clipnorm >= 0"));
  CHECK_THROWS_WITH(optimizers::SGD({.weight_decay = -0.1}), Contains("weight_decay"));
  CHECK_THROWS_WITH(optimizers::SGD({.gradient_accumulation_steps = 1}),
                    Contains("gradient_accumulation_steps"));
  CHECK_THROWS_WITH(optimizers::SGD({.use_ema = true, .ema_momentum = 1.5}), Contains("ema_momentum"));
  CHECK_THROWS_WITH(optimizers::SGD({.use_ema = true, .ema_overwrite_frequency = -2}),
                    Contains("ema_overwrite_frequency"));
  CHECK_THROWS_WITH(optimizers::Adam({.loss_scale_factor = 0.0}), Contains("loss_scale_factor"));
  CHECK_THROWS_WITH(optimizers::SGD({.learning_rate = -1.0}),
                    Contains("SGD 'SGD': expected learning_rate >= 0"));
  CHECK_THROWS_AS(optimizers::SGD().build(tensors(kW0), {"only one name"}), ValueError);
}

TEST_CASE("shared options round-trip through get_config and from_config", "[optimizers][options][config]") {
  optimizers::Adam adam({.learning_rate = optimizers::schedules::CosineDecay(0.01, 100, {.alpha = 0.1}),
                         .beta_1 = 0.8,
                         .amsgrad = true,
                         .weight_decay = 0.004,
                         .global_clipnorm = 2.0,
                         .use_ema = true,
                         .ema_momentum = 0.95,
                         .ema_overwrite_frequency = 10,
                         .loss_scale_factor = 64.0,
                         .gradient_accumulation_steps = 4,
                         .name = "my_adam"});
  const nlohmann::json config = adam.get_config();
  CHECK(config.at("weight_decay") == 0.004);
  CHECK(config.at("clipnorm").is_null());
  CHECK(config.at("clipvalue").is_null());
  CHECK(config.at("global_clipnorm") == 2.0);
  CHECK(config.at("use_ema") == true);
  CHECK(config.at("ema_momentum") == 0.95);
  CHECK(config.at("ema_overwrite_frequency") == 10);
  CHECK(config.at("loss_scale_factor") == 64.0);
  CHECK(config.at("gradient_accumulation_steps") == 4);
  CHECK(config.at("learning_rate").at("class_name") == "CosineDecay");
  CHECK(config.at("learning_rate").at("config").at("alpha") == 0.1);
  CHECK(config.at("name") == "my_adam");
  const optimizers::Adam restored = optimizers::Adam::from_config(config);
  CHECK(restored.get_config() == config);

  SECTION("a plain SGD config has Keras' keys with nulls") {
    const nlohmann::json sgd = optimizers::SGD().get_config();
    for (const char* key : {"weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
                            "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps"})
      CHECK(sgd.at(key).is_null());
    CHECK(sgd.at("use_ema") == false);
    CHECK(sgd.at("ema_momentum") == 0.99);
    CHECK(optimizers::SGD::from_config(sgd).get_config() == sgd);
  }
  SECTION("a Keras config with only some keys fills in the defaults") {
    const auto rms =
        optimizers::RMSprop::from_config({{"learning_rate", 0.01}, {"centered", true}, {"clipnorm", 1.0}});
    CHECK(rms.get_config().at("rho") == 0.9);
    CHECK(rms.get_config().at("centered") == true);
    CHECK(rms.get_config().at("clipnorm") == 1.0);
    CHECK(rms.name() == "RMSprop");
  }
}

namespace {

// A trajectory-dependent problem: the gradient of sum((w - target)^2 * scale) at the current weights, so a
// resumed run only matches if every piece of state was restored.
std::vector<at::Tensor> quadratic_grads(const std::vector<at::Tensor>& w, int step) {
  std::vector<at::Tensor> grads;
  for (size_t v = 0; v < w.size(); ++v)
    grads.push_back(2.0 * (w[v] - 0.5) * (1.0 + 0.1 * static_cast<double>(step % 3)) +
                    0.01 * static_cast<double>(v));
  return grads;
}

void train(optimizers::Optimizer& optimizer, std::vector<at::Tensor>& w, int from, int to) {
  for (int step = from; step < to; ++step) optimizer.apply(quadratic_grads(w, step), w);
}

std::vector<at::Tensor> float_weights() {
  return {at::tensor(Vec{1.0, -2.0, 0.5}, at::kFloat),
          at::tensor(Vec{0.3, 4.0, -1.0, 2.0}, at::kFloat).reshape({2, 2})};
}

template <class Make>
void check_resume_is_exact(Make make) {
  constexpr int kBefore = 7, kAfter = 6;
  auto original = make();
  std::vector<at::Tensor> w = float_weights();
  train(*original, w, 0, 3);
  // A learning rate changed during training (as ReduceLROnPlateau does) is part of the state.
  if (!original->learning_rate_spec().is_schedule())
    original->set_learning_rate(original->learning_rate() * 0.5);
  train(*original, w, 3, kBefore);
  const std::vector<at::Tensor> state = original->get_state();
  const int64_t iterations_at_save = original->iterations();
  std::vector<at::Tensor> w_saved = {w[0].clone(), w[1].clone()};
  train(*original, w, kBefore, kBefore + kAfter);

  auto resumed = make();
  resumed->build(w_saved);
  resumed->set_state(state);
  CHECK(resumed->iterations() == iterations_at_save);
  train(*resumed, w_saved, kBefore, kBefore + kAfter);
  CHECK(resumed->iterations() == original->iterations());
  CHECK(at::equal(w[0], w_saved[0]));
  CHECK(at::equal(w[1], w_saved[1]));
  const auto final_original = original->get_state(), final_resumed = resumed->get_state();
  REQUIRE(final_original.size() == final_resumed.size());
  for (size_t i = 0; i < final_original.size(); ++i) CHECK(at::equal(final_original[i], final_resumed[i]));
}

}  // namespace

TEST_CASE("get_state / set_state resume a run bit for bit", "[optimizers][options][state]") {
  SECTION("Adam with amsgrad, EMA with overwrite, accumulation, decay, clipping") {
    check_resume_is_exact([] {
      return std::make_shared<optimizers::Adam>(optimizers::AdamOptions{.learning_rate = 0.05,
                                                                        .amsgrad = true,
                                                                        .weight_decay = 0.01,
                                                                        .clipnorm = 1.0,
                                                                        .use_ema = true,
                                                                        .ema_overwrite_frequency = 3,
                                                                        .gradient_accumulation_steps = 2});
    });
  }
  SECTION("SGD with Nesterov momentum and a schedule") {
    check_resume_is_exact([] {
      return std::make_shared<optimizers::SGD>(
          optimizers::SGDOptions{.learning_rate = optimizers::schedules::CosineDecayRestarts(0.1, 3),
                                 .momentum = 0.9,
                                 .nesterov = true});
    });
  }
  SECTION("centered RMSprop with momentum and global clipping") {
    check_resume_is_exact([] {
      return std::make_shared<optimizers::RMSprop>(optimizers::RMSpropOptions{
          .learning_rate = 0.01, .momentum = 0.5, .centered = true, .global_clipnorm = 2.0});
    });
  }
  SECTION("the state lists iterations, learning rate, then the slots in Keras 3's order") {
    optimizers::Adam adam;
    std::vector<at::Tensor> w = float_weights();
    train(adam, w, 0, 2);
    const auto state = adam.get_state();
    REQUIRE(state.size() == 2 + 4);
    CHECK(state[0].item<int64_t>() == 2);
    CHECK(state[1].item<double>() == 0.001);
    // variables() is slot by slot (m0 m1 v0 v1); Keras 3 creates each variable's momentum and velocity in turn.
    const auto slots = adam.variables();
    const std::vector<size_t> keras_order = {0, 2, 1, 3};
    for (size_t i = 0; i < slots.size(); ++i) CHECK(at::equal(state[2 + i], slots[keras_order[i]]));
  }
  SECTION("set_state checks what it gets") {
    optimizers::Adam adam;
    std::vector<at::Tensor> w = float_weights();
    train(adam, w, 0, 1);
    const auto state = adam.get_state();
    optimizers::Adam unbuilt;
    CHECK_THROWS_WITH(unbuilt.set_state(state),
                      Contains("build() the optimizer on the same variables first"));
    optimizers::Adam other;
    other.build({at::zeros({3}), at::zeros({4})});
    CHECK_THROWS_AS(other.set_state(state), ShapeError);
  }
}
