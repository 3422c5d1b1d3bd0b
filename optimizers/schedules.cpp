#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/optimizers/schedules.h>

#include <cmath>
#include <functional>
#include <map>
#include <numbers>
#include <sstream>

namespace strata::optimizers {

namespace schedules {

namespace {

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

void check_steps(const std::string& owner, const char* key, int64_t steps) {
  if (steps <= 0) throw ValueError(owner + ": argument " + key + " must be > 0, got " + std::to_string(steps));
}

// A step count from a config: an integer, or a float with an integral value (Python writes 1000.0 for a float).
int64_t read_steps(const nlohmann::json& config, const char* key) {
  const nlohmann::json& value = config.at(key);
  if (value.is_number_integer()) return value.get<int64_t>();
  const double steps = value.get<double>();
  if (steps != std::floor(steps))
    throw ValueError(std::string("schedule config: ") + key + " must be a whole number of steps, got " + number(steps));
  return static_cast<int64_t>(steps);
}

template <class T>
void read(const nlohmann::json& config, const char* key, T& out) {
  if (config.contains(key) && !config.at(key).is_null()) out = config.at(key).get<T>();
}

}  // namespace

LearningRateSchedule::LearningRateSchedule(std::string class_name, std::string name)
    : class_name_(std::move(class_name)), name_(std::move(name)) {}

// ---------------------------------------------------------------------------------------------------------------

ExponentialDecay::ExponentialDecay(double initial_learning_rate, int64_t decay_steps, double decay_rate,
                                   ExponentialDecayOptions options)
    : LearningRateSchedule("ExponentialDecay", options.name),
      initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      decay_rate_(decay_rate),
      options_(std::move(options)) {
  check_steps(describe(), "decay_steps", decay_steps_);
}

double ExponentialDecay::operator()(int64_t step) const {
  double p = static_cast<double>(step) / static_cast<double>(decay_steps_);
  if (options_.staircase) p = std::floor(p);
  return initial_learning_rate_ * std::pow(decay_rate_, p);
}

nlohmann::json ExponentialDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"decay_rate", decay_rate_},
          {"staircase", options_.staircase},
          {"name", name()}};
}

ExponentialDecay ExponentialDecay::from_config(const nlohmann::json& config) {
  ExponentialDecayOptions options;
  read(config, "staircase", options.staircase);
  read(config, "name", options.name);
  return ExponentialDecay(config.at("initial_learning_rate").get<double>(), read_steps(config, "decay_steps"),
                          config.at("decay_rate").get<double>(), std::move(options));
}

// ---------------------------------------------------------------------------------------------------------------

InverseTimeDecay::InverseTimeDecay(double initial_learning_rate, int64_t decay_steps, double decay_rate,
                                   InverseTimeDecayOptions options)
    : LearningRateSchedule("InverseTimeDecay", options.name),
      initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      decay_rate_(decay_rate),
      options_(std::move(options)) {
  check_steps(describe(), "decay_steps", decay_steps_);
}

double InverseTimeDecay::operator()(int64_t step) const {
  double p = static_cast<double>(step) / static_cast<double>(decay_steps_);
  if (options_.staircase) p = std::floor(p);
  return initial_learning_rate_ / (1.0 + decay_rate_ * p);
}

nlohmann::json InverseTimeDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"decay_rate", decay_rate_},
          {"staircase", options_.staircase},
          {"name", name()}};
}

InverseTimeDecay InverseTimeDecay::from_config(const nlohmann::json& config) {
  InverseTimeDecayOptions options;
  read(config, "staircase", options.staircase);
  read(config, "name", options.name);
  return InverseTimeDecay(config.at("initial_learning_rate").get<double>(), read_steps(config, "decay_steps"),
                          config.at("decay_rate").get<double>(), std::move(options));
}

// ---------------------------------------------------------------------------------------------------------------

PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<int64_t> boundaries, std::vector<double> values,
                                               PiecewiseConstantDecayOptions options)
    : LearningRateSchedule("PiecewiseConstantDecay", options.name),
      boundaries_(std::move(boundaries)),
      values_(std::move(values)),
      options_(std::move(options)) {
  if (boundaries_.size() + 1 != values_.size())
    throw ValueError(describe() + ": the length of boundaries should be 1 less than the length of values; got " +
                     std::to_string(boundaries_.size()) + " boundaries and " + std::to_string(values_.size()) +
                     " values");
  for (size_t i = 1; i < boundaries_.size(); ++i)
    if (boundaries_[i] <= boundaries_[i - 1])
      throw ValueError(describe() + ": boundaries must be strictly increasing, got " +
                       std::to_string(boundaries_[i - 1]) + " then " + std::to_string(boundaries_[i]));
}

double PiecewiseConstantDecay::operator()(int64_t step) const {
  size_t interval = 0;
  while (interval < boundaries_.size() && step > boundaries_[interval]) ++interval;
  return values_[interval];
}

