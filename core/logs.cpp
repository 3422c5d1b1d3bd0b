#include <strata/core/error.h>
#include <strata/core/logs.h>

#include <algorithm>

namespace strata {

void Logs::set(const std::string& key, double value) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == key; });
  if (it != entries_.end()) {
    it->second = value;
  } else {
    entries_.emplace_back(key, value);
  }
}

bool Logs::contains(const std::string& key) const { return get(key).has_value(); }

std::optional<double> Logs::get(const std::string& key) const {
  for (const auto& [name, value] : entries_)
    if (name == key) return value;
  return std::nullopt;
}

double Logs::at(const std::string& key) const {
  if (auto value = get(key)) return *value;
  std::string known;
  for (const auto& [name, value] : entries_) known += (known.empty() ? "" : ", ") + name;
  throw ValueError("logs have no entry '" + key + "'; present: " + (known.empty() ? "(none)" : known));
}

}  // namespace strata
