// The Gloo communicator: CPU collectives over Gloo's TCP transport, its full mesh connected through our Store.
#include <strata/distribute/collective_checks.h>
#include <strata/distribute/communicator.h>
#include <strata/distribute/distributed_error.h>
#include <strata/distribute/store.h>

#include <ATen/ATen.h>
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/common/logging.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace strata::distribute {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Gloo's rendezvous reads and writes our Store through this adapter. Gloo's keys are the ranks ("0", "1", ...);
// they go under "gloo/" so they stay apart from the store's other users (the NCCL id, the Strategy's keys). A key
// that does not come in time becomes a DistributedError naming the store, the rank that did not publish its address,
// its key and the time waited (Gloo lets it propagate out of connectFullMesh).
class GlooStoreAdapter : public gloo::rendezvous::Store {
 public:
  GlooStoreAdapter(distribute::Store& store, int rank, int size, milliseconds timeout)
      : store_(store), rank_(rank), size_(size), timeout_(timeout) {}

  void set(const std::string& key, const std::vector<char>& data) override { store_.set(kPrefix + key, data); }

  std::vector<char> get(const std::string& key) override {
    const Clock::time_point start = Clock::now();
    return fetch(key, timeout_, start);
  }

  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }

  void wait(const std::vector<std::string>& keys, const milliseconds& timeout) override {
    const Clock::time_point start = Clock::now();
    for (const std::string& key : keys) {
      if (store_.check({kPrefix + key})) continue;
      const auto left = std::chrono::duration_cast<milliseconds>(start + timeout - Clock::now());
      fetch(key, std::max(left, milliseconds(0)), start);
    }
  }

 private:
  static inline const std::string kPrefix = "gloo/";

  std::vector<char> fetch(const std::string& key, milliseconds timeout, Clock::time_point start) {
    try {
      return store_.get(kPrefix + key, timeout);
    } catch (const Error& error) {
      const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
      const bool is_rank = !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isdigit(c); });
      const std::string what = is_rank ? "rank " + key + "'s address (key '" + kPrefix + key + "')"
                                       : "key '" + kPrefix + key + "'";
      throw DistributedError("Gloo rendezvous: rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                             " waited " + detail::seconds_text(waited) + " for " + what + " in store " +
                             store_.describe() + "; is that process running and using the same store? (" +
                             error.what() + ")");
    }
  }

  distribute::Store& store_;
  const int rank_;
  const int size_;
  const milliseconds timeout_;
};

class GlooCommunicator final : public Communicator {
 public:
  GlooCommunicator(std::shared_ptr<gloo::rendezvous::Context> context, milliseconds timeout)
      : context_(std::move(context)), timeout_(timeout) {}

  int rank() const override { return context_->rank; }
  int size() const override { return context_->size; }
  std::string backend() const override { return "gloo"; }

  void all_reduce_sum(at::Tensor& tensor) override {
    const std::string who = "Gloo all_reduce_sum";
    detail::check_collective_tensor(who, tensor, at::kCPU);
    detail::check_dtype(who, tensor, {at::kFloat, at::kDouble, at::kLong});
    if (size() == 1 || tensor.numel() == 0) return;
    run<gloo::AllreduceOptions>("all_reduce_sum", [&](gloo::AllreduceOptions& options) {
      switch (tensor.scalar_type()) {
        case at::kFloat: set_sum<float>(options, tensor); break;
        case at::kDouble: set_sum<double>(options, tensor); break;
        default: set_sum<int64_t>(options, tensor); break;
      }
      gloo::allreduce(options);
    });
  }

  // Broadcast and all_gather move bytes, so any dtype travels.
  void broadcast(at::Tensor& tensor, int root) override {
    const std::string who = "Gloo broadcast";
    detail::check_collective_tensor(who, tensor, at::kCPU);
    detail::check_root(who, root, size());
    if (size() == 1 || tensor.numel() == 0) return;
    run<gloo::BroadcastOptions>("broadcast", [&](gloo::BroadcastOptions& options) {
      options.setOutput(static_cast<uint8_t*>(tensor.data_ptr()), tensor.nbytes());
      options.setRoot(root);
      gloo::broadcast(options);
    });
  }

