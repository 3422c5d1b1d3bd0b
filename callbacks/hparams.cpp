#include <strata/callbacks/hparams.h>

#include <strata/callbacks/event_file_writer.h>
#include <strata/core/error.h>
#include <strata/core/sha256.h>
#include <strata/models/model.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "strata_tb_event.pb.h"
#include "strata_tb_hparams.pb.h"

namespace strata::hparams {
namespace {

namespace pb = strata_tb_hparams;

double now_secs() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* type_name(const Value& value) {
  static const char* names[] = {"bool", "number", "string"};
  return names[value.index()];
}

// Python's repr of a float, which json.dumps writes: the shortest round-trip digits, positional for decimal
// exponents in [-4, 16), otherwise d.ddde+XX. Integral values within 2^53 are written as ints (see hparams.h).
std::string python_number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x == std::floor(x) && std::fabs(x) <= 9007199254740992.0) return std::to_string(static_cast<int64_t>(x));
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::scientific).ptr;
  const std::string scientific(buffer, end);  // [-]d[.ddd]e(+|-)XX
  const size_t e = scientific.find('e');
  const bool negative = scientific[0] == '-';
  std::string digits = scientific.substr(negative ? 1 : 0, e - (negative ? 1 : 0));
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::stoi(scientific.substr(e + 1));
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + suffix;
  }
  if (exponent < 0) return out + "0." + std::string(-exponent - 1, '0') + digits;
  if (digits.size() <= static_cast<size_t>(exponent) + 1)
    return out + digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
  return out + digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
}

// json.dumps of one value (ensure_ascii, as Python's default).
std::string json_value(const Value& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&value)) return python_number(*d);
  return nlohmann::json(std::get<std::string>(value)).dump(-1, ' ', true);
}

// A value as run_trials prints it: numbers as json_value, strings bare.
std::string display(const Value& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return json_value(value);
}

pb::Value value_proto(const Value& value) {
  pb::Value out;
  if (const auto* b = std::get_if<bool>(&value)) out.set_bool_value(*b);
  else if (const auto* d = std::get_if<double>(&value)) out.set_number_value(*d);
  else out.set_string_value(std::get<std::string>(value));
  return out;
}

// hp.Discrete sorts its values; the experiment and the grid use that order.
std::vector<Value> sorted_values(const Discrete& domain) {
  std::vector<Value> values = domain.values;
  std::sort(values.begin(), values.end());
  return values;
}

void check_hparams(const std::vector<HParam>& hparams) {
  std::set<std::string> names;
  for (const auto& hparam : hparams) {
    if (hparam.name.empty()) throw ValueError("HParam: the name must not be empty");
    if (!names.insert(hparam.name).second) throw ValueError("HParam '" + hparam.name + "' is declared twice");
    const std::string where = "HParam '" + hparam.name + "': ";
    if (const auto* discrete = std::get_if<Discrete>(&hparam.domain)) {
      if (discrete->values.empty()) throw ValueError(where + "Discrete domain has no values");
      for (const auto& value : discrete->values)
        if (value.index() != discrete->values[0].index())
          throw ValueError(where + "Discrete values must all have one type, got a " + type_name(discrete->values[0]) +
                           " and a " + type_name(value));
    } else if (const auto* real = std::get_if<RealInterval>(&hparam.domain)) {
      if (!(real->min_value <= real->max_value) || !std::isfinite(real->min_value) || !std::isfinite(real->max_value))
        throw ValueError(where + "RealInterval needs finite min_value <= max_value, got [" +
                         python_number(real->min_value) + ", " + python_number(real->max_value) + "]");
    } else {
      const auto& integer = std::get<IntInterval>(hparam.domain);
      if (integer.min_value > integer.max_value)
        throw ValueError(where + "IntInterval needs min_value <= max_value, got [" + std::to_string(integer.min_value) +
                         ", " + std::to_string(integer.max_value) + "]");
    }
  }
}

void check_metrics(const std::vector<Metric>& metrics) {
  std::set<std::pair<std::string, std::string>> names;
  for (const auto& metric : metrics) {
    if (metric.tag.empty()) throw ValueError("Metric: the tag must not be empty");
    if (!names.insert({metric.group, metric.tag}).second)
      throw ValueError("Metric '" + metric.tag + "' in group '" + metric.group + "' is declared twice");
  }
}

pb::HParamInfo hparam_info(const HParam& hparam) {
  pb::HParamInfo info;
  info.set_name(hparam.name);
  info.set_display_name(hparam.display_name);
  info.set_description(hparam.description);
  if (const auto* discrete = std::get_if<Discrete>(&hparam.domain)) {
    static const pb::DataType types[] = {pb::DATA_TYPE_BOOL, pb::DATA_TYPE_FLOAT64, pb::DATA_TYPE_STRING};
    info.set_type(types[discrete->values[0].index()]);
    for (const auto& value : sorted_values(*discrete)) *info.mutable_domain_discrete()->add_values() = value_proto(value);
  } else if (const auto* real = std::get_if<RealInterval>(&hparam.domain)) {
    info.set_type(pb::DATA_TYPE_FLOAT64);
    info.mutable_domain_interval()->set_min_value(real->min_value);
    info.mutable_domain_interval()->set_max_value(real->max_value);
  } else {
    const auto& integer = std::get<IntInterval>(hparam.domain);
    info.set_type(pb::DATA_TYPE_FLOAT64);
    info.mutable_domain_interval()->set_min_value(static_cast<double>(integer.min_value));
    info.mutable_domain_interval()->set_max_value(static_cast<double>(integer.max_value));
  }
  return info;
}

