#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/losses/ctc.h>

namespace strata::losses {
namespace {

constexpr int64_t kBlank = 0;

}  // namespace

CTC::CTC(CTCOptions options) : Loss("CTC", options.name.empty() ? "ctc" : options.name, options.reduction) {}

CTC CTC::from_config(const nlohmann::json& config) {
  return CTC({.reduction = reduction_from_config(config), .name = name_from_config(config, "ctc")});
}

void CTC::validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const {
  if (y_true.dim() != 2)
    throw ShapeError(describe() + ": expected targets of shape (batch_size, max_length) in integer format, got " +
                     format_dims(y_true.sizes()));
  if (y_pred_shape.size() != 3)
    throw ShapeError(describe() + ": expected logits of shape (batch_size, max_length, num_classes), got " +
                     format_shape(y_pred_shape));
  const int64_t num_classes = y_pred_shape.back();
  if (num_classes == kNone) return;
  check_target_values(y_true, 0.0, static_cast<double>(num_classes - 1), true, describe(),
                      "integer labels in [0, " + std::to_string(num_classes) + ") (0 is the blank and padding)");
}

at::Tensor CTC::call(const at::Tensor& y_true, const at::Tensor& y_pred) const {
  // Keras computes CTC in at least float32.
  const bool low_precision = y_pred.scalar_type() == at::kHalf || y_pred.scalar_type() == at::kBFloat16;
  const at::Tensor logits = low_precision ? y_pred.to(at::kFloat) : y_pred;
  const at::Tensor labels = y_true.to(at::kLong);
  const int64_t batch = logits.size(0), time = logits.size(1);
  // ATen wants (time, batch, classes) log-probabilities.
  const at::Tensor log_probs = at::log_softmax(logits, -1).transpose(0, 1);
  const at::Tensor input_lengths = at::full({batch}, time, labels.options());
  const at::Tensor target_lengths = (labels != kBlank).sum(-1);
  return at::ctc_loss(log_probs, labels, input_lengths, target_lengths, kBlank, at::Reduction::None, false);
}

}  // namespace strata::losses
