// The cluster from the environment: strata-run's STRATA_* variables, torchrun's, or TF_CONFIG.
#include <strata/core/error.h>
#include <strata/distribute/cluster.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace strata::distribute {
namespace {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

int env_int(const char* name, int minimum) {
  std::string text = *env(name);
  size_t used = 0;
  long value = -1;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < minimum || value > 1000000)
    throw ValueError(std::string(name) + "=" + text + " is not an integer >= " + std::to_string(minimum));
  return static_cast<int>(value);
}

int env_int_or(const char* name, int minimum, int fallback) {
  return env(name) ? env_int(name, minimum) : fallback;
}

void check_below(const char* name, int value, const char* limit_name, int limit) {
  if (value >= limit)
    throw ValueError(std::string(name) + "=" + std::to_string(value) + " is not below " + limit_name + "=" +
                     std::to_string(limit));
}

void check_rendezvous(const char* name, const std::string& url) {
  for (const char* scheme : {"tcp://", "file://", "redis://"})
    if (url.rfind(scheme, 0) == 0 && url.size() > std::string(scheme).size()) return;
  throw ValueError(
      std::string(name) + "=" + url +
      " is not a rendezvous store URL (tcp://host:port, file:///directory or redis://host[:port])");
}

// A host for a URL: IPv6 addresses go in brackets.
std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}

// STRATA_RUN_ID and STRATA_TIMEOUT_SECONDS apply whichever variables describe the ranks.
void read_common(ClusterSpec& spec) {
  if (auto run_id = env("STRATA_RUN_ID")) {
    if (run_id->empty()) throw ValueError("STRATA_RUN_ID is set but empty");
    spec.run_id = *run_id;
  }
  if (auto text = env("STRATA_TIMEOUT_SECONDS")) {
    size_t used = 0;
    double seconds = -1;
    try {
      seconds = std::stod(*text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text->size() || !std::isfinite(seconds) || seconds <= 0 || seconds > 1e7)
      throw ValueError("STRATA_TIMEOUT_SECONDS=" + *text + " is not a positive number of seconds");
    spec.timeout = std::chrono::milliseconds(std::max<int64_t>(1, std::llround(seconds * 1000.0)));
  }
}

// The names one launcher gives a process's place in the job.
struct RankVariables {
  const char* rank;
  const char* world_size;
  const char* local_rank;
  const char* local_world_size;
};

// Rank and world size (both required), local rank and local world size (optional), each checked.
ClusterSpec ranks_from(const RankVariables& names) {
  ClusterSpec spec;
  if (!env(names.world_size))
    throw ValueError(std::string(names.rank) + " is set but " + names.world_size + " is not");
  if (!env(names.rank)) throw ValueError(std::string(names.world_size) + " is set but " + names.rank + " is not");
  spec.world_size = env_int(names.world_size, 1);
  spec.rank = env_int(names.rank, 0);
  check_below(names.rank, spec.rank, names.world_size, spec.world_size);
  spec.local_world_size = env_int_or(names.local_world_size, 1, 1);
  spec.local_rank = env_int_or(names.local_rank, 0, 0);
  check_below(names.local_rank, spec.local_rank, names.local_world_size, spec.local_world_size);
  return spec;
}

ClusterSpec from_strata_variables() {
  ClusterSpec spec = ranks_from({"STRATA_RANK", "STRATA_WORLD_SIZE", "STRATA_LOCAL_RANK", "STRATA_LOCAL_WORLD_SIZE"});
  if (auto url = env("STRATA_RENDEZVOUS")) {
    check_rendezvous("STRATA_RENDEZVOUS", *url);
    spec.rendezvous = *url;
  } else if (spec.world_size > 1) {
    throw ValueError(
        "STRATA_RENDEZVOUS is not set; a job of STRATA_WORLD_SIZE=" + std::to_string(spec.world_size) +
        " processes needs a rendezvous store (tcp://host:port, file:///directory or redis://host:port)");
  }
  return spec;
}

ClusterSpec from_torchrun_variables() {
  ClusterSpec spec = ranks_from({"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"});
  auto address = env("MASTER_ADDR");
  auto port = env("MASTER_PORT");
  if (address && port) {
    if (address->empty()) throw ValueError("MASTER_ADDR is set but empty");
    int port_number = env_int("MASTER_PORT", 1);
    if (port_number > 65535) throw ValueError("MASTER_PORT=" + *port + " is not a port number (1..65535)");
    spec.rendezvous = "tcp://" + url_host(*address) + ":" + std::to_string(port_number);
    spec.host_store = spec.rank == 0;
  } else if (spec.world_size > 1) {
    throw ValueError(std::string(address ? "MASTER_PORT" : "MASTER_ADDR") +
                     " is not set; a job of WORLD_SIZE=" + std::to_string(spec.world_size) +
                     " processes meets at MASTER_ADDR:MASTER_PORT");
  }
  return spec;
}

}  // namespace

