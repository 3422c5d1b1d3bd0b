// MirroredStrategy: the replicas of one process meet the way separate processes do (a rendezvous store, Gloo
// over loopback, NCCL between GPUs), so everything MultiWorkerMirroredStrategy does per replica applies unchanged;
// only joining differs: every replica's group is made here, on its own thread, since joining blocks until all
// have arrived.

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <strata/core/error.h>
#include <strata/distribute/replica_group.h>
#include <strata/distribute/strategy.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

namespace strata::distribute {

namespace {

int visible_gpus() { return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

std::vector<at::Device> default_devices() {
  const int gpus = visible_gpus();
  if (gpus == 0) return {at::Device(at::kCPU)};
  std::vector<at::Device> devices;
  for (int i = 0; i < gpus; ++i) devices.emplace_back(at::kCUDA, static_cast<at::DeviceIndex>(i));
  return devices;
}

void check_devices(const std::vector<at::Device>& devices, const CommunicationOptions& options) {
  const std::string who = "MirroredStrategy";
  const int gpus = visible_gpus();
  for (size_t i = 0; i < devices.size(); ++i) {
    const at::Device& device = devices[i];
    const std::string where = who + ": device " + std::to_string(i) + " (" + device.str() + ")";
    if (!device.is_cpu() && !device.is_cuda()) throw ValueError(where + " is neither the CPU nor a CUDA device");
    if (device.type() != devices.front().type())
      throw ValueError(where + " is not of the first device's type (" + devices.front().str() +
                       "); the replicas all compute on the CPU or all on GPUs");
    if (device.is_cuda()) {
      if (!device.has_index() || device.index() >= gpus)
        throw ValueError(where + " is not one of the " + std::to_string(gpus) + " visible GPUs (cuda:0 .. cuda:" +
                         std::to_string(gpus - 1) + ")");
      if (std::count(devices.begin(), devices.end(), device) > 1)
        throw ValueError(where + " is listed twice; a GPU holds one replica (NCCL takes one rank per GPU)");
      if (options.implementation == CommunicationImplementation::kRing)
        throw ValueError(where + ": CommunicationImplementation::kRing (Gloo) takes CPU tensors; use kAuto or kNccl");
    } else if (options.implementation == CommunicationImplementation::kNccl) {
      throw ValueError(where + ": CommunicationImplementation::kNccl needs CUDA devices");
    }
  }
}

std::shared_ptr<ReplicaGroup> join_replicas(const std::vector<at::Device>& devices, CommunicationOptions options) {
  check_devices(devices, options);
  const int replicas = static_cast<int>(devices.size());
  if (replicas == 1) return std::make_shared<ReplicaGroup>(devices.front(), "MirroredStrategy");

  // The store lives in this process, on loopback; a distinct run id per strategy keeps their keys apart.
  auto server = std::make_unique<TcpStoreServer>("127.0.0.1", 0);
  static std::atomic<int> strategies{0};
  ClusterSpec cluster;
  cluster.world_size = cluster.local_world_size = replicas;
  cluster.rendezvous = "tcp://127.0.0.1:" + std::to_string(server->port());
  cluster.run_id = "mirrored-" + std::to_string(::getpid()) + "-" + std::to_string(strategies++);

  std::vector<std::shared_ptr<ReplicaGroup>> groups(devices.size());
  std::vector<std::exception_ptr> failures(devices.size());
  std::vector<std::thread> joining;
  for (int rank = 0; rank < replicas; ++rank)
    joining.emplace_back([&, rank] {
      try {
        ClusterSpec mine = cluster;
        mine.rank = mine.local_rank = rank;
        groups[rank] = std::make_shared<ReplicaGroup>("MirroredStrategy", mine, options, devices[rank]);
      } catch (...) {
        failures[rank] = std::current_exception();
      }
    });
  for (auto& thread : joining) thread.join();
  for (const auto& failure : failures)
    if (failure) std::rethrow_exception(failure);
  std::shared_ptr<ReplicaGroup> chief = groups.front();
  chief->adopt_local_replicas(std::move(server), {groups.begin() + 1, groups.end()});
  return chief;
}

}  // namespace

MirroredStrategy::MirroredStrategy(std::vector<at::Device> devices, CommunicationOptions options)
    : Strategy(join_replicas(devices.empty() ? default_devices() : std::move(devices), options)) {}

std::vector<at::Device> MirroredStrategy::devices() const {
  std::vector<at::Device> out = {device()};
  for (const auto& replica : local_replicas()) out.push_back(replica.device());
  return out;
}

}  // namespace strata::distribute
