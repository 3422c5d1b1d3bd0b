#pragma once
// Name -> factory tables, so "adam", "mse" or "glorot_uniform" create the matching object, and an unknown
// name fails with a list of the known ones.

#include <strata/core/error.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace strata {

template <class T>
using Factories = std::map<std::string, std::function<std::shared_ptr<T>()>>;

// "a, b, c": the keys of `table` in order, for error messages.
template <class Table>
std::string joined_keys(const Table& table) {
  std::string out;
  for (const auto& entry : table) out += (out.empty() ? "" : ", ") + entry.first;
  return out;
}

// A new object registered under `name`; `kind` ("optimizer") names the table in the error.
template <class T>
std::shared_ptr<T> create(const Factories<T>& factories, const std::string& kind, const std::string& name) {
  auto it = factories.find(name);
  if (it == factories.end())
    throw ValueError("unknown " + kind + " '" + name + "'; expected one of: " + joined_keys(factories));
  return it->second();
}

}  // namespace strata
