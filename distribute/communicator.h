#pragma once
// Collectives among the processes of a job, one rank each, on an existing engine: Gloo for CPU tensors,
// NCCL for CUDA tensors. A Communicator is used from one thread at a time (the Strategy's communication
// thread); every process must call the same collectives in the same order.

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>

namespace strata::distribute {

class Store;

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "gloo" or "nccl"

  // Sums `tensor` over all processes, in place. Contiguous float32, float64 or int64 tensors on the
  // communicator's device. DistributedError (naming the peer when known) when a peer dies or the timeout passes.
  virtual void all_reduce_sum(at::Tensor& tensor) = 0;
  // Copies rank `root`'s `tensor` into every other process's `tensor` (same shape and dtype everywhere).
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  // Every process's `tensor` (same shape and dtype on all), stacked along a new first dimension of size().
  virtual at::Tensor all_gather(const at::Tensor& tensor) = 0;
  virtual void barrier() = 0;

  // For replicas of one process (MirroredStrategy), called from another thread when one replica has failed, so
  // the others stop waiting for it: Gloo closes this rank's connections, which makes its peers' pending and later
  // collectives fail at once (call it for the failed rank); NCCL makes this rank's pending and later collectives
  // abort (call it for the ranks still waiting). Either way they fail with a DistributedError.
  virtual void abort() = 0;
};

// Gloo over TCP: connects the full mesh through `store` (each rank publishes its address). `hostname` is the
// address peers reach this process at (empty: this host's name, resolved). DistributedError when a peer does not
// appear within `timeout`; the same timeout bounds every collective.
std::unique_ptr<Communicator> make_gloo_communicator(Store& store, int rank, int size, std::chrono::milliseconds timeout,
                                                     const std::string& hostname = "");

// Whether this build of Strata has NCCL (built when CMake found CUDA and NCCL).
bool nccl_available();
// NCCL on CUDA device `device`: rank 0 makes the unique id and publishes it through `store`. Collectives run on a
// stream of their own, ordered after the work already queued on the device's default stream, and are aborted
// with a DistributedError when a peer fails or `timeout` passes. StateError in a build without NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(Store& store, int rank, int size, int device,
                                                     std::chrono::milliseconds timeout);

}  // namespace strata::distribute
