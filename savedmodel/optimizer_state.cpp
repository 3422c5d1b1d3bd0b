#include <strata/core/error.h>
#include <strata/savedmodel/optimizer_state.h>

#include <iostream>

namespace strata::savedmodel {
namespace {

// The trainable weights in the order fit() builds the optimizer on them, with their names.
std::pair<std::vector<at::Tensor>, std::vector<std::string>> trainable_variables(const Model& model) {
  std::pair<std::vector<at::Tensor>, std::vector<std::string>> out;
  for (const auto& variable : model.variables()) {
    if (!variable.trainable) continue;
    out.first.push_back(variable.value);
    out.second.push_back(variable.name);
  }
  return out;
}

}  // namespace

OptimizerState optimizer_state_of(const Model& model) {
  if (!model.compiled() || !model.optimizer().built()) return {};
  auto [variables, names] = trainable_variables(model);
  return {model.optimizer().state_names(names), model.optimizer().get_state()};
}

void restore_optimizer_state(Model& model, const std::vector<at::Tensor>& values, const std::string& source) {
  if (values.empty()) return;
  auto [variables, names] = trainable_variables(model);
  auto& optimizer = model.optimizer();
  optimizer.build(variables, names);
  try {
    optimizer.set_state(values);  // checks every tensor before it changes anything
  } catch (const Error& e) {
    std::cerr << "WARNING: " << source << ": the saved optimizer state does not fit " << optimizer.class_name()
              << " on this model, so the optimizer starts fresh (" << e.what() << ")\n";
  }
}

}  // namespace strata::savedmodel