nlohmann::json PiecewiseConstantDecay::get_config() const {
  return {{"boundaries", boundaries_}, {"values", values_}, {"name", name()}};
}

PiecewiseConstantDecay PiecewiseConstantDecay::from_config(const nlohmann::json& config) {
  PiecewiseConstantDecayOptions options;
  read(config, "name", options.name);
  std::vector<int64_t> boundaries;
  for (const auto& boundary : config.at("boundaries")) boundaries.push_back(boundary.get<int64_t>());
  return PiecewiseConstantDecay(std::move(boundaries), config.at("values").get<std::vector<double>>(),
                                std::move(options));
}

// ---------------------------------------------------------------------------------------------------------------

PolynomialDecay::PolynomialDecay(double initial_learning_rate, int64_t decay_steps, PolynomialDecayOptions options)
    : LearningRateSchedule("PolynomialDecay", options.name),
      initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      options_(std::move(options)) {
  check_steps(describe(), "decay_steps", decay_steps_);
}

double PolynomialDecay::operator()(int64_t step) const {
  double t = static_cast<double>(step);
  double decay_steps = static_cast<double>(decay_steps_);
  if (options_.cycle) {
    // The first multiple of decay_steps not below step (1 × decay_steps at step 0).
    decay_steps *= step == 0 ? 1.0 : std::ceil(t / decay_steps);
  } else {
    t = std::min(t, decay_steps);
  }
  const double p = t / decay_steps;
  return (initial_learning_rate_ - options_.end_learning_rate) * std::pow(1.0 - p, options_.power) +
         options_.end_learning_rate;
}

nlohmann::json PolynomialDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"end_learning_rate", options_.end_learning_rate},
          {"power", options_.power},
          {"cycle", options_.cycle},
          {"name", name()}};
}

PolynomialDecay PolynomialDecay::from_config(const nlohmann::json& config) {
  PolynomialDecayOptions options;
  read(config, "end_learning_rate", options.end_learning_rate);
  read(config, "power", options.power);
  read(config, "cycle", options.cycle);
  read(config, "name", options.name);
  return PolynomialDecay(config.at("initial_learning_rate").get<double>(), read_steps(config, "decay_steps"),
                         std::move(options));
}

// ---------------------------------------------------------------------------------------------------------------

CosineDecay::CosineDecay(double initial_learning_rate, int64_t decay_steps, CosineDecayOptions options)
    : LearningRateSchedule("CosineDecay", options.name),
      initial_learning_rate_(initial_learning_rate),
      decay_steps_(decay_steps),
      options_(std::move(options)) {
  check_steps(describe(), "decay_steps", decay_steps_);
  if (options_.warmup_steps < 0)
    throw ValueError(describe() + ": warmup_steps must be >= 0, got " + std::to_string(options_.warmup_steps));
}

double CosineDecay::operator()(int64_t step) const {
  const double decay_steps = static_cast<double>(decay_steps_);
  const auto decayed = [&](double t, double from) {
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * t / decay_steps));
    return from * ((1.0 - options_.alpha) * cosine + options_.alpha);
  };
  double t = static_cast<double>(step);
  if (!options_.warmup_target) return decayed(std::min(t, decay_steps), initial_learning_rate_);
  const double warmup_steps = static_cast<double>(options_.warmup_steps);
  t = std::min(t, decay_steps + warmup_steps);
  if (t < warmup_steps)
    return (*options_.warmup_target - initial_learning_rate_) * (t / warmup_steps) + initial_learning_rate_;
  return decayed(t - warmup_steps, *options_.warmup_target);
}

nlohmann::json CosineDecay::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"decay_steps", decay_steps_},
          {"alpha", options_.alpha},
          {"name", name()},
          {"warmup_target", options_.warmup_target ? nlohmann::json(*options_.warmup_target) : nlohmann::json()},
          {"warmup_steps", options_.warmup_steps}};
}

CosineDecay CosineDecay::from_config(const nlohmann::json& config) {
  CosineDecayOptions options;
  read(config, "alpha", options.alpha);
  read(config, "name", options.name);
  if (config.contains("warmup_target") && !config.at("warmup_target").is_null())
    options.warmup_target = config.at("warmup_target").get<double>();
  if (config.contains("warmup_steps")) options.warmup_steps = read_steps(config, "warmup_steps");
  return CosineDecay(config.at("initial_learning_rate").get<double>(), read_steps(config, "decay_steps"),
                     std::move(options));
}

// ---------------------------------------------------------------------------------------------------------------

CosineDecayRestarts::CosineDecayRestarts(double initial_learning_rate, int64_t first_decay_steps,
                                         CosineDecayRestartsOptions options)
    : LearningRateSchedule("CosineDecayRestarts", options.name),
      initial_learning_rate_(initial_learning_rate),
      first_decay_steps_(first_decay_steps),
      options_(std::move(options)) {
  check_steps(describe(), "first_decay_steps", first_decay_steps_);
  if (!(options_.t_mul > 0.0))
    throw ValueError(describe() + ": t_mul must be > 0, got " + number(options_.t_mul));
}

