#include <nlohmann/json.hpp>
#include <strata/core/dtype.h>
#include <strata/core/error.h>
#include <strata/core/mixed_precision.h>

#include <mutex>

namespace strata::mixed_precision {
namespace {

std::mutex global_mutex;

DTypePolicy& global() {
  static DTypePolicy policy("float32");
  return policy;
}

}  // namespace

DTypePolicy::DTypePolicy(const std::string& name) : name_(name) {
  static const char* kAccepted = "float32, float64, float16, bfloat16, mixed_float16, mixed_bfloat16";
  if (name == "mixed_float16" || name == "mixed_bfloat16") {
    compute_dtype_ = name == "mixed_float16" ? at::kHalf : at::kBFloat16;
    variable_dtype_ = at::kFloat;
    return;
  }
  if (name != "float32" && name != "float64" && name != "float16" && name != "bfloat16")
    throw ValueError("DTypePolicy: unknown policy '" + name + "'; expected one of: " + kAccepted);
  compute_dtype_ = variable_dtype_ = dtype_from_name(name);
}

nlohmann::json DTypePolicy::to_config() const {
  if (!is_mixed()) return name_;
  return {{"module", "keras.mixed_precision"},
          {"class_name", "Policy"},
          {"config", {{"name", name_}}},
          {"registered_name", nullptr}};
}

DTypePolicy DTypePolicy::from_config(const nlohmann::json& config) {
  if (config.is_null()) return global_policy();
  if (config.is_string()) return DTypePolicy(config.get<std::string>());
  if (config.is_object() && config.contains("config") && config.at("config").contains("name"))
    return DTypePolicy(config.at("config").at("name").get<std::string>());
  throw ValueError("DTypePolicy: expected a policy name or a serialized Policy/DTypePolicy object, got " +
                   config.dump());
}

void set_global_policy(const DTypePolicy& policy) {
  std::lock_guard<std::mutex> lock(global_mutex);
  global() = policy;
}

DTypePolicy global_policy() {
  std::lock_guard<std::mutex> lock(global_mutex);
  return global();
}

}  // namespace strata::mixed_precision
