#include <strata/core/error.h>
#include <strata/models/model_data.h>

namespace strata {

ModelData::ModelData(at::Tensor tensor) {
  if (tensor.defined()) by_position_.push_back(std::move(tensor));
}
ModelData::ModelData(Tensors by_position) : by_position_(std::move(by_position)) {}
ModelData::ModelData(std::initializer_list<at::Tensor> by_position) : by_position_(by_position) {}
ModelData::ModelData(std::map<std::string, at::Tensor> by_name) : by_name_(std::move(by_name)) {}
ModelData::ModelData(std::initializer_list<std::pair<const std::string, at::Tensor>> by_name) : by_name_(by_name) {}

Tensors ModelData::resolve(const std::vector<std::string>& names, const std::string& who, const std::string& what,
                           bool allow_missing) const {
  auto known = [&] {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
  };
  if (by_name_.empty()) {
    if (!names.empty() && by_position_.size() != names.size())
      throw ValueError(who + ": expected " + std::to_string(names.size()) + " tensor(s) in " + what + " (" + known() +
                       "), got " + std::to_string(by_position_.size()));
    return by_position_;
  }
  if (names.empty())
    throw ValueError(who + ": " + what + " is given by name, but this model's names are not known; pass it by position");
  for (const auto& [name, tensor] : by_name_) {
    bool found = false;
    for (const auto& n : names) found = found || n == name;
    if (!found) throw ValueError(who + ": " + what + " has an entry '" + name + "', but the names are: " + known());
  }
  Tensors out;
  for (const auto& name : names) {
    auto it = by_name_.find(name);
    if (it == by_name_.end() && !allow_missing)
      throw ValueError(who + ": " + what + " has no entry for '" + name + "'");
    out.push_back(it == by_name_.end() ? at::Tensor() : it->second);
  }
  return out;
}

Tensors map_tensors(const Tensors& tensors, const std::function<at::Tensor(const at::Tensor&)>& fn) {
  Tensors out;
  for (const auto& t : tensors) out.push_back(t.defined() ? fn(t) : t);
  return out;
}

Batch map_batch(const Batch& data, const std::function<at::Tensor(const at::Tensor&)>& fn) {
  return {map_tensors(data.x, fn), map_tensors(data.y, fn), map_tensors(data.sample_weight, fn)};
}

}  // namespace strata
