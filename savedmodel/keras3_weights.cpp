#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/savedmodel/keras3_weights.h>

#include <iostream>

namespace strata::savedmodel {
namespace {

std::string vars_path(const std::string& path) { return path.empty() ? "vars" : path + "/vars"; }

void write_vars(h5::Group& root, const std::string& path, const std::string& name, const std::vector<at::Tensor>& values) {
  h5::Group vars = root.create_group(vars_path(path));
  vars.set_string_attribute("name", name, h5::StringType::vlen_utf8);
  for (size_t i = 0; i < values.size(); ++i) vars.write_dataset(std::to_string(i), values[i]);
}

// The datasets "0", "1", ... of a vars group, up to the first missing index.
std::vector<at::Tensor> read_vars(const h5::Group& root, const std::string& path) {
  std::vector<at::Tensor> out;
  const std::string vars = vars_path(path);
  if (!root.is_group(vars)) return out;
  const h5::Group group = root.group(vars);
  while (group.is_dataset(std::to_string(out.size()))) out.push_back(group.read_dataset(std::to_string(out.size())));
  return out;
}

}  // namespace

void write_keras3_weights(h5::Group& root, const Model& model, const std::vector<at::Tensor>& optimizer_variables,
                          const std::string& optimizer_name) {
  for (const auto& group : model.keras3_weight_groups()) {
    std::vector<at::Tensor> values;
    for (const auto& var : group.variables) values.push_back(var.value);
    write_vars(root, group.path, group.object_name, values);
  }
  if (!optimizer_variables.empty()) write_vars(root, "optimizer", optimizer_name, optimizer_variables);
}

bool is_keras3_weights(const h5::Group& root) { return root.is_group("layers") || root.is_group("vars"); }

PendingWeights read_keras3_weights(const h5::Group& root, const Model& model, bool skip_mismatch) {
  const std::string file = "'" + root.file_path() + "'";
  PendingWeights pending;
  std::vector<std::string> errors;
  for (const auto& group : model.keras3_weight_groups()) {
    const auto values = read_vars(root, group.path);
    const std::string where = "'" + root.path() + (root.path() == "/" ? "" : "/") + vars_path(group.path) + "' (" +
                              group.object_name + ")";
    std::vector<std::string> problems;
    if (values.size() != group.variables.size()) {
      std::string names;
      for (const auto& var : group.variables) names += (names.empty() ? "" : ", ") + var.name;
      problems.push_back(where + ": expected " + std::to_string(group.variables.size()) + " variables [" + names +
                         "], the file has " + std::to_string(values.size()));
    } else {
      PendingWeights group_pending;
      for (size_t i = 0; i < values.size(); ++i) {
        const std::string wrong = PendingWeights::mismatch(group.variables[i].value, values[i]);
        if (wrong.empty()) group_pending.add(group.variables[i].value, values[i]);
        else problems.push_back(where + ", variable " + std::to_string(i) + " '" + group.variables[i].name + "': " + wrong);
      }
      if (problems.empty()) pending.append(std::move(group_pending));
    }
    for (const auto& problem : problems) {
      if (skip_mismatch) std::cerr << "WARNING: load_weights(" << file << "): skipping " << problem << "\n";
      else errors.push_back(problem);
    }
  }
  if (!errors.empty())
    throw ValueError("Cannot load weights from " + file + " into " + model.describe() + " (the model is unchanged):\n  " +
                     [&] {
                       std::string all;
                       for (const auto& e : errors) all += (all.empty() ? "" : "\n  ") + e;
                       return all;
                     }());
  return pending;
}

std::vector<at::Tensor> read_keras3_optimizer_variables(const h5::Group& root) { return read_vars(root, "optimizer"); }

}  // namespace strata::savedmodel
