#include <nlohmann/json.hpp>
#include <strata/core/registry.h>

namespace strata {

SerializedClass read_serialized_class(const nlohmann::json& spec, const std::string& kind) {
  if (!spec.is_object() || !spec.contains("class_name") || !spec.at("class_name").is_string())
    throw ValueError(kind + ": expected {\"class_name\": ..., \"config\": {...}} (or Keras 3's form with \"module\" "
                     "and \"registered_name\"), got " + spec.dump());
  static const nlohmann::json empty = nlohmann::json::object();
  const auto config = spec.find("config");
  const auto registered = spec.find("registered_name");
  return {spec.at("class_name").get<std::string>(),
          registered != spec.end() && registered->is_string() ? registered->get<std::string>() : "",
          config != spec.end() && !config->is_null() ? &*config : &empty};
}

nlohmann::json write_serialized_class(const std::string& module, const std::string& class_name,
                                      const nlohmann::json& config, bool custom, KerasDialect dialect) {
  if (dialect == KerasDialect::kKeras2) return {{"class_name", class_name}, {"config", config}};
  return {{"module", custom ? nlohmann::json(nullptr) : nlohmann::json(module)},
          {"class_name", class_name},
          {"config", config},
          {"registered_name", custom ? nlohmann::json("Custom>" + class_name) : nlohmann::json(nullptr)}};
}

std::string dump_json(const nlohmann::json& value) { return value.dump(); }

}  // namespace strata
