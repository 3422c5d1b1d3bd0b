#pragma once
// Name -> factory tables, so "adam", "mse" or "glorot_uniform" create the matching object, and an unknown
// name fails with a list of the known ones. ClassRegistry is the class_name -> from_config table behind each
// family's serialize/deserialize (losses, metrics, optimizers), to which users add their own classes.

#include <nlohmann/json_fwd.hpp>
#include <strata/core/error.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
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

// Which Keras writes a serialized object: tf.keras 2's {"class_name", "config"} or Keras 3's
// {"module", "class_name", "config", "registered_name"}. Readers accept both.
enum class KerasDialect { kKeras2, kKeras3 };

// The class name and config of either serialized form. A Keras 3 custom object ("registered_name":
// "Custom>MyLoss") and tf.keras 2.15's "Custom>Adam" are looked up by the part after '>' when the whole
// name is not registered, so `registered` receives both spellings. `kind` names the family in errors.
struct SerializedClass {
  std::string class_name;
  std::string registered_name;  // empty when the form has none
  const nlohmann::json* config;
};
SerializedClass read_serialized_class(const nlohmann::json& spec, const std::string& kind);

// {"class_name", "config"}, or with kKeras3 {"module": module, "class_name", "config", "registered_name"}.
// A custom class gets Keras 3's "Custom>" registered name and a null module.
nlohmann::json write_serialized_class(const std::string& module, const std::string& class_name,
                                      const nlohmann::json& config, bool custom, KerasDialect dialect);

// config.dump(), for messages from headers that see only json_fwd.
std::string dump_json(const nlohmann::json& value);

// Keras class_name -> a factory building the object from its get_config(). Built-ins are given when the table
// is made (static initialisers in other files could be dropped by a static link); users add theirs with add().
template <class T>
class ClassRegistry {
 public:
  using Factory = std::function<std::shared_ptr<T>(const nlohmann::json& config)>;

  ClassRegistry(std::string kind, std::map<std::string, Factory> built_ins)
      : kind_(std::move(kind)), factories_(std::move(built_ins)) {}

  // Registers (or replaces) `class_name`; later deserialize() calls build it.
  void add(const std::string& class_name, Factory factory) {
    std::lock_guard lock(mutex_);
    factories_[class_name] = std::move(factory);
    custom_[class_name] = true;
  }

  bool is_custom(const std::string& class_name) const {
    std::lock_guard lock(mutex_);
    auto it = custom_.find(class_name);
    return it != custom_.end() && it->second;
  }

  // The object a serialized form describes; ValueError for an unknown class (listing the known ones) or a
  // config its from_config rejects.
  std::shared_ptr<T> deserialize(const nlohmann::json& spec) const {
    const SerializedClass found = read_serialized_class(spec, kind_);
    Factory factory = find(found);
    try {
      return factory(*found.config);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& error) {
      throw ValueError("bad " + kind_ + " config for " + found.class_name + ": " + dump_json(*found.config) + " (" +
                       error.what() + ")");
    }
  }

 private:
  Factory find(const SerializedClass& found) const {
    std::lock_guard lock(mutex_);
    for (const std::string& name : {found.class_name, found.registered_name, after_marker(found.registered_name),
                                    after_marker(found.class_name)}) {
      auto it = factories_.find(name);
      if (!name.empty() && it != factories_.end()) return it->second;
    }
    throw ValueError("unknown " + kind_ + " class '" + found.class_name + "'; expected one of: " +
                     joined_keys(factories_) + " (register a custom class first)");
  }
  static std::string after_marker(const std::string& name) {
    const auto marker = name.rfind('>');
    return marker == std::string::npos ? std::string() : name.substr(marker + 1);
  }

  std::string kind_;
  mutable std::mutex mutex_;
  std::map<std::string, Factory> factories_;
  std::map<std::string, bool> custom_;
};

// The factory of a class with `static C from_config(const nlohmann::json&)`, as ClassRegistry stores it. `new C(prvalue)`
// builds in place without a move constructor, which some classes cannot offer to overload resolution
// (LossScaleOptimizer's converting constructor would ask whether it is constructible from itself).
template <class T, class C>
std::function<std::shared_ptr<T>(const nlohmann::json&)> from_config_factory() {
  return [](const nlohmann::json& config) { return std::shared_ptr<T>(new C(C::from_config(config))); };
}

}  // namespace strata
