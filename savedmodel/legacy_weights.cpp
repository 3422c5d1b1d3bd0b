#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/savedmodel/legacy_weights.h>

#include <iostream>
#include <map>
#include <set>

namespace strata::savedmodel {
namespace {

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::string last_component(const std::string& name) {
  const size_t slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

struct SavedLayer {
  std::string name;
  std::vector<std::string> weight_names;
};

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> legacy_layer_weights(const Layer& layer) {
  // Keras 2 names a variable by the name scopes it was created in: the layer's name, then each sub-object's
  // (the RNN cell "lstm_cell", MultiHeadAttention's "query"); a model adds no scope of its own. The Keras 3 weight
  // groups carry exactly those object names.
  const bool is_model = dynamic_cast<const Model*>(&layer) != nullptr;
  const auto groups = layer.keras3_weight_groups();
  std::map<std::string, std::string> object_at;
  for (const auto& group : groups) object_at[group.path] = group.object_name;
  std::map<const void*, std::string> names;
  for (const auto& group : groups) {
    std::vector<std::string> scopes;
    if (!is_model) scopes.push_back(layer.name());
    for (size_t end = 0; !group.path.empty() && end != std::string::npos;) {
      end = group.path.find('/', end + 1);
      const auto found = object_at.find(group.path.substr(0, end));
      if (found != object_at.end()) scopes.push_back(found->second);
    }
    for (const auto& var : group.variables) {
      auto parts = scopes;
      parts.push_back(last_component(var.name) + ":0");
      names[var.value.unsafeGetTensorImpl()] = join(parts, "/");
    }
  }
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::set<std::string> used;
  auto add = [&](const at::Tensor& weight) {
    const auto found = names.find(weight.unsafeGetTensorImpl());
    std::string name = found != names.end() ? found->second : layer.name() + "/weight:0";
    for (int i = 1; used.count(name); ++i) name = name.substr(0, name.size() - 2) + "_" + std::to_string(i) + ":0";
    used.insert(name);
    out.emplace_back(name, weight);
  };
  for (const auto& w : layer.trainable_weights()) add(w);
  for (const auto& w : layer.non_trainable_weights()) add(w);
  return out;
}

static void write_layer(h5::Group& group, const std::vector<std::pair<std::string, at::Tensor>>& weights) {
  std::vector<std::string> weight_names;
  for (const auto& [name, value] : weights) weight_names.push_back(name);
  group.set_string_list_attribute("weight_names", weight_names, h5::StringType::vlen_ascii);
  for (const auto& [name, value] : weights) group.write_dataset(name, value);
}

void write_legacy_weights(h5::Group& group, const Model& model) {
  std::vector<std::string> layer_names;
  for (const auto& layer : model.layers()) layer_names.push_back(layer->name());
  group.set_string_list_attribute("layer_names", layer_names, h5::StringType::vlen_ascii);
  group.set_string_attribute("backend", "tensorflow", h5::StringType::vlen_ascii);
  group.set_string_attribute("keras_version", kLegacyKerasVersion, h5::StringType::vlen_ascii);
  for (const auto& layer : model.layers()) {
    h5::Group layer_group = group.create_group(layer->name());
    write_layer(layer_group, legacy_layer_weights(*layer));
  }
  // The model's own variables (a subclassed model's add_weight); empty for Sequential and functional models.
  std::vector<std::pair<std::string, at::Tensor>> own;
  for (const auto& var : model.keras3_weight_groups().front().variables)
    own.emplace_back(model.name() + "/" + var.name + ":0", var.value);
  h5::Group top = group.create_group("top_level_model_weights");
  write_layer(top, own);
}

bool is_legacy_weights(const h5::Group& group) {
  return group.has_attribute("layer_names") || group.is_group("model_weights");
}

PendingWeights read_legacy_weights(const h5::Group& root, const Model& model, const LoadWeightsOptions& options) {
  const h5::Group group =
      !root.has_attribute("layer_names") && root.is_group("model_weights") ? root.group("model_weights") : root;
  const std::string file = "'" + root.file_path() + "'";
  if (!group.has_attribute("layer_names"))
    throw IOError(file + " is not a tf.keras weights file: group '" + group.path() + "' has no 'layer_names' attribute");
  std::vector<SavedLayer> saved;
  for (const auto& name : group.string_list_attribute("layer_names")) {
    if (!group.is_group(name))
      throw IOError(file + ": layer '" + name + "' is listed in layer_names but has no group");
    saved.push_back({name, group.group(name).string_list_attribute("weight_names")});
  }

  PendingWeights pending;
  std::vector<std::string> errors;
  auto load = [&](const Layer& layer, const SavedLayer& from) {
    const auto expected = legacy_layer_weights(layer);
    const std::string who = layer.describe() + " (file layer '" + from.name + "')";
    std::vector<std::string> problems;
    if (from.weight_names.size() != expected.size()) {
      std::vector<std::string> names;
      for (const auto& [name, value] : expected) names.push_back(name);
      problems.push_back("expected " + std::to_string(expected.size()) + " weights [" + join(names, ", ") +
                         "], the file has " + std::to_string(from.weight_names.size()) + " [" +
                         join(from.weight_names, ", ") + "]");
    } else {
      const h5::Group layer_group = group.group(from.name);
      PendingWeights layer_pending;
      for (size_t i = 0; i < expected.size(); ++i) {
        const std::string& name = from.weight_names[i];
        if (!layer_group.is_dataset(name)) {
          problems.push_back("weight '" + name + "' is listed in weight_names but has no dataset");
          continue;
        }
        const at::Tensor value = layer_group.read_dataset(name);
        const std::string wrong = PendingWeights::mismatch(expected[i].second, value);
        if (wrong.empty()) layer_pending.add(expected[i].second, value);
        else problems.push_back("weight '" + name + "' (model weight '" + expected[i].first + "'): " + wrong);
      }
      if (problems.empty()) pending.append(std::move(layer_pending));
    }
    for (const auto& problem : problems) {
      if (options.skip_mismatch)
        std::cerr << "WARNING: load_weights(" << file << "): skipping " << who << ": " << problem << "\n";
      else
        errors.push_back(who + ": " + problem);
    }
  };

  std::vector<std::shared_ptr<Layer>> targets;
  for (const auto& layer : model.layers())
    if (!layer->weights().empty()) targets.push_back(layer);
  if (options.by_name) {
    // As Keras: file layers without a model layer of that name, and model layers absent from the file, are left.
    std::map<std::string, const SavedLayer*> by_name;
    for (const auto& s : saved) by_name[s.name] = &s;
    for (const auto& layer : targets)
      if (const auto found = by_name.find(layer->name()); found != by_name.end()) load(*layer, *found->second);
  } else {
    std::vector<const SavedLayer*> with_weights;
    for (const auto& s : saved)
      if (!s.weight_names.empty()) with_weights.push_back(&s);
    if (with_weights.size() != targets.size()) {
      std::vector<std::string> model_names, file_names;
      for (const auto& layer : targets) model_names.push_back(layer->name());
      for (const auto* s : with_weights) file_names.push_back(s->name);
      throw ValueError("Layer count mismatch when loading weights from " + file + ": " + model.describe() + " has " +
                       std::to_string(targets.size()) + " layers with weights [" + join(model_names, ", ") +
                       "], the file has " + std::to_string(with_weights.size()) + " [" + join(file_names, ", ") + "]");
    }
    for (size_t i = 0; i < targets.size(); ++i) load(*targets[i], *with_weights[i]);
  }
  // A subclassed model's own variables, when the file has them (Keras' top_level_model_weights).
  const auto own = model.keras3_weight_groups().front().variables;
  if (!own.empty() && group.is_group("top_level_model_weights")) {
    const auto top = group.group("top_level_model_weights");
    const auto names = top.string_list_attribute("weight_names");
    if (names.size() != own.size())
      errors.push_back(model.describe() + ": expected " + std::to_string(own.size()) +
                       " top-level weights, the file has " + std::to_string(names.size()));
    for (size_t i = 0; i < names.size() && names.size() == own.size(); ++i) {
      const at::Tensor value = top.read_dataset(names[i]);
      const std::string wrong = PendingWeights::mismatch(own[i].value, value);
      if (wrong.empty()) pending.add(own[i].value, value);
      else errors.push_back(model.describe() + ", top-level weight '" + names[i] + "': " + wrong);
    }
  }
  if (!errors.empty())
    throw ValueError("Cannot load weights from " + file + " (the model is unchanged):\n  " + join(errors, "\n  "));
  return pending;
}

}  // namespace strata::savedmodel
