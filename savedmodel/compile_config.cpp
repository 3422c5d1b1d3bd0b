#include <nlohmann/json.hpp>
#include <strata/losses/serialization.h>
#include <strata/metrics/serialization.h>
#include <strata/optimizers/serialization.h>
#include <strata/savedmodel/compile_config.h>

namespace strata::savedmodel {
namespace {

// One per-output option as Keras writes it: the value, a list by position, a map by name, or null.
template <class T, class Write>
nlohmann::json write_per_output(const PerOutput<T>& option, Write write) {
  if (option.every()) return write(*option.every());
  if (!option.by_position().empty()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& value : option.by_position()) out.push_back(write(value));
    return out;
  }
  if (!option.by_name().empty()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, value] : option.by_name()) out[name] = write(value);
    return out;
  }
  return nullptr;
}

nlohmann::json write_loss(const losses::Spec& loss, KerasDialect dialect) {
  if (!loss.identifier().empty()) return loss.identifier();
  return losses::serialize(*loss, dialect);
}

nlohmann::json write_metrics(const std::vector<metrics::Spec>& list, KerasDialect dialect) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& metric : list) out.push_back(metric.is_name() ? nlohmann::json(metric.name())
                                                                 : metrics::serialize(*metric.metric(), dialect));
  return out;
}

// Either dialect: {"class_name", ...} is one serialized object, any other JSON object a map by output name.
bool is_serialized_object(const nlohmann::json& value) { return value.is_object() && value.contains("class_name"); }

losses::Spec read_loss(const nlohmann::json& value) {
  if (value.is_string()) return losses::Spec(value.get<std::string>());
  return losses::Spec(losses::deserialize(value));
}

// A metric name Keras resolves itself ("accuracy" depends on the loss), or one metrics::get knows.
bool is_metric_name(const std::string& name) {
  for (const char* special : {"accuracy", "acc", "crossentropy", "ce"})
    if (name == special) return true;
  try {
    metrics::get(name);
    return true;
  } catch (const ValueError&) {
    return false;
  }
}

// `prefix` ("out_") is what tf.keras 2 put before the metric's name; empty for Keras 3.
metrics::Spec read_metric(const nlohmann::json& value, const std::string& prefix) {
  if (value.is_string()) return metrics::Spec(value.get<std::string>());
  nlohmann::json spec = value;
  nlohmann::json& config = spec["config"];
  if (config.is_object() && config.contains("name") && config.at("name").is_string()) {
    const std::string name = config.at("name").get<std::string>();
    if (!prefix.empty() && name.rfind(prefix, 0) == 0) config["name"] = name.substr(prefix.size());
  }
  // tf.keras 2 saves "accuracy" or "mae" as a MeanMetricWrapper named so; the name is what compile() was given.
  if (spec.value("class_name", "") == "MeanMetricWrapper" && config.contains("name") &&
      is_metric_name(config.at("name").get<std::string>()))
    return metrics::Spec(config.at("name").get<std::string>());
  auto metric = std::dynamic_pointer_cast<metrics::PredictionMetric>(metrics::deserialize(spec));
  if (!metric)
    throw ValueError("compile config: metric " + value.dump() + " does not compare targets with predictions, so "
                     "compile() cannot take it");
  return metrics::Spec(metric);
}

std::vector<metrics::Spec> read_metric_list(const nlohmann::json& value, const std::string& prefix) {
  std::vector<metrics::Spec> out;
  if (value.is_null()) return out;
  if (!value.is_array()) return {read_metric(value, prefix)};
  for (const auto& entry : value)
    if (!entry.is_null()) out.push_back(read_metric(entry, prefix));  // tf.keras 2 pads with null
  return out;
}

PerOutput<std::vector<metrics::Spec>> read_metrics(const nlohmann::json& value,
                                                   const std::vector<std::string>& output_names) {
  if (value.is_null()) return {};
  if (value.is_object() && !is_serialized_object(value)) {
    std::map<std::string, std::vector<metrics::Spec>> by_name;
    for (const auto& [name, list] : value.items()) by_name[name] = read_metric_list(list, name + "_");
    return by_name;
  }
  // A list of lists (or nulls) is by output position; a flat list applies to every output.
  bool nested = value.is_array() && !value.empty();
  for (const auto& entry : value) nested = nested && (entry.is_array() || entry.is_null());
  if (!nested) return read_metric_list(value, "");
  std::vector<std::vector<metrics::Spec>> by_position;
  for (size_t i = 0; i < value.size(); ++i) {
    // tf.keras 2 prefixes the output's name only when the model has several outputs.
    const std::string prefix = output_names.size() > 1 && i < output_names.size() ? output_names[i] + "_" : "";
    by_position.push_back(read_metric_list(value[i], prefix));
  }
  return by_position;
}

