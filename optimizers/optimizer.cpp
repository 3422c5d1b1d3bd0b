#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/core/registry.h>
#include <strata/core/shape.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/optimizer.h>
#include <strata/optimizers/rmsprop.h>
#include <strata/optimizers/sgd.h>
#include <strata/optimizers/adamw.h>
#include <strata/optimizers/adamax.h>
#include <strata/optimizers/nadam.h>
#include <strata/optimizers/adagrad.h>
#include <strata/optimizers/adadelta.h>
#include <strata/optimizers/ftrl.h>
#include <strata/optimizers/lion.h>
#include <strata/optimizers/adafactor.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>

namespace strata::optimizers {

namespace {

template <class T>
nlohmann::json optional_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// Keeps `out` when the key is absent or null (Keras writes None as null).
template <class T>
void read_field(const nlohmann::json& config, const char* key, T& out) {
  if (config.contains(key) && !config.at(key).is_null()) out = config.at(key).get<T>();
}

template <class T>
void read_field(const nlohmann::json& config, const char* key, std::optional<T>& out) {
  if (config.contains(key) && !config.at(key).is_null()) out = config.at(key).get<T>();
}

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string optional_text(const std::optional<double>& value) { return value ? number(*value) : "None"; }

void check_learning_rate(const std::string& owner, double learning_rate) {
  if (!(learning_rate >= 0.0))
    throw ValueError(owner + ": expected learning_rate >= 0, got " + number(learning_rate));
}

}  // namespace

OptimizerOptions common_options_from_config(const nlohmann::json& config, OptimizerOptions defaults) {
  OptimizerOptions options = std::move(defaults);
  if (config.contains("learning_rate")) options.learning_rate = LearningRate::from_json(config.at("learning_rate"));
  read_field(config, "name", options.name);
#define STRATA_OPTIMIZER_READ_FIELD(type, field, default_value) read_field(config, #field, options.field);
  STRATA_OPTIMIZER_COMMON_FIELDS(STRATA_OPTIMIZER_READ_FIELD)
#undef STRATA_OPTIMIZER_READ_FIELD
  return options;
}

Optimizer::Optimizer(std::string class_name, OptimizerOptions options)
    : class_name_(std::move(class_name)),
      name_(std::move(options.name)),
      learning_rate_(options.learning_rate),
      weight_decay_(options.weight_decay),
      clipnorm_(options.clipnorm),
      clipvalue_(options.clipvalue),
      global_clipnorm_(options.global_clipnorm),
      use_ema_(options.use_ema),
      ema_momentum_(options.ema_momentum),
      ema_overwrite_frequency_(options.ema_overwrite_frequency),
      loss_scale_factor_(options.loss_scale_factor),
      gradient_accumulation_steps_(options.gradient_accumulation_steps) {
  validate_options();
}

Optimizer::Optimizer(std::string class_name, std::string name, double learning_rate)
    : Optimizer(std::move(class_name), OptimizerOptions{.learning_rate = learning_rate, .name = std::move(name)}) {}

void Optimizer::validate_options() const {
  if (!learning_rate_.is_schedule()) check_learning_rate(describe(), learning_rate_.at(0));
  const int clip_options = clipnorm_.has_value() + clipvalue_.has_value() + global_clipnorm_.has_value();
  if (clip_options > 1)
    throw ValueError(describe() + ": only one of clipnorm, clipvalue and global_clipnorm can be set; got clipnorm=" +
                     optional_text(clipnorm_) + ", clipvalue=" + optional_text(clipvalue_) +
                     ", global_clipnorm=" + optional_text(global_clipnorm_));
  const std::pair<const char*, const std::optional<double>*> non_negative[] = {
      {"weight_decay", &weight_decay_}, {"clipnorm", &clipnorm_}, {"clipvalue", &clipvalue_},
      {"global_clipnorm", &global_clipnorm_}};
  for (const auto& [key, value] : non_negative)
    if (*value && !(**value >= 0.0))
      throw ValueError(describe() + ": expected " + key + " >= 0, got " + number(**value));
  if (loss_scale_factor_ && !(*loss_scale_factor_ > 0.0 && std::isfinite(*loss_scale_factor_)))
    throw ValueError(describe() + ": expected a finite loss_scale_factor > 0, got " + number(*loss_scale_factor_));
  if (gradient_accumulation_steps_ && *gradient_accumulation_steps_ != 0 && *gradient_accumulation_steps_ < 2)
    throw ValueError(describe() + ": gradient_accumulation_steps must be an integer >= 2, got " +
                     std::to_string(*gradient_accumulation_steps_));
  if (use_ema_ && !(ema_momentum_ >= 0.0 && ema_momentum_ <= 1.0))
    throw ValueError(describe() + ": ema_momentum must be in the range [0, 1], got " + number(ema_momentum_));
  if (use_ema_ && ema_overwrite_frequency_ && *ema_overwrite_frequency_ < 0)
    throw ValueError(describe() + ": ema_overwrite_frequency must be an integer >= 1 or unset, got " +
                     std::to_string(*ema_overwrite_frequency_));
}

double Optimizer::learning_rate() const { return learning_rate_.at(apply_count_); }

void Optimizer::set_learning_rate(const LearningRate& learning_rate) {
  if (learning_rate_.is_schedule() && !learning_rate.is_schedule())
    throw ValueError(describe() + ": this optimizer was created with a learning-rate schedule, so its learning "
                     "rate cannot be set to a number; create the optimizer with a number to make it settable");
  if (!learning_rate.is_schedule()) check_learning_rate(describe(), learning_rate.at(0));
  learning_rate_ = learning_rate;
}

at::Tensor Optimizer::initial_slot(size_t /*slot*/, const at::Tensor& variable) const {
  return at::zeros_like(variable);
}

int64_t Optimizer::iterations() const {
  return accumulation_steps() > 0 ? apply_count_ / accumulation_steps() : apply_count_;
}

at::Tensor Optimizer::scale_loss(const at::Tensor& loss) const {
  return loss_scale_factor_ ? loss * *loss_scale_factor_ : loss;
}

size_t Optimizer::state_index(const at::Tensor& variable, const std::string& name) {
  const void* key = variable.unsafeGetTensorImpl();
  auto it = state_index_.find(key);
  if (it != state_index_.end()) return it->second;
  VariableState state{variable, {}, {}, {}, true};
  const at::Tensor value = variable.detach();
  for (size_t i = 0; i < slot_names().size(); ++i) state.slots.push_back(initial_slot(i, value));
  if (use_ema_) state.average = at::zeros_like(value);
  if (accumulation_steps() > 0) state.accumulator = at::zeros_like(value);
  for (const auto& excluded : excluded_from_decay_)
    if (excluded.unsafeGetTensorImpl() == key) state.decays = false;
  if (!excluded_from_decay_pattern_.empty() && std::regex_search(name, std::regex(excluded_from_decay_pattern_)))
    state.decays = false;
  state_index_.emplace(key, states_.size());
  states_.push_back(std::move(state));
  return states_.size() - 1;
}

void Optimizer::build(const std::vector<at::Tensor>& variables, const std::vector<std::string>& names) {
  if (!names.empty() && names.size() != variables.size())
    throw ValueError(describe() + ": build expected one name per variable (" + std::to_string(variables.size()) +
                     "), got " + std::to_string(names.size()));
  for (size_t i = 0; i < variables.size(); ++i) state_index(variables[i], names.empty() ? "" : names[i]);
}

void Optimizer::exclude_from_weight_decay(const std::vector<at::Tensor>& var_list,
                                          const std::vector<std::string>& var_names) {
  if (built())
    throw StateError(describe() + ": exclude_from_weight_decay() can only be configured before the optimizer is "
                     "built (before its first apply() or build())");
  excluded_from_decay_ = var_list;
  excluded_from_decay_pattern_.clear();
  for (const auto& pattern : var_names) {
    try {
      std::regex check(pattern);
    } catch (const std::regex_error& error) {
      throw ValueError(describe() + ": exclude_from_weight_decay var_names entry '" + pattern +
                       "' is not a valid regular expression (" + error.what() + ")");
    }
    excluded_from_decay_pattern_ += (excluded_from_decay_pattern_.empty() ? "" : "|") + pattern;
  }
}

std::vector<at::Tensor> Optimizer::clip_gradients(std::vector<at::Tensor> grads) const {
  if (clipnorm_ && *clipnorm_ > 0.0) {
    // Keras: g · c / max(‖g‖, c), every norm from one foreach call and no host round trip.
    const double c = *clipnorm_;
    const std::vector<at::Tensor> norms = at::_foreach_norm(grads);
    std::vector<at::Tensor> denominators = at::clamp_min(at::stack(norms), c).unbind(0);
    std::vector<at::Tensor> clipped = at::_foreach_mul(grads, c);
    at::_foreach_div_(clipped, denominators);
    return clipped;
  }
  if (global_clipnorm_ && *global_clipnorm_ > 0.0) {
    // Keras' clip_by_global_norm: scale = c · min(1/‖G‖, 1/c), made NaN when ‖G‖ is not finite.
    const double c = *global_clipnorm_;
    const at::Tensor global_norm = at::stack(at::_foreach_norm(grads)).square().sum().sqrt();
    const at::Tensor scale = (at::clamp_max(global_norm.reciprocal(), 1.0 / c) * c) + (global_norm - global_norm);
    return at::_foreach_mul(grads, std::vector<at::Tensor>(grads.size(), scale));
  }
  if (clipvalue_ && *clipvalue_ > 0.0) {
    for (auto& grad : grads) grad = at::clamp(grad, -*clipvalue_, *clipvalue_);
  }
  return grads;
}

void Optimizer::apply_weight_decay(const std::vector<size_t>& indices, double learning_rate) {
  if (!weight_decay_ || *weight_decay_ == 0.0) return;
  std::vector<at::Tensor> decaying;
  for (size_t index : indices)
    if (states_[index].decays) decaying.push_back(states_[index].variable);
  if (decaying.empty()) return;
  // w - w·wd·lr, as Keras' _apply_weight_decay, in one foreach call.
  at::_foreach_add_(decaying, decaying, -(*weight_decay_ * learning_rate));
}

void Optimizer::update_moving_averages() {
  if (!use_ema_) return;
  std::vector<at::Tensor> variables, averages;
  for (const auto& state : states_) {
    variables.push_back(state.variable);
    averages.push_back(state.average);
  }
  // Keras averages with momentum 0 while iterations() is 0, so the average starts at the weights.
  if (iterations() == 0) {
    for (size_t i = 0; i < averages.size(); ++i) averages[i].copy_(variables[i]);
  } else {
    at::_foreach_mul_(averages, ema_momentum_);
    at::_foreach_add_(averages, variables, 1.0 - ema_momentum_);
  }
  const int64_t frequency = ema_overwrite_frequency_.value_or(0);
  if (frequency > 0 && (iterations() + 1) % frequency == 0)
    for (size_t i = 0; i < averages.size(); ++i) variables[i].copy_(averages[i]);
}

void Optimizer::apply(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables) {
  if (grads.size() != variables.size())
    throw ValueError(describe() + ": apply expected one gradient per variable (" + std::to_string(variables.size()) +
                     "), got " + std::to_string(grads.size()));
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> used_grads, used_vars;
  std::vector<size_t> used_states;
  for (size_t i = 0; i < variables.size(); ++i) {
    if (!grads[i].defined()) continue;
    if (grads[i].sizes() != variables[i].sizes())
      throw ShapeError(describe() + ": gradient " + std::to_string(i) + " has shape " + format_dims(grads[i].sizes()) +
                       ", expected its variable's shape " + format_dims(variables[i].sizes()));
    used_grads.push_back(grads[i]);
    used_vars.push_back(variables[i]);
    used_states.push_back(state_index(variables[i]));
  }
  if (used_vars.empty()) return;
  if (loss_scale_factor_) used_grads = at::_foreach_div(used_grads, *loss_scale_factor_);

  const int64_t accumulation = accumulation_steps();
  if (accumulation > 0) {
    std::vector<at::Tensor> accumulators;
    for (size_t index : used_states) accumulators.push_back(states_[index].accumulator);
    if ((apply_count_ + 1) % accumulation != 0) {
      at::_foreach_add_(accumulators, used_grads);
      update_moving_averages();
      ++apply_count_;
      return;
    }
    used_grads = at::_foreach_add(used_grads, accumulators);
    at::_foreach_div_(used_grads, static_cast<double>(accumulation));
  }

  used_grads = clip_gradients(std::move(used_grads));
  const double lr = learning_rate();
  apply_weight_decay(used_states, lr);
  std::vector<std::vector<at::Tensor>> slots(slot_names().size());
  for (size_t s = 0; s < slots.size(); ++s)
    for (size_t index : used_states) slots[s].push_back(states_[index].slots[s]);
  update_step(used_grads, used_vars, slots, lr, iterations() + 1);

  if (accumulation > 0) {
    std::vector<at::Tensor> accumulators;
    for (const auto& state : states_) accumulators.push_back(state.accumulator);
    at::_foreach_zero_(accumulators);
  }
  update_moving_averages();
  ++apply_count_;
}

void Optimizer::finalize_variable_values(const std::vector<at::Tensor>& variables) {
  if (!use_ema_) return;
  at::NoGradGuard no_grad;
  for (const auto& variable : variables) {
    auto it = state_index_.find(variable.unsafeGetTensorImpl());
    if (it == state_index_.end()) continue;  // never updated, so it has no average
    variable.copy_(states_[it->second].average);
  }
}

std::vector<at::Tensor> Optimizer::variables() const {
  std::vector<at::Tensor> out;
  for (size_t s = 0; s < slot_names().size(); ++s)
    for (const auto& state : states_) out.push_back(state.slots[s]);
  return out;
}

std::vector<std::vector<size_t>> Optimizer::slot_groups() const {
  std::vector<size_t> all(slot_names().size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return {all};
}

std::vector<at::Tensor> Optimizer::per_variable_state() const {
  std::vector<at::Tensor> out;
  if (use_ema_)
    for (const auto& state : states_) out.push_back(state.average);
  if (accumulation_steps() > 0)
    for (const auto& state : states_) out.push_back(state.accumulator);
  for (const auto& group : slot_groups())
    for (const auto& state : states_)
      for (size_t slot : group) out.push_back(state.slots[slot]);
  return out;
}

std::vector<at::Tensor> Optimizer::get_state() const {
  std::vector<at::Tensor> state = {at::scalar_tensor(apply_count_, at::kLong)};
  if (!learning_rate_.is_schedule()) state.push_back(at::scalar_tensor(learning_rate_.at(0), at::kDouble));
  for (const auto& tensor : per_variable_state()) state.push_back(tensor.clone());
  for (auto& tensor : extra_state()) state.push_back(std::move(tensor));
  return state;
}

std::vector<std::string> Optimizer::state_names(const std::vector<std::string>& variable_names) const {
  if (variable_names.size() != states_.size())
    throw ValueError(describe() + ": state_names expected one name per built variable (" +
                     std::to_string(states_.size()) + "), got " + std::to_string(variable_names.size()));
  const std::string prefix = name_ == class_name_ ? to_snake_case(class_name_) : name_;
  std::vector<std::string> flat;
  for (std::string name : variable_names) {
    std::replace(name.begin(), name.end(), '/', '_');
    flat.push_back(prefix + "/" + name + "_");
  }
  std::vector<std::string> names = {prefix + "/iteration"};
  if (!learning_rate_.is_schedule()) names.push_back(prefix + "/learning_rate");
  if (use_ema_)
    for (const auto& base : flat) names.push_back(base + "average");
  if (accumulation_steps() > 0)
    for (const auto& base : flat) names.push_back(base + "gradient_accumulator");
  const std::vector<std::string> slots = slot_names();
  for (const auto& group : slot_groups())
    for (const auto& base : flat)
      for (size_t slot : group) names.push_back(base + slots[slot]);
  for (auto& name : extra_state_names(prefix, variable_names)) names.push_back(std::move(name));
  return names;
}

void Optimizer::set_state(const std::vector<at::Tensor>& state) {
  const std::vector<at::Tensor> targets = per_variable_state();
  const size_t scalars = learning_rate_.is_schedule() ? 1 : 2;
  const size_t extras = extra_state().size();
  if (state.size() != scalars + targets.size() + extras)
    throw ValueError(describe() + ": set_state expected " + std::to_string(scalars + targets.size() + extras) +
                     " tensors (iterations" + (scalars == 2 ? ", learning rate" : "") + ", " +
                     std::to_string(targets.size()) + " per-variable tensors for " + std::to_string(states_.size()) +
                     " variables and " + std::to_string(extras) + " others), got " + std::to_string(state.size()) +
                     "; build() the optimizer on the same variables first");
  for (size_t i = 0; i < scalars; ++i)
    if (state[i].numel() != 1)
      throw ShapeError(describe() + ": set_state expected a scalar at position " + std::to_string(i) + ", got shape " +
                       format_dims(state[i].sizes()));
  for (size_t i = 0; i < targets.size(); ++i)
    if (state[scalars + i].sizes() != targets[i].sizes())
      throw ShapeError(describe() + ": set_state tensor " + std::to_string(scalars + i) + " has shape " +
                       format_dims(state[scalars + i].sizes()) + ", expected " + format_dims(targets[i].sizes()));
  at::NoGradGuard no_grad;
  // The extras first: they check themselves (LossScaleOptimizer's inner state), so a bad snapshot changes nothing.
  set_extra_state({state.end() - static_cast<std::ptrdiff_t>(extras), state.end()});
  apply_count_ = state[0].item<int64_t>();
  if (scalars == 2) set_learning_rate(state[1].item<double>());
  for (size_t i = 0; i < targets.size(); ++i) targets[i].copy_(state[scalars + i]);
}

nlohmann::json Optimizer::get_config() const {
  return {{"name", name_},
          {"learning_rate", learning_rate_.to_json()},
          {"weight_decay", optional_json(weight_decay_)},
          {"clipnorm", optional_json(clipnorm_)},
          {"global_clipnorm", optional_json(global_clipnorm_)},
          {"clipvalue", optional_json(clipvalue_)},
          {"use_ema", use_ema_},
          {"ema_momentum", ema_momentum_},
          {"ema_overwrite_frequency", optional_json(ema_overwrite_frequency_)},
          {"loss_scale_factor", optional_json(loss_scale_factor_)},
          {"gradient_accumulation_steps", optional_json(gradient_accumulation_steps_)}};
}

std::shared_ptr<Optimizer> get(const std::string& name) {
  static const Factories<Optimizer> factories = {
      {"sgd", [] { return std::make_shared<SGD>(); }},
      {"adam", [] { return std::make_shared<Adam>(); }},
      {"rmsprop", [] { return std::make_shared<RMSprop>(); }},
      {"adamw", [] { return std::make_shared<AdamW>(); }},
      {"adamax", [] { return std::make_shared<Adamax>(); }},
      {"nadam", [] { return std::make_shared<Nadam>(); }},
      {"adagrad", [] { return std::make_shared<Adagrad>(); }},
      {"adadelta", [] { return std::make_shared<Adadelta>(); }},
      {"ftrl", [] { return std::make_shared<Ftrl>(); }},
      {"lion", [] { return std::make_shared<Lion>(); }},
      {"adafactor", [] { return std::make_shared<Adafactor>(); }},
  };
  return create(factories, "optimizer", name);
}

}  // namespace strata::optimizers
