#pragma once
// The state a Strategy handle shares: the cluster, the rendezvous store (and the TCP store server when this
// process hosts it), the communicators, the communication thread and the gradient buckets. Internal to
// distribute/.

#include <strata/distribute/cluster.h>
#include <strata/distribute/comm_thread.h>
#include <strata/distribute/communicator.h>
#include <strata/distribute/gradient_buckets.h>
#include <strata/distribute/store.h>
#include <strata/distribute/strategy.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace strata::distribute {

class ReplicaGroup {
 public:
  // One replica on `device`, no communication.
  explicit ReplicaGroup(at::Device device = at::kCPU, std::string class_name = "OneDeviceStrategy");
  // Joins the job `cluster` describes (see MultiWorkerMirroredStrategy), computing on `device` when given and
  // otherwise on the local rank's GPU (or the CPU).
  ReplicaGroup(std::string class_name, ClusterSpec cluster, CommunicationOptions options,
               std::optional<at::Device> device = std::nullopt);
  ~ReplicaGroup();

  const std::string& class_name() const { return class_name_; }
  const ClusterSpec& cluster() const { return cluster_; }
  bool distributed() const { return cluster_.world_size > 1; }
  at::Device device() const { return device_; }

  // The collective on the communication thread, after what was queued before; waits for it.
  void all_reduce_sum(at::Tensor& tensor);
  void broadcast(at::Tensor& tensor, int root);
  at::Tensor all_gather(const at::Tensor& tensor);
  // Starts an all-reduce without waiting (a gradient bucket).
  std::future<void> start_all_reduce_sum(at::Tensor tensor);

  // The gradient buckets for `variables`, made (and hooked) on first use or when the variables change.
  GradientBuckets& buckets_for(const std::vector<at::Tensor>& variables);
  void arm_buckets();

  // MirroredStrategy: replica 0's group keeps the in-process store server and the groups of the process's
  // other replicas.
  void adopt_local_replicas(std::unique_ptr<TcpStoreServer> server, std::vector<std::shared_ptr<ReplicaGroup>> others);
  const std::vector<std::shared_ptr<ReplicaGroup>>& local_replicas() const { return local_replicas_; }
  // After a replica of this process failed, from another thread: frees this one from waiting for it
  // (Communicator::abort: the failed replica closes its Gloo connections, the others abort their NCCL waits).
  void abort_after_failure(bool failed_here);

  // The shares of the latest replica_batch.
  int64_t local_size = 0;
  int64_t global_size = 0;
  int64_t gradient_reductions = 0;

 private:
  Communicator& communicator_for(const at::Tensor& tensor);

  std::string class_name_;
  ClusterSpec cluster_;
  CommunicationOptions options_;
  at::Device device_ = at::kCPU;
  std::unique_ptr<TcpStoreServer> server_;
  // Declared after the server, which their stores use, so they close first.
  std::vector<std::shared_ptr<ReplicaGroup>> local_replicas_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Communicator> gloo_;
  std::unique_ptr<Communicator> nccl_;
  std::mutex nccl_mutex_;  // made on the communication thread, aborted from another
  std::unique_ptr<GradientBuckets> buckets_;
  // Declared last so it stops first: its jobs use the communicators.
  std::unique_ptr<CommThread> thread_;
};

}  // namespace strata::distribute
