#include <strata/distribute/gradient_buckets.h>

#include <ATen/ATen.h>
#include <strata/core/error.h>

#include <map>
#include <mutex>

namespace strata::distribute {

struct GradientBuckets::State {
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;
    bool delivered = false;
  };
  struct Bucket {
    at::Tensor flat;
    size_t slots = 0;
    size_t pending = 0;
    bool started = false;
    std::future<void> done;
  };

  std::mutex mutex;  // hooks of CUDA gradients run on autograd's device threads
  bool armed = false;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  size_t next_to_start = 0;
  StartAllReduce start;

  at::Tensor view(size_t index, const at::Tensor& variable) const {
    const Slot& slot = slots[index];
    return buckets[slot.bucket].flat.narrow(0, slot.offset, variable.numel()).view(variable.sizes());
  }

  // Starts the full buffers, in bucket order: a later buffer waits for the ones before it.
  void start_ready() {
    while (next_to_start < buckets.size() && buckets[next_to_start].pending == 0) {
      Bucket& bucket = buckets[next_to_start++];
      bucket.started = true;
      bucket.done = start(bucket.flat);
    }
  }

  void deliver(size_t index, const at::Tensor& variable, const at::Tensor& grad) {
    Slot& slot = slots[index];
    Bucket& bucket = buckets[slot.bucket];
    if (slot.delivered) {
      // A second backward pass in the same step adds to the gradient, as .grad accumulates.
      if (bucket.started)
        throw StateError("distributed training: a gradient arrived after its bucket's all-reduce had started; call "
                         "backward() once per step before reduce_gradients()");
      if (grad.defined()) view(index, variable).add_(grad);
      return;
    }
    at::Tensor target = view(index, variable);
    if (grad.defined()) target.copy_(grad);
    else target.zero_();
    slot.delivered = true;
    --bucket.pending;
    start_ready();
  }

  void wait_started() {
    for (auto& bucket : buckets)
      if (bucket.started) bucket.done.get();  // rethrows a failed all-reduce
  }

  void reset() {
    for (auto& slot : slots) slot.delivered = false;
    for (auto& bucket : buckets) {
      bucket.pending = bucket.slots;
      bucket.started = false;
      bucket.done = {};
    }
    next_to_start = 0;
    armed = false;
  }
};

GradientBuckets::GradientBuckets(std::vector<at::Tensor> variables, int64_t bytes_per_pack, StartAllReduce start)
    : state_(std::make_shared<State>()), variables_(std::move(variables)) {
  State& state = *state_;
  state.start = std::move(start);
  state.slots.resize(variables_.size());
  // Reverse order, one open bucket per dtype and device: a bucket is closed once it holds bytes_per_pack.
  std::map<std::pair<int, std::string>, size_t> open;
  std::vector<int64_t> sizes;
  for (size_t i = variables_.size(); i-- > 0;) {
    const at::Tensor& variable = variables_[i];
    const auto key = std::make_pair(static_cast<int>(variable.scalar_type()), variable.device().str());
    auto it = open.find(key);
    if (it == open.end()) {
      it = open.emplace(key, state.buckets.size()).first;
      state.buckets.emplace_back();
      sizes.push_back(0);
    }
    const size_t bucket = it->second;
    state.slots[i] = {bucket, sizes[bucket], false};
    sizes[bucket] += variable.numel();
    ++state.buckets[bucket].slots;
    if (sizes[bucket] * static_cast<int64_t>(variable.element_size()) >= bytes_per_pack) open.erase(it);
  }
  for (size_t b = 0; b < state.buckets.size(); ++b) {
    // Any variable of the bucket gives its dtype and device.
    for (size_t i = 0; i < variables_.size(); ++i)
      if (state.slots[i].bucket == b) {
        state.buckets[b].flat = at::zeros({sizes[b]}, variables_[i].options().requires_grad(false));
        break;
      }
  }
  state.reset();

  for (size_t i = 0; i < variables_.size(); ++i) {
    std::weak_ptr<State> weak = state_;
    const at::Tensor variable = variables_[i];
    hooks_.push_back(variables_[i].register_hook([weak, i, variable](const at::Tensor& grad) {
      const std::shared_ptr<State> held = weak.lock();
      if (!held) return;
      std::lock_guard<std::mutex> lock(held->mutex);
      if (held->armed) held->deliver(i, variable, grad);
    }));
  }
}

GradientBuckets::~GradientBuckets() {
  for (size_t i = 0; i < variables_.size(); ++i) variables_[i].remove_hook(hooks_[i]);
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (auto& bucket : state_->buckets)
    if (bucket.started && bucket.done.valid()) bucket.done.wait();
}

bool GradientBuckets::covers(const std::vector<at::Tensor>& variables) const {
  if (variables.size() != variables_.size()) return false;
  for (size_t i = 0; i < variables.size(); ++i)
    if (!variables[i].is_same(variables_[i])) return false;
  return true;
}

void GradientBuckets::arm() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->armed = true;
}

void GradientBuckets::finish(std::vector<at::Tensor>& grads) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  State& state = *state_;
  try {
    for (size_t i = 0; i < variables_.size(); ++i)
      if (!state.slots[i].delivered) state.deliver(i, variables_[i], i < grads.size() ? grads[i] : at::Tensor());
    state.wait_started();
  } catch (...) {
    for (auto& bucket : state.buckets)
      if (bucket.started && bucket.done.valid()) bucket.done.wait();
    state.reset();
    throw;
  }
  grads.resize(variables_.size());
  for (size_t i = 0; i < variables_.size(); ++i) grads[i] = state.view(i, variables_[i]).clone();
  state.reset();
}

void GradientBuckets::discard() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (auto& bucket : state_->buckets)
    if (bucket.started && bucket.done.valid()) bucket.done.wait();
  state_->reset();
}

size_t GradientBuckets::bucket_count() const { return state_->buckets.size(); }

}  // namespace strata::distribute
