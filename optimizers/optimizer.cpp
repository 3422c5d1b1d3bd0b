#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
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


namespace strata::optimizers {

Optimizer::Optimizer(std::string class_name, std::string name, double learning_rate)
    : class_name_(std::move(class_name)), name_(std::move(name)), learning_rate_(learning_rate) {
  set_learning_rate(learning_rate);
}

void Optimizer::set_learning_rate(double learning_rate) {
  if (!(learning_rate >= 0.0))
    throw ValueError(describe() + ": expected learning_rate >= 0, got " + std::to_string(learning_rate));
  learning_rate_ = learning_rate;
}

at::Tensor Optimizer::initial_slot(size_t /*slot*/, const at::Tensor& variable) const {
  return at::zeros_like(variable);
}

const Optimizer::SlotSet& Optimizer::slots_for(const at::Tensor& variable) {
  const void* key = variable.unsafeGetTensorImpl();
  auto it = slot_index_.find(key);
  if (it != slot_index_.end()) return slot_sets_[it->second];
  SlotSet set{variable, {}};
  for (size_t i = 0; i < slot_names().size(); ++i) set.slots.push_back(initial_slot(i, variable.detach()));
  slot_index_.emplace(key, slot_sets_.size());
  slot_sets_.push_back(std::move(set));
  return slot_sets_.back();
}

void Optimizer::apply(const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables) {
  if (grads.size() != variables.size())
    throw ValueError(describe() + ": apply expected one gradient per variable (" + std::to_string(variables.size()) +
                     "), got " + std::to_string(grads.size()));
  at::NoGradGuard no_grad;
  const size_t num_slots = slot_names().size();
  std::vector<at::Tensor> used_grads, used_vars;
  std::vector<std::vector<at::Tensor>> slots(num_slots);
  for (size_t i = 0; i < variables.size(); ++i) {
    if (!grads[i].defined()) continue;
    if (grads[i].sizes() != variables[i].sizes())
      throw ShapeError(describe() + ": gradient " + std::to_string(i) + " has shape " + format_dims(grads[i].sizes()) +
                       ", expected its variable's shape " + format_dims(variables[i].sizes()));
    used_grads.push_back(grads[i]);
    used_vars.push_back(variables[i]);
    const SlotSet& set = slots_for(variables[i]);
    for (size_t s = 0; s < num_slots; ++s) slots[s].push_back(set.slots[s]);
  }
  if (used_vars.empty()) return;
  update_step(used_grads, used_vars, slots, learning_rate_, iterations_ + 1);
  ++iterations_;
}

std::vector<at::Tensor> Optimizer::variables() const {
  std::vector<at::Tensor> out;
  for (size_t s = 0; s < slot_names().size(); ++s)
    for (const auto& set : slot_sets_) out.push_back(set.slots[s]);
  return out;
}

nlohmann::json Optimizer::get_config() const { return {{"name", name_}, {"learning_rate", learning_rate_}}; }

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
