#pragma once
// GradientTape: the recording scope of Keras' "writing a training loop from scratch" guide.
//
//   GradientTape tape;  // records autograd history until it goes out of scope
//   at::Tensor loss = loss_fn(y, model(x, /*training=*/true));
//   auto grads = tape.gradient(loss, model.trainable_weights());
//   optimizer.apply(grads, model.trainable_weights());
//
// gradient() leaves every tensor's .grad() as it was: the gradients are returned, never accumulated, so a
// custom loop can share weights with a model that fit() trains.

#include <ATen/core/Tensor.h>
#include <c10/core/GradMode.h>

#include <vector>

namespace strata {

struct GradientTapeOptions {
  // A persistent tape keeps the recorded graph, so gradient() may be called more than once.
  bool persistent = false;
};

class GradientTape {
 public:
  // Turns autograd recording on for the tape's lifetime, also inside an at::NoGradGuard.
  explicit GradientTape(GradientTapeOptions options = {});
  GradientTape(const GradientTape&) = delete;
  GradientTape& operator=(const GradientTape&) = delete;

  // d target / d source for each source, in order. `target` is a scalar computed while the tape recorded;
  // each source is a leaf that requires grad (a weight). A source the target does not depend on gets an
  // undefined tensor, as tf.GradientTape returns None.
  std::vector<at::Tensor> gradient(const at::Tensor& target, const std::vector<at::Tensor>& sources);

  bool persistent() const { return options_.persistent; }

 private:
  void check_arguments(const at::Tensor& target, const std::vector<at::Tensor>& sources) const;

  c10::AutoGradMode recording_{true};
  GradientTapeOptions options_;
  int calls_ = 0;
};

}  // namespace strata
