// The NCCL communicator: collectives on CUDA tensors. Built only when CMake found CUDA and NCCL (STRATA_HAVE_NCCL);
// this is the one file that sees their headers, and it uses the CUDA runtime API directly (no c10/cuda), so the
// same source builds against a CPU-only LibTorch as against a CUDA one.
#include <strata/core/error.h>
#include <strata/distribute/communicator.h>

#if STRATA_HAVE_NCCL
#include <strata/distribute/collective_checks.h>
#include <strata/distribute/distributed_error.h>
#include <strata/distribute/store.h>

#include <ATen/ATen.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#endif

namespace strata::distribute {

#if STRATA_HAVE_NCCL

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Rank 0 publishes the communicator's unique id under this key; the others read it.
const std::string kUniqueIdKey = "nccl_unique_id";

std::string cuda_text(cudaError_t error) {
  return std::string(cudaGetErrorName(error)) + " (" + cudaGetErrorString(error) + ")";
}

// Waits without burning a core for long: spins (yielding) for the first millisecond, which covers a gradient
// bucket's all-reduce, then sleeps in short steps.
void pause_polling(Clock::time_point start) {
  if (Clock::now() - start < milliseconds(1))
    std::this_thread::yield();
  else
    std::this_thread::sleep_for(std::chrono::microseconds(100));
}

ncclDataType_t nccl_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kLong: return ncclInt64;
    case at::kHalf: return ncclFloat16;
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 19, 0)
    case at::kBFloat16: return ncclBfloat16;
#endif
    default: return ncclUint8;  // callers check the dtype first; bytes for broadcast and all_gather
  }
}