double CosineDecayRestarts::operator()(int64_t step) const {
  double fraction = static_cast<double>(step) / static_cast<double>(first_decay_steps_);
  double restart;
  const double t_mul = options_.t_mul;
  if (t_mul == 1.0) {
    restart = std::floor(fraction);
    fraction -= restart;
  } else {
    // Periods grow geometrically: restart i begins at fraction (1 - t_mul^i) / (1 - t_mul).
    restart = std::floor(std::log(1.0 - fraction * (1.0 - t_mul)) / std::log(t_mul));
    const double completed = (1.0 - std::pow(t_mul, restart)) / (1.0 - t_mul);
    fraction = (fraction - completed) / std::pow(t_mul, restart);
  }
  const double cosine = 0.5 * std::pow(options_.m_mul, restart) * (1.0 + std::cos(std::numbers::pi * fraction));
  return initial_learning_rate_ * ((1.0 - options_.alpha) * cosine + options_.alpha);
}

nlohmann::json CosineDecayRestarts::get_config() const {
  return {{"initial_learning_rate", initial_learning_rate_},
          {"first_decay_steps", first_decay_steps_},
          {"t_mul", options_.t_mul},
          {"m_mul", options_.m_mul},
          {"alpha", options_.alpha},
          {"name", name()}};
}

CosineDecayRestarts CosineDecayRestarts::from_config(const nlohmann::json& config) {
  CosineDecayRestartsOptions options;
  read(config, "t_mul", options.t_mul);
  read(config, "m_mul", options.m_mul);
  read(config, "alpha", options.alpha);
  read(config, "name", options.name);
  return CosineDecayRestarts(config.at("initial_learning_rate").get<double>(), read_steps(config, "first_decay_steps"),
                             std::move(options));
}

// ---------------------------------------------------------------------------------------------------------------

nlohmann::json serialize(const LearningRateSchedule& schedule) {
  return {{"module", "keras.optimizers.schedules"},
          {"class_name", schedule.class_name()},
          {"config", schedule.get_config()},
          {"registered_name", nullptr}};
}

std::shared_ptr<LearningRateSchedule> deserialize(const nlohmann::json& config) {
  using Factory = std::function<std::shared_ptr<LearningRateSchedule>(const nlohmann::json&)>;
  static const std::map<std::string, Factory> factories = {
      {"ExponentialDecay", [](const auto& c) { return std::make_shared<ExponentialDecay>(ExponentialDecay::from_config(c)); }},
      {"InverseTimeDecay", [](const auto& c) { return std::make_shared<InverseTimeDecay>(InverseTimeDecay::from_config(c)); }},
      {"PiecewiseConstantDecay",
       [](const auto& c) { return std::make_shared<PiecewiseConstantDecay>(PiecewiseConstantDecay::from_config(c)); }},
      {"PolynomialDecay", [](const auto& c) { return std::make_shared<PolynomialDecay>(PolynomialDecay::from_config(c)); }},
      {"CosineDecay", [](const auto& c) { return std::make_shared<CosineDecay>(CosineDecay::from_config(c)); }},
      {"CosineDecayRestarts",
       [](const auto& c) { return std::make_shared<CosineDecayRestarts>(CosineDecayRestarts::from_config(c)); }},
  };
  if (!config.is_object() || !config.contains("class_name") || !config.contains("config"))
    throw ValueError("schedules::deserialize: expected {\"class_name\": ..., \"config\": {...}}, got " + config.dump());
  const std::string class_name = config.at("class_name").get<std::string>();
  auto it = factories.find(class_name);
  if (it == factories.end()) {
    std::string known;
    for (const auto& entry : factories) known += (known.empty() ? "" : ", ") + entry.first;
    throw ValueError("schedules::deserialize: unknown learning-rate schedule '" + class_name +
                     "'; expected one of: " + known);
  }
  try {
    return it->second(config.at("config"));
  } catch (const nlohmann::json::exception& error) {
    throw ValueError("schedules::deserialize: bad " + class_name + " config " + config.at("config").dump() + " (" +
                     error.what() + ")");
  }
}

}  // namespace schedules

LearningRate::LearningRate(std::shared_ptr<schedules::LearningRateSchedule> schedule) : schedule_(std::move(schedule)) {
  if (!schedule_) throw ValueError("learning_rate: expected a number or a schedule, got a null schedule pointer");
}

nlohmann::json LearningRate::to_json() const {
  if (schedule_) return schedules::serialize(*schedule_);
  return value_;
}

LearningRate LearningRate::from_json(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  return schedules::deserialize(value);
}

}  // namespace strata::optimizers
