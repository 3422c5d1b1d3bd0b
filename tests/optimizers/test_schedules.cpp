// Learning-rate schedules: values at chosen steps against each formula (written out here, or worked by hand),
// Keras' config keys, serialize/deserialize round trips, and argument errors.

#include <strata/core/error.h>
#include <strata/optimizers/schedules.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

using namespace strata;
using namespace strata::optimizers::schedules;
using Catch::Matchers::Contains;

namespace {

constexpr double kPi = std::numbers::pi;

// serialize -> deserialize gives a schedule with the same config and the same values.
void check_round_trip(const LearningRateSchedule& schedule) {
  const nlohmann::json serialized = serialize(schedule);
  CHECK(serialized.at("module") == "keras.optimizers.schedules");
  CHECK(serialized.at("class_name") == schedule.class_name());
  const auto restored = deserialize(serialized);
  CHECK(restored->class_name() == schedule.class_name());
  CHECK(restored->get_config() == schedule.get_config());
  for (int64_t step : {0, 1, 7, 50, 123, 1000}) CHECK((*restored)(step) == schedule(step));
}

}  // namespace

TEST_CASE("ExponentialDecay: lr0 * rate^(step / decay_steps)", "[optimizers][schedules]") {
  const ExponentialDecay smooth(0.1, 100, 0.96);
  const ExponentialDecay stairs(0.1, 100, 0.96, {.staircase = true});
  for (int64_t step : {0, 1, 50, 100, 250, 1000}) {
    INFO("step " << step);
    CHECK(smooth(step) == Approx(0.1 * std::pow(0.96, step / 100.0)).epsilon(1e-14));
    CHECK(stairs(step) == Approx(0.1 * std::pow(0.96, std::floor(step / 100.0))).epsilon(1e-14));
  }
  CHECK(stairs(250) == Approx(0.1 * 0.96 * 0.96));  // by hand: two whole periods
  CHECK(stairs(99) == 0.1);
  const nlohmann::json config = stairs.get_config();
  CHECK(config == nlohmann::json{{"initial_learning_rate", 0.1},
                                 {"decay_steps", 100},
                                 {"decay_rate", 0.96},
                                 {"staircase", true},
                                 {"name", "ExponentialDecay"}});
  check_round_trip(smooth);
  check_round_trip(stairs);
}

TEST_CASE("InverseTimeDecay: lr0 / (1 + rate * step / decay_steps)", "[optimizers][schedules]") {
  const InverseTimeDecay smooth(0.1, 10, 0.5);
  const InverseTimeDecay stairs(0.1, 10, 0.5, {.staircase = true});
  for (int64_t step : {0, 5, 10, 15, 40}) {
    INFO("step " << step);
    CHECK(smooth(step) == Approx(0.1 / (1.0 + 0.5 * step / 10.0)).epsilon(1e-14));
    CHECK(stairs(step) == Approx(0.1 / (1.0 + 0.5 * std::floor(step / 10.0))).epsilon(1e-14));
  }
  CHECK(smooth(20) == Approx(0.05));  // by hand: 0.1 / (1 + 0.5 * 2)
  CHECK(stairs(19) == Approx(0.1 / 1.5));
  CHECK(stairs.get_config().at("staircase") == true);
  CHECK(stairs.get_config().at("name") == "InverseTimeDecay");
  check_round_trip(stairs);
}

TEST_CASE("PiecewiseConstantDecay: one value per interval between boundaries", "[optimizers][schedules]") {
  const PiecewiseConstantDecay schedule({100, 110}, {1.0, 0.5, 0.1});
  CHECK(schedule(0) == 1.0);
  CHECK(schedule(100) == 1.0);
  CHECK(schedule(101) == 0.5);
  CHECK(schedule(110) == 0.5);
  CHECK(schedule(111) == 0.1);
  CHECK(schedule(100000) == 0.1);
  CHECK(schedule.get_config() == nlohmann::json{{"boundaries", {100, 110}},
                                                {"values", {1.0, 0.5, 0.1}},
                                                {"name", "PiecewiseConstant"}});
  CHECK(schedule.class_name() == "PiecewiseConstantDecay");
  check_round_trip(schedule);
  CHECK_THROWS_WITH(PiecewiseConstantDecay({1, 2}, {1.0, 0.5}), Contains("1 less than the length of values"));
  CHECK_THROWS_WITH(PiecewiseConstantDecay({5, 5}, {1.0, 0.5, 0.1}), Contains("strictly increasing"));
}

