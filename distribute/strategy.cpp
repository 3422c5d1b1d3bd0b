#include <strata/distribute/strategy.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <nlohmann/json.hpp>
#include <strata/core/dtype.h>
#include <strata/core/random.h>
#include <strata/core/shape.h>
#include <strata/distribute/distributed_error.h>
#include <strata/distribute/replica_group.h>
#include <strata/metrics/metric.h>
#include <strata/models/model.h>

#include <cstdlib>
#include <cstring>
#include <map>

namespace strata::distribute {

namespace {

constexpr int64_t kDefaultBytesPerPack = 1 << 20;

thread_local std::shared_ptr<ReplicaGroup> current_group;

const std::shared_ptr<ReplicaGroup>& default_group() {
  static const auto group = std::make_shared<ReplicaGroup>();
  return group;
}

// Collectives take float32, float64 and int64; other dtypes travel as one of those and come back.
at::ScalarType wire_type(at::ScalarType type) {
  if (type == at::kFloat || type == at::kDouble || type == at::kLong) return type;
  return at::isFloatingType(type) ? at::kFloat : at::kLong;
}

// Applies `collective` to the tensors grouped by dtype and device, one flat buffer per group.
void grouped(std::vector<at::Tensor>& tensors, const std::function<void(at::Tensor&)>& collective) {
  std::map<std::pair<int, std::string>, std::vector<size_t>> groups;
  for (size_t i = 0; i < tensors.size(); ++i)
    groups[{static_cast<int>(wire_type(tensors[i].scalar_type())), tensors[i].device().str()}].push_back(i);
  at::NoGradGuard no_grad;
  for (const auto& [key, members] : groups) {
    std::vector<at::Tensor> parts;
    for (size_t i : members) parts.push_back(tensors[i].detach().reshape({-1}).to(static_cast<at::ScalarType>(key.first)));
    at::Tensor flat = at::cat(parts).contiguous();
    collective(flat);
    int64_t offset = 0;
    for (size_t i : members) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(flat.narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
  }
}

// Replica r's rows [begin, end) of a global batch: contiguous blocks in replica order, the first
// `global_size % replicas` replicas taking one more.
std::pair<int64_t, int64_t> rows_of_replica(int64_t r, int64_t replicas, int64_t global_size) {
  const int64_t base = global_size / replicas;
  const int64_t extra = global_size % replicas;
  const int64_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

std::string weight_list(const Model& model) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& variable : model.variables())
    list.push_back({variable.name, shape_of(variable.value), dtype_name(variable.value.scalar_type())});
  return list.dump();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// ReplicaGroup

ReplicaGroup::ReplicaGroup(at::Device device, std::string class_name)
    : class_name_(std::move(class_name)), device_(device) {}

ReplicaGroup::ReplicaGroup(std::string class_name, ClusterSpec cluster, CommunicationOptions options,
                           std::optional<at::Device> device)
    : class_name_(std::move(class_name)), cluster_(std::move(cluster)), options_(options) {
  if (options_.timeout_seconds) {
    if (!(*options_.timeout_seconds > 0))
      throw ValueError(class_name_ + ": CommunicationOptions.timeout_seconds must be > 0, got " +
                       std::to_string(*options_.timeout_seconds));
    cluster_.timeout = std::chrono::milliseconds(static_cast<int64_t>(*options_.timeout_seconds * 1000));
  }
  if (options_.bytes_per_pack < 0)
    throw ValueError(class_name_ + ": CommunicationOptions.bytes_per_pack must be >= 0, got " +
                     std::to_string(options_.bytes_per_pack));
  if (options_.bytes_per_pack == 0) options_.bytes_per_pack = kDefaultBytesPerPack;
  // The GPU of this process's local rank, when there are GPUs and the implementation allows them.
  const int gpus = at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
  if (options_.implementation == CommunicationImplementation::kNccl && gpus == 0)
    throw ValueError(class_name_ + ": CommunicationImplementation::kNccl needs CUDA devices, and this process sees none");
  if (device)
    device_ = *device;
  else if (options_.implementation != CommunicationImplementation::kRing && gpus > 0)
    device_ = at::Device(at::kCUDA, static_cast<at::DeviceIndex>(cluster_.local_rank % gpus));
  if (!distributed()) return;
  if (cluster_.rendezvous.empty())
    throw ValueError(class_name_ + ": the cluster has " + std::to_string(cluster_.world_size) +
                     " workers but no rendezvous store; start the job with strata-run or set STRATA_RENDEZVOUS");
  if (cluster_.host_store) {
    // tcp://host:port: this process serves the store on that port, on every interface.
    const std::string& url = cluster_.rendezvous;
    const auto colon = url.rfind(':');
    if (url.rfind("tcp://", 0) != 0 || colon == std::string::npos || colon < 6)
      throw ValueError(class_name_ + ": this process hosts the rendezvous store, which must be tcp://host:port; got '" +
                       url + "'");
    server_ = std::make_unique<TcpStoreServer>("0.0.0.0", static_cast<uint16_t>(std::stoi(url.substr(colon + 1))));
  }
  store_ = open_store(cluster_.rendezvous, cluster_.run_id, cluster_.timeout);
  // Processes on one host talk over loopback; across hosts at STRATA_HOSTNAME (this host's address on the
  // cluster network), else at this host's name.
  const bool one_host = cluster_.local_world_size == cluster_.world_size;
  const char* hostname = std::getenv("STRATA_HOSTNAME");
  gloo_ = make_gloo_communicator(*store_, cluster_.rank, cluster_.world_size, cluster_.timeout,
                                 hostname ? hostname : one_host ? "127.0.0.1" : "");
  thread_ = std::make_unique<CommThread>();
}

ReplicaGroup::~ReplicaGroup() = default;

void ReplicaGroup::adopt_local_replicas(std::unique_ptr<TcpStoreServer> server,
                                        std::vector<std::shared_ptr<ReplicaGroup>> others) {
  server_ = std::move(server);
  local_replicas_ = std::move(others);
}

Communicator& ReplicaGroup::communicator_for(const at::Tensor& tensor) {
  if (!tensor.is_cuda() || options_.implementation == CommunicationImplementation::kRing) {
    if (tensor.is_cuda())
      throw ValueError(class_name_ + ": CommunicationImplementation::kRing (Gloo) takes CPU tensors; the model's "
                       "tensors are on " + tensor.device().str() + " (use kAuto or kNccl)");
    return *gloo_;
  }
  if (!nccl_) {
    // Made on first use: every replica reaches its first CUDA collective at the same point.
    auto made = make_nccl_communicator(*store_, cluster_.rank, cluster_.world_size, tensor.device().index(),
                                       cluster_.timeout);
    const std::lock_guard<std::mutex> lock(nccl_mutex_);
    nccl_ = std::move(made);
  }
  return *nccl_;
}

void ReplicaGroup::abort_after_failure(bool failed_here) {
  if (failed_here) {
    if (gloo_) gloo_->abort();
    return;
  }
  const std::lock_guard<std::mutex> lock(nccl_mutex_);
  if (nccl_) nccl_->abort();
}

std::future<void> ReplicaGroup::start_all_reduce_sum(at::Tensor tensor) {
  return thread_->submit([this, tensor]() mutable { communicator_for(tensor).all_reduce_sum(tensor); });
}

void ReplicaGroup::all_reduce_sum(at::Tensor& tensor) {
  if (!distributed()) return;
  thread_->run([&] { communicator_for(tensor).all_reduce_sum(tensor); });
}

void ReplicaGroup::broadcast(at::Tensor& tensor, int root) {
  if (!distributed()) return;
  thread_->run([&] { communicator_for(tensor).broadcast(tensor, root); });
}

at::Tensor ReplicaGroup::all_gather(const at::Tensor& tensor) {
  if (!distributed()) return tensor.unsqueeze(0);
  at::Tensor out;
  thread_->run([&] { out = communicator_for(tensor).all_gather(tensor); });
  return out;
}

GradientBuckets& ReplicaGroup::buckets_for(const std::vector<at::Tensor>& variables) {
  if (buckets_ && buckets_->covers(variables)) return *buckets_;
  if (buckets_) buckets_->discard();
  buckets_ = std::make_unique<GradientBuckets>(variables, options_.bytes_per_pack,
                                               [this](at::Tensor flat) { return start_all_reduce_sum(flat); });
  return *buckets_;
}

void ReplicaGroup::arm_buckets() {
  if (buckets_) buckets_->arm();
}

// ---------------------------------------------------------------------------------------------------------------
// Strategy

Strategy::Strategy() : group_(default_group()) {}
Strategy::Strategy(std::shared_ptr<ReplicaGroup> group) : group_(std::move(group)) {}
Strategy::~Strategy() = default;

const std::string& Strategy::class_name() const { return group_->class_name(); }
int Strategy::num_replicas_in_sync() const { return group_->cluster().world_size; }
int Strategy::replica_id() const { return group_->cluster().rank; }
bool Strategy::is_chief() const { return group_->cluster().is_chief(); }
at::Device Strategy::device() const { return group_->device(); }

bool Strategy::is_model_copy() const { return !is_chief() && class_name() == "MirroredStrategy"; }

void Strategy::abort_local_replicas(int failed) const {
  group_->abort_after_failure(replica_id() == failed);
  for (const auto& group : group_->local_replicas()) group->abort_after_failure(group->cluster().rank == failed);
}

std::vector<Strategy> Strategy::local_replicas() const {
  std::vector<Strategy> out;
  for (const auto& group : group_->local_replicas()) out.push_back(Strategy(group));
  return out;
}

Strategy::Scope::Scope(const Strategy& strategy) : previous_(current_group) { current_group = strategy.group_; }
Strategy::Scope::~Scope() { current_group = previous_; }

std::pair<int64_t, int64_t> Strategy::replica_rows(int64_t global_size) const {
  return rows_of_replica(replica_id(), num_replicas_in_sync(), global_size);
}

Batch Strategy::replica_batch(const Batch& global) const {
  const int64_t global_size = global.x.empty() ? 0 : global.x.front().size(0);
  group_->global_size = global_size;
  group_->local_size = global_size;
  if (!distributed()) return global;
  const auto [begin, end] = replica_rows(global_size);
  group_->local_size = end - begin;
  return map_batch(global, [begin = begin, end = end](const at::Tensor& t) { return t.narrow(0, begin, end - begin); });
}

at::Tensor Strategy::replica_objective(const at::Tensor& loss) const {
  if (!distributed()) return loss;
  group_->arm_buckets();
  if (group_->global_size == 0) return loss;
  return loss * (static_cast<double>(group_->local_size) / static_cast<double>(group_->global_size));
}

void Strategy::reduce_gradients(std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& variables) const {
  if (!distributed()) return;
  if (grads.size() != variables.size())
    throw ValueError(class_name() + ": reduce_gradients got " + std::to_string(grads.size()) + " gradients for " +
                     std::to_string(variables.size()) + " variables");
  group_->buckets_for(variables).finish(grads);
  ++group_->gradient_reductions;
  // .grad() shows the summed gradient too, as the optimizer sees it (TensorBoard's write_grads reads it).
  for (size_t i = 0; i < variables.size(); ++i)
    if (variables[i].requires_grad()) variables[i].mutable_grad() = grads[i];
}

int64_t Strategy::gradient_reductions() const { return group_->gradient_reductions; }

at::Tensor Strategy::gather_replica_rows(const at::Tensor& local, int64_t global_size) const {
  if (!distributed()) return local;
  // all_gather takes equal shapes: every share is padded to the largest (replica 0's), then each is cut back.
  const int64_t replicas = num_replicas_in_sync();
  auto share_size = [&](int64_t r) {
    const auto [begin, end] = rows_of_replica(r, replicas, global_size);
    return end - begin;
  };
  std::vector<int64_t> padded_shape = local.sizes().vec();
  padded_shape[0] = share_size(0);
  at::Tensor padded = at::zeros(padded_shape, local.options());
  padded.narrow(0, 0, local.size(0)).copy_(local);
  const at::Tensor gathered = group_->all_gather(padded);
  std::vector<at::Tensor> rows;
  for (int64_t r = 0; r < replicas; ++r) rows.push_back(gathered[r].narrow(0, 0, share_size(r)));
  return at::cat(rows, 0);
}

void Strategy::all_reduce_sum(std::vector<at::Tensor>& tensors) const {
  if (!distributed() || tensors.empty()) return;
  grouped(tensors, [this](at::Tensor& flat) { group_->all_reduce_sum(flat); });
}

at::Tensor Strategy::all_reduce_sum_differentiable(const at::Tensor& local) const {
  if (!distributed()) return local;
  at::Tensor summed;
  {
    at::NoGradGuard no_grad;
    summed = local.detach().clone().contiguous();
    group_->all_reduce_sum(summed);
  }
  if (!local.requires_grad()) return summed;
  // Forward: the global sum. Backward: d(sum over replicas of their losses)/d(local) is the sum of every
  // replica's gradient of the global sum, so the hook all-reduces the incoming gradient.
  at::Tensor out = local + (summed - local.detach());
  std::shared_ptr<ReplicaGroup> group = group_;
  out.register_hook([group](const at::Tensor& grad) -> at::Tensor {
    at::Tensor total = grad.detach().clone().contiguous();
    group->all_reduce_sum(total);
    return total;
  });
  return out;
}

void Strategy::broadcast_from_chief(std::vector<at::Tensor>& tensors) const {
  if (!distributed() || tensors.empty()) return;
  grouped(tensors, [this](at::Tensor& flat) { group_->broadcast(flat, 0); });
}

uint64_t Strategy::broadcast_from_chief(uint64_t value) const {
  if (!distributed()) return value;
  int64_t as_signed = 0;
  std::memcpy(&as_signed, &value, sizeof value);
  at::Tensor tensor = at::full({1}, as_signed, at::kLong);
  group_->broadcast(tensor, 0);
  as_signed = tensor.item<int64_t>();
  std::memcpy(&value, &as_signed, sizeof value);
  return value;
}

void Strategy::prepare_model(Model& model) const {
  if (!distributed()) return;
  // The chief's weight list, as JSON bytes in an int64 tensor (the collectives' wire types).
  const std::string mine = weight_list(model);
  at::Tensor length = at::full({1}, static_cast<int64_t>(mine.size()), at::kLong);
  group_->broadcast(length, 0);
  const int64_t chief_length = length.item<int64_t>();
  at::Tensor bytes = at::zeros({(chief_length + 7) / 8}, at::kLong);
  if (is_chief()) std::memcpy(bytes.data_ptr(), mine.data(), mine.size());
  group_->broadcast(bytes, 0);
  const std::string chief_text(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(chief_length));
  const auto chief = nlohmann::json::parse(chief_text);
  const auto own = nlohmann::json::parse(mine);

  // Each replica reports the first weight that differs (index + 1; 0 when all match), so every replica fails.
  int64_t first_difference = 0;
  for (size_t i = 0; i < std::max(own.size(), chief.size()) && first_difference == 0; ++i)
    if (i >= own.size() || i >= chief.size() || own[i] != chief[i]) first_difference = static_cast<int64_t>(i) + 1;
  const at::Tensor reports = group_->all_gather(at::full({1}, first_difference, at::kLong));
  for (int worker = 0; worker < num_replicas_in_sync(); ++worker) {
    const int64_t report = reports[worker].item<int64_t>();
    if (report == 0) continue;
    const size_t index = static_cast<size_t>(report - 1);
    auto describe = [](const nlohmann::json& list, size_t i) {
      if (i >= list.size()) return std::string("no such weight (") + std::to_string(list.size()) + " weights)";
      std::string text = "'";
      text += list[i][0].get<std::string>();
      text += "' of shape " + format_shape(list[i][1].get<Shape>()) + " (" + list[i][2].get<std::string>() + ")";
      return text;
    };
    std::string message = class_name() + ": worker " + std::to_string(worker) +
                           " built a different model from the chief's: weight " + std::to_string(index) +
                           " is " + describe(chief, index) + " on the chief";
    if (worker == replica_id()) message += " but " + describe(own, index) + " on this worker";
    throw DistributedError(message + "; every worker must build and compile the same model");
  }

  // The chief's weights and optimizer state (a BackupAndRestore restore on the chief reaches every worker).
  std::vector<at::Tensor> weights;
  for (const auto& variable : model.variables()) weights.push_back(variable.value);
  broadcast_from_chief(weights);
  if (model.compiled()) {
    std::vector<at::Tensor> state = model.optimizer().get_state();
    broadcast_from_chief(state);
    model.optimizer().set_state(state);
  }
}

Strategy::GlobalMetricState::GlobalMetricState(const Strategy& strategy,
                                               const std::vector<std::shared_ptr<metrics::Metric>>& metrics) {
  if (!strategy.distributed()) return;
  at::NoGradGuard no_grad;
  for (const auto& metric : metrics)
    for (const auto& state : metric->variables()) {
      states_.push_back(state);
      saved_.push_back(state.clone());
    }
  strategy.all_reduce_sum(states_);
}

Strategy::GlobalMetricState::~GlobalMetricState() {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < states_.size(); ++i) states_[i].copy_(saved_[i]);
}

OneDeviceStrategy::OneDeviceStrategy(at::Device device) : Strategy(std::make_shared<ReplicaGroup>(device)) {}

MultiWorkerMirroredStrategy::MultiWorkerMirroredStrategy(CommunicationOptions options,
                                                         std::optional<ClusterSpec> cluster)
    : Strategy(std::make_shared<ReplicaGroup>("MultiWorkerMirroredStrategy",
                                              cluster ? *cluster : cluster_from_environment(), options)) {
  // The chief's draw seeds every worker's generator, so fit()'s shuffles and unseeded datasets agree.
  set_random_seed(broadcast_from_chief(draw_seed()));
}

const ClusterSpec& MultiWorkerMirroredStrategy::cluster() const { return group().cluster(); }

Strategy current_strategy() { return current_group ? Strategy(current_group) : Strategy(); }

}  // namespace strata::distribute
