// cluster_from_environment() and parse_tf_config(): strata-run's variables, torchrun's, TF_CONFIG, and the
// errors for bad values. Each case sets exactly the variables it names and puts the environment back after.
#include <strata/core/error.h>
#include <strata/distribute/cluster.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

namespace {

using namespace strata::distribute;
using Catch::Matchers::Contains;
using Catch::Matchers::Message;

// Clears every variable cluster_from_environment reads, sets `values`, and restores all of them when
// destroyed.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::map<std::string, std::string>& values) {
    for (const char* name : kNames) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
      ::unsetenv(name);
    }
    for (const auto& [name, value] : values) ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }

 private:
  static constexpr const char* kNames[] = {
      "STRATA_RANK",       "STRATA_WORLD_SIZE", "STRATA_LOCAL_RANK",      "STRATA_LOCAL_WORLD_SIZE",
      "STRATA_RENDEZVOUS", "STRATA_RUN_ID",     "STRATA_TIMEOUT_SECONDS", "RANK",
      "WORLD_SIZE",        "LOCAL_RANK",        "LOCAL_WORLD_SIZE",       "MASTER_ADDR",
      "MASTER_PORT",       "TF_CONFIG"};
  std::map<std::string, std::optional<std::string>> saved_;
};

const std::string kTwoWorkersAndChief =
    R"({"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 1}})";

}  // namespace

TEST_CASE("cluster: no variables describe a single process", "[distribute][cluster]") {
  ScopedEnvironment env({});
  ClusterSpec spec = cluster_from_environment();
  CHECK(spec.rank == 0);
  CHECK(spec.world_size == 1);
  CHECK(spec.local_rank == 0);
  CHECK(spec.local_world_size == 1);
  CHECK(spec.rendezvous.empty());
  CHECK_FALSE(spec.host_store);
  CHECK(spec.run_id == "strata");
  CHECK(spec.timeout == std::chrono::minutes(5));
  CHECK(spec.is_chief());
  CHECK_FALSE(spec.distributed());
}

TEST_CASE("cluster: strata-run's variables", "[distribute][cluster]") {
  ScopedEnvironment env({{"STRATA_RANK", "3"},
                         {"STRATA_WORLD_SIZE", "4"},
                         {"STRATA_LOCAL_RANK", "1"},
                         {"STRATA_LOCAL_WORLD_SIZE", "2"},
                         {"STRATA_RENDEZVOUS", "tcp://10.0.0.1:29500"},
                         {"STRATA_RUN_ID", "job7"},
                         {"STRATA_TIMEOUT_SECONDS", "2.5"},
                         // lower precedence: ignored
                         {"RANK", "0"},
                         {"WORLD_SIZE", "9"},
                         {"TF_CONFIG", kTwoWorkersAndChief}});
  ClusterSpec spec = cluster_from_environment();
  CHECK(spec.rank == 3);
  CHECK(spec.world_size == 4);
  CHECK(spec.local_rank == 1);
  CHECK(spec.local_world_size == 2);
  CHECK(spec.rendezvous == "tcp://10.0.0.1:29500");
  CHECK_FALSE(spec.host_store);
  CHECK(spec.run_id == "job7");
  CHECK(spec.timeout == std::chrono::milliseconds(2500));
  CHECK_FALSE(spec.is_chief());
  CHECK(spec.distributed());
}