std::vector<at::ScalarType> sum_types() {
  return {at::kFloat, at::kDouble, at::kLong, at::kHalf,
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 19, 0)
          at::kBFloat16
#endif
  };
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int rank, int size, int device, milliseconds timeout)
      : comm_(comm), rank_(rank), size_(size), device_(device), timeout_(timeout) {
    check_cuda("create its stream", cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    check_cuda("create its events", cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    check_cuda("create its events", cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    check_cuda("allocate the barrier's buffer", cudaMalloc(&barrier_buffer_, sizeof(float)));
  }

  ~NcclCommunicator() override {
    cudaSetDevice(device_);
    if (comm_ != nullptr) close_comm();
    if (barrier_buffer_ != nullptr) cudaFree(barrier_buffer_);
    if (done_ != nullptr) cudaEventDestroy(done_);
    if (ready_ != nullptr) cudaEventDestroy(ready_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  void all_reduce_sum(at::Tensor& tensor) override {
    const std::string who = "NCCL all_reduce_sum";
    detail::check_collective_tensor(who, tensor, cuda_device());
    detail::check_dtype(who, tensor, sum_types());
    if (tensor.numel() == 0) return;
    run("all_reduce_sum", [&](cudaStream_t stream) {
      return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                           nccl_type(tensor.scalar_type()), ncclSum, comm_, stream);
    });
  }

  // Broadcast and all_gather move bytes, so any dtype travels.
  void broadcast(at::Tensor& tensor, int root) override {
    const std::string who = "NCCL broadcast";
    detail::check_collective_tensor(who, tensor, cuda_device());
    detail::check_root(who, root, size_);
    if (tensor.numel() == 0) return;
    run("broadcast", [&](cudaStream_t stream) {
      return ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.nbytes(), ncclUint8, root, comm_, stream);
    });
  }

  at::Tensor all_gather(const at::Tensor& tensor) override {
    const std::string who = "NCCL all_gather";
    detail::check_collective_tensor(who, tensor, cuda_device());
    std::vector<int64_t> shape{size_};
    shape.insert(shape.end(), tensor.sizes().begin(), tensor.sizes().end());
    // Allocated before the collective's start is recorded on the default stream, so it is ordered after whatever
    // last used this memory.
    at::Tensor gathered = at::empty(shape, tensor.options());
    if (tensor.numel() == 0) return gathered;
    run("all_gather", [&](cudaStream_t stream) {
      return ncclAllGather(tensor.data_ptr(), gathered.data_ptr(), tensor.nbytes(), ncclUint8, comm_, stream);
    });
    return gathered;
  }

  // The wait loop of run() sees the flag (NCCL would wait for the failed rank until the timeout).
  void abort() override { abort_requested_ = true; }

  // NCCL has no barrier: a one-element all-reduce on a buffer of the communicator's own stands in.
  void barrier() override {
    run("barrier", [&](cudaStream_t stream) {
      return ncclAllReduce(barrier_buffer_, barrier_buffer_, 1, ncclFloat32, ncclSum, comm_, stream);
    });
  }

 private:
  c10::Device cuda_device() const { return c10::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_)); }

  std::string describe(const std::string& collective) const {
    return "NCCL " + collective + " on rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
           " (CUDA device " + std::to_string(device_) + ")";
  }

  void check_cuda(const std::string& what, cudaError_t error) {
    if (error != cudaSuccess)
      throw DistributedError("NCCL communicator on rank " + std::to_string(rank_) + " (CUDA device " +
                             std::to_string(device_) + ") could not " + what + ": " + cuda_text(error));
  }

  // Runs one collective: on our stream, after the work already queued on the device's legacy default stream (where
  // ATen queues its kernels), and with that stream made to wait for the collective, so later ATen work sees the
  // result. Then waits for completion, aborting the communicator on an error or when the timeout passes (NCCL
  // itself would wait forever for a dead peer).
  void run(const std::string& collective, const std::function<ncclResult_t(cudaStream_t)>& enqueue) {
    if (comm_ == nullptr)
      throw DistributedError(describe(collective) + ": the communicator failed earlier and cannot be used: " +
                             failure_);
    if (abort_requested_) fail(collective, kAbortedText);
    const Clock::time_point start = Clock::now();
    if (cudaError_t error = cudaSetDevice(device_); error != cudaSuccess) fail(collective, cuda_text(error));
    if (cudaError_t error = cudaEventRecord(ready_, cudaStreamLegacy); error != cudaSuccess)
      fail(collective, cuda_text(error));
    if (cudaError_t error = cudaStreamWaitEvent(stream_, ready_, 0); error != cudaSuccess)
      fail(collective, cuda_text(error));
    ncclResult_t result = enqueue(stream_);
    // A non-blocking communicator may still be enqueueing (ncclInProgress) when the call returns.
    while (result == ncclInProgress) {
      if (abort_requested_) fail(collective, kAbortedText);
      if (Clock::now() - start > timeout_) fail_timeout(collective);
      pause_polling(start);
      ncclCommGetAsyncError(comm_, &result);
    }
    if (result != ncclSuccess) fail(collective, nccl_text(result));
    if (cudaError_t error = cudaEventRecord(done_, stream_); error != cudaSuccess) fail(collective, cuda_text(error));
    if (cudaError_t error = cudaStreamWaitEvent(cudaStreamLegacy, done_, 0); error != cudaSuccess)
      fail(collective, cuda_text(error));
    for (;;) {
      const cudaError_t state = cudaEventQuery(done_);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) fail(collective, cuda_text(state));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) fail(collective, nccl_text(async));
      if (abort_requested_) fail(collective, kAbortedText);
      if (Clock::now() - start > timeout_) fail_timeout(collective);
      pause_polling(start);
    }
  }

  std::string nccl_text(ncclResult_t result) const {
    std::string text = ncclGetErrorString(result);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
    const char* last = ncclGetLastError(comm_);
    if (last != nullptr && *last != '\0') text += ": " + std::string(last);
#endif
    return text;
  }

  [[noreturn]] void fail(const std::string& collective, const std::string& what) {
    abort_with(describe(collective) + " failed: " + what + "; a peer process may have died or stopped responding (timeout " +
               detail::seconds_text(timeout_) + "); the communicator was aborted");
  }

  [[noreturn]] void fail_timeout(const std::string& collective) {
    abort_with(describe(collective) + " did not complete within " + detail::seconds_text(timeout_) +
               "; a peer process may have died or stopped responding; the communicator was aborted");
  }

  [[noreturn]] void abort_with(const std::string& message) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
    failure_ = message;
    throw DistributedError(message);
  }

  // Flushes and destroys the communicator, within the timeout; aborts it if that does not finish.
  void close_comm() {
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
    ncclResult_t result = ncclCommFinalize(comm_);
    const Clock::time_point start = Clock::now();
    while (result == ncclInProgress && Clock::now() - start < timeout_) {
      pause_polling(start);
      ncclCommGetAsyncError(comm_, &result);
    }
    if (result != ncclSuccess) {
      ncclCommAbort(comm_);
      return;
    }
#endif
    ncclCommDestroy(comm_);
  }

  ncclComm_t comm_;
  const int rank_;
  const int size_;
  const int device_;
  const milliseconds timeout_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr;
  cudaEvent_t done_ = nullptr;
  void* barrier_buffer_ = nullptr;
  std::string failure_;
  std::atomic<bool> abort_requested_{false};
  static constexpr const char* kAbortedText = "another replica of this process failed";
};