  at::Tensor all_gather(const at::Tensor& tensor) override {
    const std::string who = "Gloo all_gather";
    detail::check_collective_tensor(who, tensor, at::kCPU);
    std::vector<int64_t> shape{size()};
    shape.insert(shape.end(), tensor.sizes().begin(), tensor.sizes().end());
    at::Tensor gathered = at::empty(shape, tensor.options());
    if (size() == 1 || tensor.numel() == 0) return gathered.copy_(tensor.unsqueeze(0));
    run<gloo::AllgatherOptions>("all_gather", [&](gloo::AllgatherOptions& options) {
      options.setInput(static_cast<uint8_t*>(tensor.data_ptr()), tensor.nbytes());
      options.setOutput(static_cast<uint8_t*>(gathered.data_ptr()), gathered.nbytes());
      gloo::allgather(options);
    });
    return gathered;
  }

  void barrier() override {
    if (size() == 1) return;
    run<gloo::BarrierOptions>("barrier", [](gloo::BarrierOptions& options) { gloo::barrier(options); });
  }

  // The peers see this rank's sockets close, as when its process dies.
  void abort() override { context_->closeConnections(); }

 private:
  template <typename T>
  static void set_sum(gloo::AllreduceOptions& options, at::Tensor& tensor) {
    // In place: without an input buffer Gloo reduces the output buffer's contents.
    options.setOutput(tensor.data_ptr<T>(), static_cast<size_t>(tensor.numel()));
    options.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<T>));
  }

  // Runs one collective with options of type Options, under the next tag (so back-to-back collectives never match
  // each other's messages), translating Gloo's errors. After a failure the mesh is broken (a peer is gone or out of
  // step), so every later call fails at once with the first error instead of waiting out the timeout again.
  template <typename Options, typename Body>
  void run(const char* collective, Body&& body) {
    if (!failure_.empty())
      throw DistributedError("Gloo " + std::string(collective) + " on rank " + std::to_string(rank()) + " of " +
                             std::to_string(size()) + ": the communicator failed earlier and cannot be used: " +
                             failure_);
    Options options(context_);
    options.setTag(next_tag_++);
    options.setTimeout(timeout_);
    try {
      body(options);
    } catch (const gloo::EnforceNotMet& error) {
      fail(collective, error.what());
    } catch (const gloo::Exception& error) {
      fail(collective, error.what());
    }
  }

  [[noreturn]] void fail(const char* collective, const std::string& what) {
    failure_ = "Gloo " + std::string(collective) + " on rank " + std::to_string(rank()) + " of " +
               std::to_string(size()) + " failed: " + what + "; a peer process may have died or stopped responding " +
               "(timeout " + detail::seconds_text(timeout_) + ")";
    throw DistributedError(failure_);
  }

  std::shared_ptr<gloo::rendezvous::Context> context_;
  milliseconds timeout_;
  uint32_t next_tag_ = 0;
  std::string failure_;
};

}  // namespace

std::unique_ptr<Communicator> make_gloo_communicator(Store& store, int rank, int size, milliseconds timeout,
                                                     const std::string& hostname) {
  detail::check_group("make_gloo_communicator", rank, size, timeout);
  const std::string where = "Gloo rendezvous of rank " + std::to_string(rank) + " of " + std::to_string(size) +
                            " through store " + store.describe();
  try {
    // An empty hostname makes Gloo use this host's name (gethostname), resolved.
    gloo::transport::tcp::attr attr;
    attr.hostname = hostname;
    std::shared_ptr<gloo::transport::Device> device = gloo::transport::tcp::CreateDevice(attr);
    auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    context->setTimeout(timeout);
    GlooStoreAdapter adapter(store, rank, size, timeout);
    context->connectFullMesh(adapter, device);
    return std::make_unique<GlooCommunicator>(std::move(context), timeout);
  } catch (const gloo::EnforceNotMet& error) {
    throw DistributedError(where + " failed: " + error.what() + " (timeout " + detail::seconds_text(timeout) + ")");
  } catch (const gloo::Exception& error) {
    throw DistributedError(where + " failed: " + error.what() + " (timeout " + detail::seconds_text(timeout) + ")");
  }
}

}  // namespace strata::distribute