TEST_CASE("cluster: bad strata-run variables name the variable and value", "[distribute][cluster]") {
  const std::map<std::string, std::string> good{
      {"STRATA_RANK", "1"}, {"STRATA_WORLD_SIZE", "2"}, {"STRATA_RENDEZVOUS", "file:///tmp/x"}};
  auto with = [&](const std::string& name, const std::optional<std::string>& value) {
    auto values = good;
    if (value)
      values[name] = *value;
    else
      values.erase(name);
    return values;
  };
  struct Case {
    std::string name;
    std::optional<std::string> value;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"STRATA_RANK", "5", "STRATA_RANK=5 is not below STRATA_WORLD_SIZE=2"},
           {"STRATA_RANK", "-1", "STRATA_RANK=-1 is not an integer >= 0"},
           {"STRATA_RANK", "one", "STRATA_RANK=one is not an integer >= 0"},
           {"STRATA_RANK", "1x", "STRATA_RANK=1x is not an integer >= 0"},
           {"STRATA_WORLD_SIZE", "0", "STRATA_WORLD_SIZE=0 is not an integer >= 1"},
           {"STRATA_WORLD_SIZE", std::nullopt, "STRATA_RANK is set but STRATA_WORLD_SIZE is not"},
           {"STRATA_RANK", std::nullopt, "STRATA_WORLD_SIZE is set but STRATA_RANK is not"},
           {"STRATA_LOCAL_RANK", "2", "STRATA_LOCAL_RANK=2 is not below STRATA_LOCAL_WORLD_SIZE=1"},
           {"STRATA_RENDEZVOUS", "localhost:29500",
            "STRATA_RENDEZVOUS=localhost:29500 is not a rendezvous store URL"},
           {"STRATA_RENDEZVOUS", std::nullopt, "STRATA_RENDEZVOUS is not set"},
           {"STRATA_TIMEOUT_SECONDS", "0", "STRATA_TIMEOUT_SECONDS=0 is not a positive number of seconds"},
           {"STRATA_TIMEOUT_SECONDS", "5s", "STRATA_TIMEOUT_SECONDS=5s is not a positive number of seconds"},
           {"STRATA_TIMEOUT_SECONDS", "nan",
            "STRATA_TIMEOUT_SECONDS=nan is not a positive number of seconds"},
           {"STRATA_RUN_ID", "", "STRATA_RUN_ID is set but empty"},
       }) {
    INFO(c.name << "=" << c.value.value_or("(unset)"));
    ScopedEnvironment env(with(c.name, c.value));
    CHECK_THROWS_MATCHES(cluster_from_environment(), strata::ValueError,
                         Catch::Matchers::Predicate<strata::ValueError>(
                             [&](const auto& e) { return std::string(e.what()).find(c.message) == 0; },
                             "starts with: " + c.message));
  }
}

TEST_CASE("cluster: torchrun's variables; rank 0 hosts the store at MASTER_ADDR:MASTER_PORT",
          "[distribute][cluster]") {
  {
    ScopedEnvironment env({{"RANK", "0"},
                           {"WORLD_SIZE", "2"},
                           {"LOCAL_RANK", "0"},
                           {"LOCAL_WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "127.0.0.1"},
                           {"MASTER_PORT", "29511"},
                           {"STRATA_TIMEOUT_SECONDS", "0.25"},
                           {"TF_CONFIG", kTwoWorkersAndChief}});
    ClusterSpec spec = cluster_from_environment();
    CHECK(spec.rank == 0);
    CHECK(spec.world_size == 2);
    CHECK(spec.local_world_size == 2);
    CHECK(spec.rendezvous == "tcp://127.0.0.1:29511");
    CHECK(spec.host_store);
    CHECK(spec.timeout == std::chrono::milliseconds(250));
  }
  {
    ScopedEnvironment env(
        {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "::1"}, {"MASTER_PORT", "29511"}});
    ClusterSpec spec = cluster_from_environment();
    CHECK(spec.rank == 1);
    CHECK(spec.local_rank == 0);
    CHECK(spec.local_world_size == 1);
    CHECK(spec.rendezvous == "tcp://[::1]:29511");
    CHECK_FALSE(spec.host_store);
  }
  {
    ScopedEnvironment env({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
    CHECK_THROWS_MATCHES(cluster_from_environment(), strata::ValueError,
                         Message("RANK=2 is not below WORLD_SIZE=2"));
  }
  {
    ScopedEnvironment env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}});
    CHECK_THROWS_WITH(cluster_from_environment(), Contains("MASTER_PORT is not set"));
  }
  {
    ScopedEnvironment env(
        {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "99999"}});
    CHECK_THROWS_WITH(cluster_from_environment(), Contains("MASTER_PORT=99999"));
  }
}

