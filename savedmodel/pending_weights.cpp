#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/shape.h>
#include <strata/savedmodel/pending_weights.h>

namespace strata::savedmodel {

std::string PendingWeights::mismatch(const at::Tensor& target, const at::Tensor& value) {
  if (target.sizes() != value.sizes())
    return "expected shape " + format_dims(target.sizes()) + ", got " + format_dims(value.sizes());
  const bool target_float = at::isFloatingType(target.scalar_type());
  const bool value_float = at::isFloatingType(value.scalar_type());
  if (target_float != value_float)
    return std::string("expected ") + (target_float ? "a floating-point" : "an integer") + " array (" +
           c10::toString(target.scalar_type()) + "), got " + c10::toString(value.scalar_type());
  return "";
}

void PendingWeights::add(const at::Tensor& target, const at::Tensor& value) {
  assignments_.emplace_back(target, value.to(target.scalar_type()));
}

void PendingWeights::append(PendingWeights other) {
  for (auto& a : other.assignments_) assignments_.push_back(std::move(a));
}

void PendingWeights::apply() {
  at::NoGradGuard no_grad;
  for (auto& [target, value] : assignments_) target.copy_(value);
}

}  // namespace strata::savedmodel
