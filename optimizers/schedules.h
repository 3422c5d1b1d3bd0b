#pragma once
// Keras' learning-rate schedules (keras.optimizers.schedules): the learning rate as a function of the optimizer's
// step count, evaluated on the host in double precision once per update. Required arguments are positional,
// the rest go in an options struct, as layers do: `schedules::ExponentialDecay(0.1, 1000, 0.96, {.staircase = true})`.

#include <nlohmann/json_fwd.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace strata::optimizers {

namespace schedules {

class LearningRateSchedule {
 public:
  LearningRateSchedule(std::string class_name, std::string name);
  virtual ~LearningRateSchedule() = default;

  // The learning rate at optimizer step `step` (0 for the first update).
  virtual double operator()(int64_t step) const = 0;
  // Keras' constructor arguments under Keras' keys.
  virtual nlohmann::json get_config() const = 0;

  const std::string& class_name() const { return class_name_; }
  const std::string& name() const { return name_; }

 protected:
  std::string describe() const { return class_name_ + " '" + name_ + "'"; }

 private:
  std::string class_name_;
  std::string name_;
};

// {"module": "keras.optimizers.schedules", "class_name": ..., "config": ..., "registered_name": null}, as Keras 3.
nlohmann::json serialize(const LearningRateSchedule& schedule);
// Any built-in schedule from serialize()'s form (or tf.keras' {"class_name", "config"}).
std::shared_ptr<LearningRateSchedule> deserialize(const nlohmann::json& config);

// initial_learning_rate · decay_rate^(step / decay_steps); the exponent is floored when staircase.
struct ExponentialDecayOptions {
  bool staircase = false;
  std::string name = "ExponentialDecay";
};

class ExponentialDecay : public LearningRateSchedule {
 public:
  ExponentialDecay(double initial_learning_rate, int64_t decay_steps, double decay_rate,
                   ExponentialDecayOptions options = {});
  double operator()(int64_t step) const override;
  nlohmann::json get_config() const override;
  static ExponentialDecay from_config(const nlohmann::json& config);

 private:
  double initial_learning_rate_;
  int64_t decay_steps_;
  double decay_rate_;
  ExponentialDecayOptions options_;
};

// initial_learning_rate / (1 + decay_rate · step / decay_steps); the quotient is floored when staircase.
struct InverseTimeDecayOptions {
  bool staircase = false;
  std::string name = "InverseTimeDecay";
};

class InverseTimeDecay : public LearningRateSchedule {
 public:
  InverseTimeDecay(double initial_learning_rate, int64_t decay_steps, double decay_rate,
                   InverseTimeDecayOptions options = {});
  double operator()(int64_t step) const override;
  nlohmann::json get_config() const override;
  static InverseTimeDecay from_config(const nlohmann::json& config);

 private:
  double initial_learning_rate_;
  int64_t decay_steps_;
  double decay_rate_;
  InverseTimeDecayOptions options_;
};

// values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], values.back()
// after the last boundary.
struct PiecewiseConstantDecayOptions {
  std::string name = "PiecewiseConstant";
};

class PiecewiseConstantDecay : public LearningRateSchedule {
 public:
  PiecewiseConstantDecay(std::vector<int64_t> boundaries, std::vector<double> values,
                         PiecewiseConstantDecayOptions options = {});
  double operator()(int64_t step) const override;
  nlohmann::json get_config() const override;
  static PiecewiseConstantDecay from_config(const nlohmann::json& config);

 private:
  std::vector<int64_t> boundaries_;
  std::vector<double> values_;
  PiecewiseConstantDecayOptions options_;
};

// (initial - end) · (1 - step / decay_steps)^power + end, with step capped at decay_steps; with cycle, decay_steps
// grows to the first multiple of itself not below step.
struct PolynomialDecayOptions {
  double end_learning_rate = 0.0001;
  double power = 1.0;
  bool cycle = false;
  std::string name = "PolynomialDecay";
};

class PolynomialDecay : public LearningRateSchedule {
 public:
  PolynomialDecay(double initial_learning_rate, int64_t decay_steps, PolynomialDecayOptions options = {});
  double operator()(int64_t step) const override;
  nlohmann::json get_config() const override;
  static PolynomialDecay from_config(const nlohmann::json& config);

 private:
  double initial_learning_rate_;
  int64_t decay_steps_;
  PolynomialDecayOptions options_;
};

// Optional linear warmup from initial_learning_rate to warmup_target over warmup_steps, then cosine decay from
// warmup_target (or initial_learning_rate without warmup) to alpha times it over decay_steps, then constant.
struct CosineDecayOptions {
  double alpha = 0.0;
  std::string name = "CosineDecay";
  std::optional<double> warmup_target = std::nullopt;
  int64_t warmup_steps = 0;
};

class CosineDecay : public LearningRateSchedule {
 public:
  CosineDecay(double initial_learning_rate, int64_t decay_steps, CosineDecayOptions options = {});
  double operator()(int64_t step) const override;
  nlohmann::json get_config() const override;
  static CosineDecay from_config(const nlohmann::json& config);

 private:
  double initial_learning_rate_;
  int64_t decay_steps_;
  CosineDecayOptions options_;
};

// SGDR: cosine decay from 1 to alpha over first_decay_steps, then a warm restart; period i lasts
// first_decay_steps · t_mul^i steps and starts at m_mul^i times the initial learning rate.
struct CosineDecayRestartsOptions {
  double t_mul = 2.0;
  double m_mul = 1.0;
  double alpha = 0.0;
  std::string name = "SGDRDecay";
};

class CosineDecayRestarts : public LearningRateSchedule {
 public:
  CosineDecayRestarts(double initial_learning_rate, int64_t first_decay_steps, CosineDecayRestartsOptions options = {});
  double operator()(int64_t step) const override;
  nlohmann::json get_config() const override;
  static CosineDecayRestarts from_config(const nlohmann::json& config);

 private:
  double initial_learning_rate_;
  int64_t first_decay_steps_;
  CosineDecayRestartsOptions options_;
};

}  // namespace schedules

// An optimizer's `learning_rate` argument: a number or a schedule, as Keras accepts either.
// `.learning_rate = 1e-3` or `.learning_rate = schedules::CosineDecay(1e-3, 1000)`.
class LearningRate {
 public:
  LearningRate(double value) : value_(value) {}  // NOLINT: implicit so a number reads as in Keras

  template <class T>
    requires std::derived_from<std::decay_t<T>, schedules::LearningRateSchedule>
  LearningRate(T&& schedule)  // NOLINT: implicit so a schedule object reads as in Keras
      : schedule_(std::make_shared<std::decay_t<T>>(std::forward<T>(schedule))) {}

  LearningRate(std::shared_ptr<schedules::LearningRateSchedule> schedule);  // NOLINT

  bool is_schedule() const { return static_cast<bool>(schedule_); }
  // The learning rate at `step`: the constant, or the schedule's value.
  double at(int64_t step) const { return schedule_ ? (*schedule_)(step) : value_; }
  const std::shared_ptr<schedules::LearningRateSchedule>& schedule() const { return schedule_; }

  // The number itself, or serialize(schedule), as Keras writes `learning_rate` in an optimizer's config.
  nlohmann::json to_json() const;
  static LearningRate from_json(const nlohmann::json& value);

 private:
  double value_ = 0.0;
  std::shared_ptr<schedules::LearningRateSchedule> schedule_;
};

}  // namespace strata::optimizers