PerOutput<losses::Spec> read_losses(const nlohmann::json& value) {
  if (value.is_null()) return {};
  if (value.is_string() || is_serialized_object(value)) return read_loss(value);
  if (value.is_array()) {
    std::vector<losses::Spec> by_position;
    for (const auto& entry : value) {
      if (entry.is_null())
        throw ValueError("compile config: a loss list with null entries (outputs without a loss) is not supported; "
                         "got " + value.dump());
      by_position.push_back(read_loss(entry));
    }
    return by_position;
  }
  std::map<std::string, losses::Spec> by_name;
  for (const auto& [name, entry] : value.items())
    if (!entry.is_null()) by_name[name] = read_loss(entry);
  return by_name;
}

PerOutput<double> read_loss_weights(const nlohmann::json& value) {
  if (value.is_null()) return {};
  if (value.is_number()) return value.get<double>();
  if (value.is_array()) return value.get<std::vector<double>>();
  return value.get<std::map<std::string, double>>();
}

// Shared by both dialects: everything but the optimizer.
CompileOptions read_common(const nlohmann::json& config, const std::vector<std::string>& output_names) {
  CompileOptions options;
  const nlohmann::json null;
  const auto field = [&](const char* key) -> const nlohmann::json& {
    return config.contains(key) ? config.at(key) : null;
  };
  options.loss = read_losses(field("loss"));
  options.loss_weights = read_loss_weights(field("loss_weights"));
  options.metrics = read_metrics(field("metrics"), output_names);
  options.weighted_metrics = read_metrics(field("weighted_metrics"), output_names);
  return options;
}

void require_object(const nlohmann::json& config, const char* what) {
  if (!config.is_object()) throw ValueError(std::string(what) + ": expected a JSON object, got " + config.dump());
}

// Wraps JSON type errors (a number where a list belongs) in ValueError naming the config.
template <class F>
CompileOptions reading(const char* what, const nlohmann::json& config, F read) {
  require_object(config, what);
  try {
    return read();
  } catch (const nlohmann::json::exception& error) {
    throw ValueError(std::string(what) + ": malformed " + config.dump() + " (" + error.what() + ")");
  }
}

}  // namespace

nlohmann::json to_compile_config(const CompileOptions& options) {
  const KerasDialect dialect = KerasDialect::kKeras3;
  return {{"optimizer", optimizers::serialize(*options.optimizer, dialect)},
          {"loss", write_per_output(options.loss, [&](const auto& loss) { return write_loss(loss, dialect); })},
          {"loss_weights", write_per_output(options.loss_weights, [](double w) { return nlohmann::json(w); })},
          {"metrics", write_per_output(options.metrics, [&](const auto& m) { return write_metrics(m, dialect); })},
          {"weighted_metrics",
           write_per_output(options.weighted_metrics, [&](const auto& m) { return write_metrics(m, dialect); })},
          {"run_eagerly", false},
          {"steps_per_execution", 1},
          {"jit_compile", false}};
}

CompileOptions from_compile_config(const nlohmann::json& config) {
  return reading("compile_config", config, [&] {
    CompileOptions options = read_common(config, {});
    if (config.contains("optimizer") && !config.at("optimizer").is_null())
      options.optimizer = optimizers::deserialize(config.at("optimizer"));
    return options;
  });
}

nlohmann::json to_training_config(const CompileOptions& options) {
  const KerasDialect dialect = KerasDialect::kKeras2;
  return {{"loss", write_per_output(options.loss, [&](const auto& loss) { return write_loss(loss, dialect); })},
          {"metrics", write_per_output(options.metrics, [&](const auto& m) { return write_metrics(m, dialect); })},
          {"weighted_metrics",
           write_per_output(options.weighted_metrics, [&](const auto& m) { return write_metrics(m, dialect); })},
          {"loss_weights", write_per_output(options.loss_weights, [](double w) { return nlohmann::json(w); })},
          {"optimizer_config", optimizers::serialize(*options.optimizer, dialect)}};
}

CompileOptions from_training_config(const nlohmann::json& config, const std::vector<std::string>& output_names) {
  return reading("training_config", config, [&] {
    CompileOptions options = read_common(config, output_names);
    if (config.contains("optimizer_config") && !config.at("optimizer_config").is_null())
      options.optimizer = optimizers::deserialize(config.at("optimizer_config"));
    return options;
  });
}

}  // namespace strata::savedmodel