ClusterSpec parse_tf_config(const std::string& text) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(std::string("TF_CONFIG is not valid JSON: ") + e.what());
  }
  if (!config.is_object() || !config.contains("cluster") || !config["cluster"].is_object())
    throw ValueError("TF_CONFIG: expected an object with a \"cluster\" object, got " + text);
  const nlohmann::json& cluster = config["cluster"];
  std::vector<std::string> chief, workers;
  for (const auto& [type, addresses] : cluster.items()) {
    if (type != "chief" && type != "worker")
      throw ValueError("TF_CONFIG: task type '" + type +
                       "' is not supported; MultiWorkerMirroredStrategy takes 'chief' and 'worker' tasks");
    if (!addresses.is_array())
      throw ValueError("TF_CONFIG: cluster." + type + " must be a list of \"host:port\" addresses, got " +
                       addresses.dump());
    for (const auto& address : addresses) {
      if (!address.is_string() || address.get<std::string>().rfind(':') == std::string::npos)
        throw ValueError("TF_CONFIG: cluster." + type + " has " + address.dump() +
                         ", expected \"host:port\"");
      (type == "chief" ? chief : workers).push_back(address.get<std::string>());
    }
  }
  if (chief.size() > 1)
    throw ValueError("TF_CONFIG: cluster.chief has " + std::to_string(chief.size()) +
                     " addresses, at most 1 allowed");
  if (chief.empty() && workers.empty()) throw ValueError("TF_CONFIG: the cluster has no chief and no worker");

  if (!config.contains("task") || !config["task"].is_object())
    throw ValueError(
        "TF_CONFIG: missing \"task\" ({\"type\": \"worker\", \"index\": 0}): which task is this process?");
  const nlohmann::json& task = config["task"];
  if (!task.contains("type") || !task["type"].is_string())
    throw ValueError("TF_CONFIG: task.type is missing or not a string, got " + task.dump());
  std::string type = task["type"].get<std::string>();
  if (type != "chief" && type != "worker")
    throw ValueError("TF_CONFIG: task type '" + type +
                     "' is not supported; MultiWorkerMirroredStrategy takes 'chief' and 'worker' tasks");
  int index = 0;
  if (task.contains("index")) {
    if (!task["index"].is_number_integer())
      throw ValueError("TF_CONFIG: task.index must be an integer, got " + task["index"].dump());
    index = task["index"].get<int>();
  }
  const std::vector<std::string>& tasks = type == "chief" ? chief : workers;
  if (index < 0 || index >= static_cast<int>(tasks.size()))
    throw ValueError("TF_CONFIG: task index " + std::to_string(index) + " is out of range: cluster." + type +
                     " has " + std::to_string(tasks.size()) + " address(es)");

  ClusterSpec spec;
  spec.world_size = static_cast<int>(chief.size() + workers.size());
  spec.rank = type == "chief" ? 0 : static_cast<int>(chief.size()) + index;
  spec.rendezvous = "tcp://" + (chief.empty() ? workers[0] : chief[0]);
  spec.host_store = spec.rank == 0;
  return spec;
}

ClusterSpec cluster_from_environment() {
  ClusterSpec spec;
  if (env("STRATA_RANK") || env("STRATA_WORLD_SIZE")) {
    spec = from_strata_variables();
  } else if (env("RANK") || env("WORLD_SIZE")) {
    spec = from_torchrun_variables();
  } else if (auto tf_config = env("TF_CONFIG"); tf_config && !tf_config->empty()) {
    spec = parse_tf_config(*tf_config);
  }
  read_common(spec);
  return spec;
}

}  // namespace strata::distribute