TEST_CASE("PolynomialDecay: (lr0 - end) * (1 - step/decay_steps)^power + end", "[optimizers][schedules]") {
  const PolynomialDecay plain(0.1, 10, {.end_learning_rate = 0.01, .power = 2.0});
  const PolynomialDecay cycle(0.1, 10, {.end_learning_rate = 0.01, .power = 2.0, .cycle = true});
  const auto formula = [](double step, double decay_steps) {
    return 0.09 * std::pow(1.0 - step / decay_steps, 2.0) + 0.01;
  };
  for (int64_t step : {0, 3, 5, 10}) {
    CHECK(plain(step) == Approx(formula(static_cast<double>(step), 10.0)).epsilon(1e-14));
    CHECK(cycle(step) == Approx(formula(static_cast<double>(step), 10.0)).epsilon(1e-14));
  }
  CHECK(plain(5) == Approx(0.0325));  // by hand: 0.09 * 0.25 + 0.01
  CHECK(plain(15) == Approx(0.01));   // held at the end value
  CHECK(plain(1000) == Approx(0.01));
  // With cycle, decay_steps becomes the first multiple of 10 not below the step: 20 at step 15, 30 at
  // step 21.
  CHECK(cycle(15) == Approx(formula(15, 20)).epsilon(1e-14));
  CHECK(cycle(15) == Approx(0.015625));  // by hand: 0.09 * 0.25^2 + 0.01
  CHECK(cycle(21) == Approx(formula(21, 30)).epsilon(1e-14));
  CHECK(cycle(20) == Approx(0.01));
  const PolynomialDecay defaults(0.5, 100);
  CHECK(defaults.get_config() == nlohmann::json{{"initial_learning_rate", 0.5},
                                                {"decay_steps", 100},
                                                {"end_learning_rate", 0.0001},
                                                {"power", 1.0},
                                                {"cycle", false},
                                                {"name", "PolynomialDecay"}});
  CHECK(defaults(50) == Approx((0.5 - 0.0001) * 0.5 + 0.0001));
  check_round_trip(cycle);
}

TEST_CASE("CosineDecay with and without warmup", "[optimizers][schedules]") {
  SECTION("without warmup: lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha)") {
    const CosineDecay schedule(0.1, 100, {.alpha = 0.2});
    for (int64_t step : {0, 1, 25, 50, 99, 100, 500}) {
      const double t = std::min<double>(static_cast<double>(step), 100.0);
      CHECK(schedule(step) ==
            Approx(0.1 * (0.8 * 0.5 * (1 + std::cos(kPi * t / 100.0)) + 0.2)).epsilon(1e-14));
    }
    CHECK(schedule(50) == Approx(0.1 * (0.8 * 0.5 + 0.2)));  // by hand: cos(pi/2) = 0
    CHECK(schedule(100) == Approx(0.02));                    // alpha * lr0
  }
  SECTION("warmup from lr0 to warmup_target over warmup_steps, then decay from warmup_target") {
    const CosineDecay schedule(0.0, 20, {.alpha = 0.1, .warmup_target = 0.1, .warmup_steps = 10});
    CHECK(schedule(0) == 0.0);
    CHECK(schedule(5) == Approx(0.05));
    CHECK(schedule(9) == Approx(0.09));
    CHECK(schedule(10) == Approx(0.1));
    CHECK(schedule(20) == Approx(0.1 * (0.9 * 0.5 + 0.1)));  // halfway through the decay
    CHECK(schedule(30) == Approx(0.01));
    CHECK(schedule(1000) == Approx(0.01));
    const nlohmann::json config = schedule.get_config();
    CHECK(config.at("warmup_target") == 0.1);
    CHECK(config.at("warmup_steps") == 10);
    check_round_trip(schedule);
  }
  SECTION("config keys, with warmup_target null when unset") {
    const CosineDecay schedule(0.1, 100);
    CHECK(schedule.get_config() == nlohmann::json{{"initial_learning_rate", 0.1},
                                                  {"decay_steps", 100},
                                                  {"alpha", 0.0},
                                                  {"name", "CosineDecay"},
                                                  {"warmup_target", nullptr},
                                                  {"warmup_steps", 0}});
    check_round_trip(schedule);
  }
}

namespace {

// SGDR written period by period: walk the restarts until the one containing `step`.
double sgdr_reference(double lr0, double first, double t_mul, double m_mul, double alpha, int64_t step) {
  double start = 0.0, length = first;
  int restart = 0;
  while (static_cast<double>(step) >= start + length) {
    start += length;
    length *= t_mul;
    ++restart;
  }
  const double fraction = (static_cast<double>(step) - start) / length;
  const double cosine = 0.5 * std::pow(m_mul, restart) * (1.0 + std::cos(kPi * fraction));
  return lr0 * ((1.0 - alpha) * cosine + alpha);
}

}  // namespace

