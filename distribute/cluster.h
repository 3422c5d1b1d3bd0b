#pragma once
// Where this process sits in a distributed job: its rank, the number of processes, and the store they meet
// through. strata-run sets it in the environment; users who start processes themselves set the same
// variables, torchrun's, or a TF_CONFIG cluster spec.

#include <chrono>
#include <string>

namespace strata::distribute {

struct ClusterSpec {
  int rank = 0;        // this process, 0 .. world_size-1; rank 0 is the chief
  int world_size = 1;  // processes in the job (one replica each)
  int local_rank = 0;  // this process among those on its host (picks its GPU)
  int local_world_size = 1;
  // The rendezvous store: "tcp://host:port", "file:///shared/dir" or "redis://host:port"; empty for a single
  // process.
  std::string rendezvous;
  // This process hosts the tcp:// store itself (rank 0 of a TF_CONFIG or MASTER_ADDR job started by hand).
  bool host_store = false;
  // Keys of this job in a shared store begin with it, so jobs (and restarts) don't read each other's keys.
  std::string run_id = "strata";
  // How long rendezvous and each collective wait for the other processes before failing.
  std::chrono::milliseconds timeout = std::chrono::minutes(5);

  bool is_chief() const { return rank == 0; }
  bool distributed() const { return world_size > 1; }
};

// Reads, in this order of precedence:
//   STRATA_RANK, STRATA_WORLD_SIZE, STRATA_LOCAL_RANK, STRATA_LOCAL_WORLD_SIZE, STRATA_RENDEZVOUS,
//   STRATA_RUN_ID, STRATA_TIMEOUT_SECONDS (what strata-run sets);
//   torchrun's RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (rank 0 hosts the
//   tcp:// store at MASTER_ADDR:MASTER_PORT);
//   TF_CONFIG (parse_tf_config);
// and otherwise describes a single process. Bad values throw ValueError naming the variable.
ClusterSpec cluster_from_environment();

// tf.distribute's TF_CONFIG: {"cluster": {"chief": ["host:port"], "worker": ["host:port", ...]},
// "task": {"type": "worker", "index": 1}}. The chief (or worker 0 when there is no chief) is rank 0 and hosts
// the tcp:// store at its address; workers follow in order. Types other than chief and worker ("ps",
// "evaluator") are rejected with a ValueError, as are a missing task and an index out of range.
ClusterSpec parse_tf_config(const std::string& json);

}  // namespace strata::distribute