TEST_CASE("cluster: TF_CONFIG with a chief and workers", "[distribute][cluster]") {
  ClusterSpec worker = parse_tf_config(kTwoWorkersAndChief);
  CHECK(worker.rank == 2);
  CHECK(worker.world_size == 3);
  CHECK(worker.local_rank == 0);
  CHECK(worker.local_world_size == 1);
  CHECK(worker.rendezvous == "tcp://host0:2222");
  CHECK_FALSE(worker.host_store);

  ClusterSpec chief = parse_tf_config(
      R"({"cluster": {"chief": ["host0:2222"], "worker": ["host1:2222"]}, "task": {"type": "chief", "index": 0}})");
  CHECK(chief.rank == 0);
  CHECK(chief.world_size == 2);
  CHECK(chief.host_store);
  CHECK(chief.rendezvous == "tcp://host0:2222");

  // Read from the environment, with STRATA_TIMEOUT_SECONDS still applying.
  ScopedEnvironment env({{"TF_CONFIG", kTwoWorkersAndChief}, {"STRATA_TIMEOUT_SECONDS", "7"}});
  ClusterSpec from_env = cluster_from_environment();
  CHECK(from_env.rank == 2);
  CHECK(from_env.world_size == 3);
  CHECK(from_env.timeout == std::chrono::seconds(7));
}

TEST_CASE("cluster: TF_CONFIG with workers only: worker 0 is the chief", "[distribute][cluster]") {
  auto with_index = [&](int index) {
    std::string text =
        R"({"cluster": {"worker": ["a:1", "b:2", "c:3"]}, "task": {"type": "worker", "index": )";
    text += std::to_string(index);
    text += "}}";
    return parse_tf_config(text);
  };
  ClusterSpec first = with_index(0);
  CHECK(first.rank == 0);
  CHECK(first.world_size == 3);
  CHECK(first.host_store);
  CHECK(first.rendezvous == "tcp://a:1");
  ClusterSpec last = with_index(2);
  CHECK(last.rank == 2);
  CHECK_FALSE(last.host_store);
  CHECK(last.rendezvous == "tcp://a:1");
}

TEST_CASE("cluster: bad TF_CONFIG is a ValueError saying what is wrong", "[distribute][cluster]") {
  CHECK_THROWS_MATCHES(
      parse_tf_config(
          R"({"cluster": {"worker": ["a:1"], "ps": ["p:1"]}, "task": {"type": "worker", "index": 0}})"),
      strata::ValueError,
      Message("TF_CONFIG: task type 'ps' is not supported; MultiWorkerMirroredStrategy takes 'chief' and "
              "'worker' "
              "tasks"));
  CHECK_THROWS_MATCHES(
      parse_tf_config(R"({"cluster": {"worker": ["a:1"]}, "task": {"type": "evaluator", "index": 0}})"),
      strata::ValueError,
      Message(
          "TF_CONFIG: task type 'evaluator' is not supported; MultiWorkerMirroredStrategy takes 'chief' and "
          "'worker' tasks"));
  CHECK_THROWS_WITH(parse_tf_config(R"({"cluster": {"worker": ["a:1"]}})"),
                    Contains("TF_CONFIG: missing \"task\""));
  CHECK_THROWS_MATCHES(
      parse_tf_config(R"({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}})"),
      strata::ValueError,
      Message("TF_CONFIG: task index 2 is out of range: cluster.worker has 2 address(es)"));
  CHECK_THROWS_WITH(
      parse_tf_config(R"({"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}})"),
      Contains("TF_CONFIG: task index 0 is out of range: cluster.chief has 0 address(es)"));
  CHECK_THROWS_WITH(parse_tf_config(R"({"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief"}})"),
                    Contains("cluster.chief has 2 addresses, at most 1 allowed"));
  CHECK_THROWS_WITH(parse_tf_config(R"({"cluster": {"worker": ["nohostport"]}, "task": {"type": "worker"}})"),
                    Contains("expected \"host:port\""));
  CHECK_THROWS_WITH(parse_tf_config("{not json"), Contains("TF_CONFIG is not valid JSON"));
  ScopedEnvironment env(std::map<std::string, std::string>{
      {"TF_CONFIG", R"({"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}})"}});
  CHECK_THROWS_AS(cluster_from_environment(), strata::ValueError);
}
