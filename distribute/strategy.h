#pragma once
// Distribution strategies, as tf.distribute's: the same compile/fit/evaluate/predict code on one device, on
// several devices of one process, or on many processes, one replica per device (data parallelism).
//
//   distribute::MultiWorkerMirroredStrategy strategy;      // reads the cluster from strata-run's environment
//   auto scope = strategy.scope();                         // Keras' `with strategy.scope():`
//   Sequential model({...});
//   model.compile({...});                                  // or compile({..., .strategy = strategy})
//   model.fit(x, y, {.batch_size = 128});                  // 128 is the global batch
//
// Under a strategy with several replicas, fit() gives each replica its share of every global batch, the
// replicas' gradients are summed with all-reduce (in buckets that start while backward is still running),
// metrics are summed across replicas so every worker reports the global value, only the chief prints and
// writes logs and checkpoints (Callback::chief_only), and the chief's initial weights are copied to every
// replica after checking that all replicas built the same model.
//
// A Strategy is a handle: copies share one group of replicas.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <strata/distribute/cluster.h>
#include <strata/models/model_data.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace strata {
class Model;
namespace metrics {
class Metric;
}
}  // namespace strata

namespace strata::distribute {

class ReplicaGroup;
class Strategy;
Strategy current_strategy();

// tf.distribute.experimental.CommunicationImplementation
enum class CommunicationImplementation { kAuto, kRing, kNccl };

// tf.distribute.experimental.CommunicationOptions
struct CommunicationOptions {
  // Gradients travel in buckets of about this many bytes; a bucket's all-reduce starts as soon as backward has
  // produced all of its gradients. 0 picks the default (1 MiB).
  int64_t bytes_per_pack = 0;
  // How long rendezvous and each collective wait for the other workers (default: the cluster's timeout).
  std::optional<double> timeout_seconds = std::nullopt;
  // kRing is Gloo (CPU tensors), kNccl is NCCL (CUDA tensors); kAuto picks by the model's device.
  CommunicationImplementation implementation = CommunicationImplementation::kAuto;
};

class Strategy {
 public:
  // The default strategy: one replica, no communication.
  Strategy();
  virtual ~Strategy();
  Strategy(const Strategy&) = default;
  Strategy(Strategy&&) noexcept = default;
  Strategy& operator=(const Strategy&) = default;
  Strategy& operator=(Strategy&&) noexcept = default;

  // "OneDeviceStrategy", "MirroredStrategy", "MultiWorkerMirroredStrategy".
  const std::string& class_name() const;
  int num_replicas_in_sync() const;
  // This handle's replica; replica 0 is the chief.
  int replica_id() const;
  bool is_chief() const;
  bool distributed() const { return num_replicas_in_sync() > 1; }
  // The device this replica computes on. fit(), evaluate() and predict() move the model's weights there before the
  // first step and each batch as it comes; metric states stay on the CPU.
  at::Device device() const;
  // MirroredStrategy: handles for this process's replicas after the first (one per further device), on which
  // the model's loops run its copies (models/local_replicas.h); empty for the other strategies.
  std::vector<Strategy> local_replicas() const;
  // MirroredStrategy, after replica `failed` of this process failed: frees the others from waiting for it in a
  // collective (theirs then fail with a DistributedError at once, not after the timeout). The strategy cannot be
  // used afterwards.
  void abort_local_replicas(int failed) const;
  // Whether this replica computes on a copy of the model in the model's own process (a MirroredStrategy's
  // replicas after the first). A copy runs no callbacks, as the model itself runs them once, and leaves the
  // process's global random generator to the model.
  bool is_model_copy() const;

  // Keras' `with strategy.scope():` as a guard: while it lives, current_strategy() is this one, and models
  // compiled then use it.
  class Scope {
   public:
    explicit Scope(const Strategy& strategy);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    std::shared_ptr<ReplicaGroup> previous_;
  };
  [[nodiscard]] Scope scope() const { return Scope(*this); }

  // ---- What the model loops (and a custom train_step or training loop) call. ----

