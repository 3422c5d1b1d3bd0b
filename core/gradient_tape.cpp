#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <strata/core/error.h>
#include <strata/core/gradient_tape.h>
#include <strata/core/shape.h>

#include <string>

namespace strata {

GradientTape::GradientTape(GradientTapeOptions options) : options_(options) {
  // Tensors made under InferenceMode can never join an autograd graph, so recording there would fail later
  // with ATen's less helpful message.
  if (c10::InferenceMode::is_enabled())
    throw StateError("GradientTape: cannot record inside c10::InferenceMode; create the tape outside it");
}

void GradientTape::check_arguments(const at::Tensor& target, const std::vector<at::Tensor>& sources) const {
  const std::string who = "GradientTape.gradient()";
  if (calls_ > 0 && !options_.persistent)
    throw StateError(who +
                     ": a non-persistent GradientTape computes gradients only once; create it with "
                     "GradientTape({.persistent = true}) to call gradient() several times");
  if (!target.defined()) throw ValueError(who + ": the target is an undefined tensor");
  if (target.numel() != 1)
    throw ValueError(who + ": expected a scalar target (e.g. the loss), got shape " +
                     format_dims(target.sizes()) + "; reduce it first, e.g. with .sum() or .mean()");
  if (!target.requires_grad())
    throw ValueError(who +
                     ": the target does not require grad, so no recorded computation links it to a "
                     "weight; compute it while the tape exists, from weights that require grad");
  for (size_t i = 0; i < sources.size(); ++i) {
    const at::Tensor& source = sources[i];
    const std::string which = who + ": source " + std::to_string(i);
    if (!source.defined()) throw ValueError(which + " is an undefined tensor");
    if (!source.requires_grad() || !source.is_leaf())
      throw ValueError(which + " (shape " + format_dims(source.sizes()) +
                       ") must be a leaf tensor that requires grad, such as a trainable weight; got " +
                       (source.requires_grad() ? "a tensor computed from other tensors"
                                               : "one that does not require grad"));
  }
}

std::vector<at::Tensor> GradientTape::gradient(const at::Tensor& target,
                                               const std::vector<at::Tensor>& sources) {
  check_arguments(target, sources);
  if (sources.empty()) {
    ++calls_;
    return {};
  }
  // backward() accumulates into .grad(); `inputs` keeps it from touching any tensor but the sources, and
  // the sources' own .grad() is set aside so the result is the gradient alone. Restoring in reverse order
  // puts the original back even when a source is listed twice.
  std::vector<at::Tensor> saved;
  saved.reserve(sources.size());
  for (const auto& source : sources) {
    saved.push_back(source.grad());
    source.mutable_grad().reset();
  }
  auto restore = [&] {
    for (size_t i = sources.size(); i-- > 0;) sources[i].mutable_grad() = saved[i];
  };
  std::vector<at::Tensor> grads;
  grads.reserve(sources.size());
  try {
    target.backward({}, /*retain_graph=*/options_.persistent, /*create_graph=*/false,
                    at::TensorList(sources));
  } catch (const c10::Error& e) {
    restore();
    // E.g. the graph was already freed by an earlier backward() through the same computation.
    throw StateError(std::string("GradientTape.gradient(): autograd failed: ") + e.what_without_backtrace());
  }
  for (const auto& source : sources) grads.push_back(source.grad());
  restore();
  ++calls_;
  return grads;
}

}  // namespace strata