// One hparams summary at step 0: the plugin data as content and, as Python writes, an empty float [0] tensor.
void write_plugin_data(tensorboard::EventFileWriter& writer, const std::string& tag, const pb::HParamsPluginData& data) {
  strata_tb::TensorProto null_tensor;
  null_tensor.set_dtype(strata_tb::DT_FLOAT);
  null_tensor.mutable_tensor_shape()->add_dim()->set_size(0);
  writer.tensor_summary(tag, null_tensor.SerializeAsString(), "hparams", data.SerializeAsString(), 0);
}

// Writes the model summary and the command line when fit starts, when the model is known.
class RunText : public Callback {
 public:
  RunText(std::string log_dir, std::vector<std::string> command_line)
      : log_dir_(std::move(log_dir)), command_line_(std::move(command_line)) {}
  void on_train_begin(const Logs&) override { callbacks::write_run_text(log_dir_, *model(), command_line_); }

 private:
  std::string log_dir_;
  std::vector<std::string> command_line_;
};

// mt19937_64 is specified bit for bit; the standard distributions are not, so draws are mapped by hand.
Value draw(const Domain& domain, std::mt19937_64& engine) {
  if (const auto* discrete = std::get_if<Discrete>(&domain)) {
    const auto values = sorted_values(*discrete);
    return values[engine() % values.size()];
  }
  if (const auto* real = std::get_if<RealInterval>(&domain)) {
    const double unit = static_cast<double>(engine() >> 11) * 0x1.0p-53;  // [0, 1)
    return real->min_value + (real->max_value - real->min_value) * unit;
  }
  const auto& integer = std::get<IntInterval>(domain);
  // Unsigned arithmetic: the span of [INT64_MIN, INT64_MAX] wraps to 0, meaning every 64-bit value.
  const uint64_t span = static_cast<uint64_t>(integer.max_value) - static_cast<uint64_t>(integer.min_value) + 1;
  const uint64_t offset = span == 0 ? engine() : engine() % span;
  return static_cast<double>(static_cast<int64_t>(static_cast<uint64_t>(integer.min_value) + offset));
}

}  // namespace

std::string session_group_name(const std::map<std::string, Value>& hparams) {
  std::string json = "{";
  for (const auto& [name, value] : hparams) {
    if (json.size() > 1) json += ',';
    json += nlohmann::json(name).dump(-1, ' ', true) + ":" + json_value(value);
  }
  return sha256_hex(json + "}");
}

void write_experiment(const std::string& log_dir, const std::vector<HParam>& hparams,
                      const std::vector<Metric>& metrics) {
  check_hparams(hparams);
  check_metrics(metrics);
  pb::HParamsPluginData data;
  auto* experiment = data.mutable_experiment();
  experiment->set_time_created_secs(now_secs());
  for (const auto& hparam : hparams) *experiment->add_hparam_infos() = hparam_info(hparam);
  for (const auto& metric : metrics) {
    auto* info = experiment->add_metric_infos();
    info->mutable_name()->set_group(metric.group);
    info->mutable_name()->set_tag(metric.tag);
    info->set_display_name(metric.display_name);
    info->set_description(metric.description);
    info->set_dataset_type(static_cast<pb::DatasetType>(metric.dataset_type));
  }
  tensorboard::EventFileWriter writer(log_dir);
  write_plugin_data(writer, "_hparams_/experiment", data);
}

KerasCallback::KerasCallback(std::string writer_dir, std::map<std::string, Value> hparams, std::string trial_id)
    : writer_dir_(std::move(writer_dir)), hparams_(std::move(hparams)) {
  for (const auto& [name, value] : hparams_)
    if (name.empty()) throw ValueError("hparams::KerasCallback: an hparam name is empty");
  group_name_ = trial_id.empty() ? session_group_name(hparams_) : std::move(trial_id);
}

KerasCallback::KerasCallback(KerasCallback&&) noexcept = default;

KerasCallback::~KerasCallback() {
  if (!writer_) return;
  try {
    end_session(false);
  } catch (...) {  // a destructor must not throw; the session then just has no end
  }
}

void KerasCallback::on_train_begin(const Logs&) {
  if (writer_ || ended_) throw StateError("hparams::KerasCallback cannot be reused across training sessions");
  writer_ = std::make_unique<tensorboard::EventFileWriter>(writer_dir_);
  pb::HParamsPluginData data;
  auto* start = data.mutable_session_start_info();
  start->set_group_name(group_name_);
  start->set_start_time_secs(now_secs());
  for (const auto& [name, value] : hparams_) (*start->mutable_hparams())[name] = value_proto(value);
  write_plugin_data(*writer_, "_hparams_/session_start_info", data);
}