  // This replica's rows [begin, end) of a global batch of `global_size` samples: contiguous blocks in replica
  // order whose sizes differ by at most one.
  std::pair<int64_t, int64_t> replica_rows(int64_t global_size) const;
  // This replica's share of a global batch (its replica_rows of every tensor). It remembers both sizes for
  // replica_objective(); fit() and evaluate() call it, and a custom train_step receives its result.
  Batch replica_batch(const Batch& global) const;
  // The loss to call backward() on: `loss` times (local samples / global samples) of the latest replica_batch,
  // so that the gradients summed over the replicas are those of the global batch's mean loss. It also arms the
  // gradient hooks for the backward pass that follows. With one replica it returns `loss`.
  at::Tensor replica_objective(const at::Tensor& loss) const;
  // Replaces each gradient by its sum over the replicas. Buckets that hooks started during backward are waited
  // for; the rest are reduced now. Every replica calls it once per step with the same variables; an undefined
  // gradient counts as zeros.
  void reduce_gradients(std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables) const;
  // How many times reduce_gradients has run: fit() checks that a custom train_step reduces its gradients, since
  // replicas that apply their own would drift apart.
  int64_t gradient_reductions() const;
  // Each replica's `local` rows (its replica_rows of a global batch of `global_size` samples), concatenated in
  // replica order on every replica: the global batch's rows (predict()'s outputs). `local` must be on the CPU.
  at::Tensor gather_replica_rows(const at::Tensor& local, int64_t global_size) const;
  // Sums each tensor over the replicas, in place.
  void all_reduce_sum(std::vector<at::Tensor>& tensors) const;
  // The sum of `local` over the replicas, differentiable: in backward, the gradient reaching each replica's
  // `local` is the sum of every replica's gradient of the sum (SyncBatchNormalization's statistics).
  at::Tensor all_reduce_sum_differentiable(const at::Tensor& local) const;
  // Copies the chief's tensors into every replica's, in place.
  void broadcast_from_chief(std::vector<at::Tensor>& tensors) const;
  uint64_t broadcast_from_chief(uint64_t value) const;
  // Checks that every replica has the chief's weights (names and shapes, in order), failing on all of them with a
  // DistributedError naming the first weight that differs and the worker it differs on; then copies the chief's
  // weights into every replica. fit() and evaluate() call it once per model.
  void prepare_model(Model& model) const;
  // Sums the metrics' state tensors over the replicas while the guard lives, so result() is the global value;
  // the guard puts each replica's own state back.
  class GlobalMetricState {
   public:
    GlobalMetricState(const Strategy& strategy, const std::vector<std::shared_ptr<metrics::Metric>>& metrics);
    ~GlobalMetricState();
    GlobalMetricState(const GlobalMetricState&) = delete;
    GlobalMetricState& operator=(const GlobalMetricState&) = delete;

   private:
    std::vector<at::Tensor> states_;
    std::vector<at::Tensor> saved_;
  };

 protected:
  explicit Strategy(std::shared_ptr<ReplicaGroup> group);
  const ReplicaGroup& group() const { return *group_; }

 private:
  friend Strategy current_strategy();
  std::shared_ptr<ReplicaGroup> group_;
};

// tf.distribute.OneDeviceStrategy: one replica, on `device` (`at::Device("cuda:0")` trains on the first GPU).
class OneDeviceStrategy : public Strategy {
 public:
  explicit OneDeviceStrategy(at::Device device = at::kCPU);
};

// tf.distribute.MultiWorkerMirroredStrategy: one replica per process, across hosts. Joins the job described
// by `cluster` (default: cluster_from_environment()), connecting Gloo through its rendezvous store. Each replica
// computes on the CUDA device of its local rank when CUDA is present (kAuto) or required (kNccl), with NCCL for
// its collectives, and on the CPU with Gloo otherwise (kRing, or no GPU). Every process of the job must construct it; the constructor returns when all have joined,
// or throws DistributedError after the timeout. The global random generator is then seeded with the chief's
// draw, so shuffles of fit() and unseeded datasets agree across workers.
class MultiWorkerMirroredStrategy : public Strategy {
 public:
  explicit MultiWorkerMirroredStrategy(CommunicationOptions options = {},
                                       std::optional<ClusterSpec> cluster = std::nullopt);
  const ClusterSpec& cluster() const;
};

// tf.distribute.MirroredStrategy: one process, one replica per device in `devices` (default: every visible GPU,
// or the CPU when there is none). The model itself is replica 0 on the first device; its loops copy it (from its
// config, as clone_model, and the same compile configuration, so it must be Sequential, functional or a
// registered class) onto each further device and run the copies on their own threads, summing gradients and
// metrics as MultiWorkerMirroredStrategy does: NCCL between GPUs, Gloo over loopback between CPU replicas. The
// CPU may be listed several times (logical devices, as tf.config's virtual CPUs) to run several replicas there;
// a GPU may be listed once. Only the model's call runs callbacks and prints (models/local_replicas.h).
class MirroredStrategy : public Strategy {
 public:
  explicit MirroredStrategy(std::vector<at::Device> devices = {}, CommunicationOptions options = {});
  // The replicas' devices, in replica order.
  std::vector<at::Device> devices() const;
};

// The strategy in effect on this thread: the innermost scope()'s, or the one fit()/evaluate() of a model
// compiled with a strategy runs under; otherwise the default (one replica).
Strategy current_strategy();

}  // namespace strata::distribute