TEST_CASE("CosineDecayRestarts: periods of first * t_mul^i steps starting at m_mul^i",
          "[optimizers][schedules]") {
  SECTION("t_mul 2, m_mul 0.5, alpha 0.1") {
    const CosineDecayRestarts schedule(0.1, 10, {.t_mul = 2.0, .m_mul = 0.5, .alpha = 0.1});
    for (int64_t step : {0, 1, 5, 9, 10, 11, 20, 29, 30, 45, 69, 70, 100}) {
      INFO("step " << step);
      CHECK(schedule(step) == Approx(sgdr_reference(0.1, 10, 2.0, 0.5, 0.1, step)).epsilon(1e-12));
    }
    // By hand: restarts at steps 10 and 30 begin at 0.5 and 0.25 of the initial rate.
    CHECK(schedule(10) == Approx(0.1 * (0.9 * 0.5 + 0.1)));
    CHECK(schedule(30) == Approx(0.1 * (0.9 * 0.25 + 0.1)));
    CHECK(schedule(20) ==
          Approx(0.1 * (0.9 * 0.5 * 0.5 + 0.1)));  // halfway through the 20-step second period
  }
  SECTION("t_mul 1: equal periods") {
    const CosineDecayRestarts schedule(0.2, 8, {.t_mul = 1.0, .m_mul = 0.9});
    for (int64_t step : {0, 4, 7, 8, 12, 16, 33})
      CHECK(schedule(step) == Approx(sgdr_reference(0.2, 8, 1.0, 0.9, 0.0, step)).epsilon(1e-12));
    CHECK(schedule(16) == Approx(0.2 * 0.81));
  }
  SECTION("t_mul 3") {
    const CosineDecayRestarts schedule(1.0, 5, {.t_mul = 3.0, .alpha = 0.05});
    for (int64_t step : {0, 3, 6, 17, 21, 40, 66})
      CHECK(schedule(step) == Approx(sgdr_reference(1.0, 5, 3.0, 1.0, 0.05, step)).epsilon(1e-12));
  }
  const CosineDecayRestarts defaults(0.1, 100);
  CHECK(defaults.get_config() == nlohmann::json{{"initial_learning_rate", 0.1},
                                                {"first_decay_steps", 100},
                                                {"t_mul", 2.0},
                                                {"m_mul", 1.0},
                                                {"alpha", 0.0},
                                                {"name", "SGDRDecay"}});
  check_round_trip(defaults);
}

TEST_CASE("deserialize reads Keras' own JSON", "[optimizers][schedules]") {
  // As Keras documents it (name null, a float step count written by Python).
  const auto schedule = deserialize(nlohmann::json::parse(R"({
    "class_name": "PolynomialDecay",
    "config": {"cycle": false, "decay_steps": 10000.0, "end_learning_rate": 0.01,
               "initial_learning_rate": 0.1, "name": null, "power": 0.5}})"));
  CHECK(schedule->class_name() == "PolynomialDecay");
  CHECK((*schedule)(2500) == Approx(0.09 * std::sqrt(0.75) + 0.01));
  CHECK(schedule->name() == "PolynomialDecay");
}

TEST_CASE("schedule argument and config errors", "[optimizers][schedules][errors]") {
  CHECK_THROWS_WITH(ExponentialDecay(0.1, 0, 0.9), Contains("decay_steps must be > 0"));
  CHECK_THROWS_WITH(InverseTimeDecay(0.1, -1, 0.9), Contains("decay_steps must be > 0"));
  CHECK_THROWS_WITH(PolynomialDecay(0.1, 0), Contains("decay_steps must be > 0"));
  CHECK_THROWS_WITH(CosineDecay(0.1, 0),
                    Contains("CosineDecay 'CosineDecay': argument decay_steps must be > 0"));
  CHECK_THROWS_WITH(CosineDecay(0.1, 10, {.warmup_steps = -1}), Contains("warmup_steps"));
  CHECK_THROWS_WITH(CosineDecayRestarts(0.1, 0), Contains("first_decay_steps must be > 0"));
  CHECK_THROWS_WITH(deserialize({{"class_name", "Nope"}, {"config", nlohmann::json::object()}}),
                    Contains("unknown learning-rate schedule 'Nope'"));
  CHECK_THROWS_WITH(deserialize({{"class_name", "ExponentialDecay"}, {"config", {{"decay_steps", 10}}}}),
                    Contains("bad ExponentialDecay config"));
  CHECK_THROWS_WITH(deserialize(nlohmann::json(3.0)), Contains("expected {\"class_name\""));
  CHECK_THROWS_WITH(
      deserialize({{"class_name", "ExponentialDecay"},
                   {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 2.5}, {"decay_rate", 0.5}}}}),
      Contains("whole number of steps"));
}