void KerasCallback::on_train_end(const Logs&) {
  if (writer_) end_session(true);
}

void KerasCallback::end_session(bool success) {
  pb::HParamsPluginData data;
  data.mutable_session_end_info()->set_status(success ? pb::STATUS_SUCCESS : pb::STATUS_FAILURE);
  data.mutable_session_end_info()->set_end_time_secs(now_secs());
  auto writer = std::move(writer_);
  ended_ = true;
  write_plugin_data(*writer, "_hparams_/session_end_info", data);
}

namespace {

const Value& lookup(const Trial& trial, const std::string& name, size_t type) {
  const auto it = trial.values.find(name);
  if (it == trial.values.end()) throw ValueError("Trial " + std::to_string(trial.index) + " has no hparam '" + name + "'");
  static const char* wanted[] = {"bool", "number", "string"};
  if (it->second.index() != type)
    throw ValueError("Trial " + std::to_string(trial.index) + ": hparam '" + name + "' is a " + type_name(it->second) +
                     ", not a " + wanted[type]);
  return it->second;
}

}  // namespace

double Trial::number(const std::string& name) const { return std::get<double>(lookup(*this, name, 1)); }
const std::string& Trial::string(const std::string& name) const {
  return std::get<std::string>(lookup(*this, name, 2));
}
bool Trial::boolean(const std::string& name) const { return std::get<bool>(lookup(*this, name, 0)); }

std::vector<CallbackRef> Trial::callbacks(callbacks::TensorBoardOptions tensorboard) const {
  tensorboard.log_dir = run_dir;
  return {callbacks::TensorBoard(std::move(tensorboard)), KerasCallback(run_dir, values),
          RunText(run_dir, command_line)};
}

std::vector<Trial> enumerate_trials(const std::string& log_dir, const std::vector<HParam>& hparams,
                                    const SearchOptions& options) {
  check_hparams(hparams);
  if (options.max_trials < 0)
    throw ValueError("SearchOptions: max_trials must be >= 0, got " + std::to_string(options.max_trials));
  std::vector<std::map<std::string, Value>> combinations;
  if (options.mode == "grid") {
    combinations.emplace_back();
    for (const auto& hparam : hparams) {
      const auto* discrete = std::get_if<Discrete>(&hparam.domain);
      if (!discrete)
        throw ValueError("grid search needs Discrete domains; HParam '" + hparam.name +
                         "' has an interval (use mode \"random\" or list its values)");
      std::vector<std::map<std::string, Value>> extended;
      for (const auto& combination : combinations)
        for (const auto& value : sorted_values(*discrete)) {
          extended.push_back(combination);
          extended.back()[hparam.name] = value;
        }
      combinations = std::move(extended);
    }
    if (options.max_trials > 0 && static_cast<size_t>(options.max_trials) < combinations.size())
      combinations.resize(options.max_trials);
  } else if (options.mode == "random") {
    if (options.max_trials == 0) throw ValueError("random search needs SearchOptions.max_trials > 0");
    std::mt19937_64 engine(options.seed);
    for (int64_t i = 0; i < options.max_trials; ++i) {
      auto& combination = combinations.emplace_back();
      for (const auto& hparam : hparams) combination[hparam.name] = draw(hparam.domain, engine);
    }
  } else {
    throw ValueError("SearchOptions: mode must be \"grid\" or \"random\", got \"" + options.mode + "\"");
  }
  std::vector<Trial> trials;
  for (auto& values : combinations) {
    const int64_t index = static_cast<int64_t>(trials.size());
    trials.push_back({.index = index,
                      .run_dir = (std::filesystem::path(log_dir) / ("run-" + std::to_string(index))).string(),
                      .values = std::move(values),
                      .command_line = options.command_line});
  }
  return trials;
}

std::vector<TrialResult> run_trials(const std::string& log_dir, const std::vector<HParam>& hparams,
                                    const std::vector<Metric>& metrics, const SearchOptions& options,
                                    const std::function<Logs(Trial&)>& train_trial) {
  auto trials = enumerate_trials(log_dir, hparams, options);
  write_experiment(log_dir, hparams, metrics);
  std::vector<TrialResult> results;
  for (auto& trial : trials) {
    std::string values;
    for (const auto& hparam : hparams) values += " " + hparam.name + "=" + display(trial.values.at(hparam.name));
    std::printf("--- Trial %lld/%zu (%s):%s\n", static_cast<long long>(trial.index + 1), trials.size(),
                trial.run_dir.c_str(), values.c_str());
    std::fflush(stdout);
    Logs logs = train_trial(trial);
    std::string line;
    char number[32];
    for (const auto& [key, value] : logs) {
      std::snprintf(number, sizeof number, "%.4f", value);
      line += " " + key + "=" + number;
    }
    std::printf("Trial %lld:%s ->%s\n", static_cast<long long>(trial.index + 1), values.c_str(), line.c_str());
    std::fflush(stdout);
    results.push_back({std::move(trial), std::move(logs)});
  }
  return results;
}

}  // namespace strata::hparams
