#pragma once
// Gradient buckets (as PyTorch DDP's reducer): the variables' gradients are packed into flat buffers of about
// bytes_per_pack bytes, filled by hooks on the variables as backward produces each gradient, and a buffer's
// all-reduce starts as soon as it is full, while backward goes on computing earlier layers. Buffers are made
// in reverse variable order (backward produces the last layer's gradients first) and always started in that
// order, so every replica starts the same collectives in the same order. Internal to distribute/.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <vector>

namespace strata::distribute {

class GradientBuckets {
 public:
  // Starts an all-reduce (sum) of a flat buffer on the communication thread.
  using StartAllReduce = std::function<std::future<void>(at::Tensor)>;

  GradientBuckets(std::vector<at::Tensor> variables, int64_t bytes_per_pack, StartAllReduce start);
  ~GradientBuckets();  // removes the hooks and waits for buffers in flight
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Whether these are the variables the buckets were made for (the same tensors, in order).
  bool covers(const std::vector<at::Tensor>& variables) const;
  // The hooks pack the gradients of the next backward pass (until finish or discard).
  void arm();
  // Packs the gradients the hooks did not deliver (grads[i]; zeros where undefined), starts the buffers not yet
  // started, waits for all of them and puts the sums in `grads` (one new tensor per variable).
  void finish(std::vector<at::Tensor>& grads);
  // Waits for buffers in flight and forgets the step (the gradients were meant for other variables).
  void discard();

  size_t bucket_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::vector<at::Tensor> variables_;
  std::vector<unsigned> hooks_;
};

}  // namespace strata::distribute