// Rank 0 makes the unique id and publishes it; the others wait for it.
ncclUniqueId exchange_unique_id(Store& store, int rank, int size, milliseconds timeout, const std::string& who) {
  ncclUniqueId id;
  if (rank == 0) {
    if (ncclResult_t result = ncclGetUniqueId(&id); result != ncclSuccess)
      throw DistributedError(who + ": ncclGetUniqueId failed: " + ncclGetErrorString(result));
    store.set(kUniqueIdKey, std::vector<char>(id.internal, id.internal + sizeof id.internal));
    return id;
  }
  const Clock::time_point start = Clock::now();
  std::vector<char> bytes;
  try {
    bytes = store.get(kUniqueIdKey, timeout);
  } catch (const Error& error) {
    const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    throw DistributedError(who + " waited " + detail::seconds_text(waited) + " for rank 0's NCCL unique id (key '" +
                           kUniqueIdKey + "') in store " + store.describe() +
                           "; is rank 0 running and using the same store? (" + error.what() + ")");
  }
  if (bytes.size() != sizeof id.internal)
    throw DistributedError(who + ": the NCCL unique id in store " + store.describe() + " (key '" + kUniqueIdKey +
                           "') has " + std::to_string(bytes.size()) + " bytes, expected " +
                           std::to_string(sizeof id.internal) + "; do all processes use the same NCCL version?");
  std::memcpy(id.internal, bytes.data(), bytes.size());
  return id;
}

// ncclCommInitRank blocks until every rank has joined; the non-blocking form (NCCL >= 2.14) lets the timeout apply.
ncclComm_t init_comm(const ncclUniqueId& id, int rank, int size, milliseconds timeout, const std::string& who) {
  ncclComm_t comm = nullptr;
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclResult_t result = ncclCommInitRankConfig(&comm, size, id, rank, &config);
  const Clock::time_point start = Clock::now();
  while (result == ncclInProgress) {
    if (Clock::now() - start > timeout) {
      ncclCommAbort(comm);
      throw DistributedError(who + ": ncclCommInitRankConfig did not complete within " +
                             detail::seconds_text(timeout) + "; are all " + std::to_string(size) +
                             " processes running?");
    }
    pause_polling(start);
    ncclCommGetAsyncError(comm, &result);
  }
#else
  ncclResult_t result = ncclCommInitRank(&comm, size, id, rank);
#endif
  if (result != ncclSuccess) {
    std::string text = ncclGetErrorString(result);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
    if (comm != nullptr && ncclGetLastError(comm) != nullptr) text += std::string(": ") + ncclGetLastError(comm);
#endif
    if (comm != nullptr) ncclCommAbort(comm);
    throw DistributedError(who + ": NCCL communicator initialisation failed: " + text);
  }
  return comm;
}

}  // namespace

bool nccl_available() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(Store& store, int rank, int size, int device,
                                                     milliseconds timeout) {
  detail::check_group("make_nccl_communicator", rank, size, timeout);
  int devices = 0;
  if (cudaError_t error = cudaGetDeviceCount(&devices); error != cudaSuccess)
    throw StateError("make_nccl_communicator: no usable CUDA device: " + cuda_text(error));
  if (device < 0 || device >= devices)
    throw ValueError("make_nccl_communicator: device must be in [0, " + std::to_string(devices) +
                     ") (the CUDA devices this process sees), got " + std::to_string(device));
  const std::string who = "NCCL rendezvous of rank " + std::to_string(rank) + " of " + std::to_string(size) +
                          " (CUDA device " + std::to_string(device) + ")";
  if (cudaError_t error = cudaSetDevice(device); error != cudaSuccess)
    throw DistributedError(who + ": cudaSetDevice failed: " + cuda_text(error));
  const ncclUniqueId id = exchange_unique_id(store, rank, size, timeout, who);
  ncclComm_t comm = init_comm(id, rank, size, timeout, who);
  try {
    return std::make_unique<NcclCommunicator>(comm, rank, size, device, timeout);
  } catch (...) {
    ncclCommAbort(comm);
    throw;
  }
}

#else  // no NCCL in this build

bool nccl_available() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(Store&, int, int, int, std::chrono::milliseconds) {
  throw StateError(
      "make_nccl_communicator: this build of Strata has no NCCL: configure with CUDA and NCCL present "
      "(STRATA_WITH_NCCL=AUTO or ON)");
}

#endif

}  // namespace strata::distribute
