#pragma once
// Connectionist Temporal Classification loss, as Keras 3's keras.losses.CTC.

#include <strata/losses/loss.h>

namespace strata::losses {

struct CTCOptions {
  Reduction reduction = Reduction::kSumOverBatchSize;
  std::string name = "";
};

// y_true: (batch, max_length) integer labels, padded with 0; class 0 is the blank (Keras 3's mask_index = 0),
// so real labels are 1 .. num_classes - 1 and each label length is the count of nonzero entries.
// y_pred: (batch, time, num_classes) logits (log-softmax is applied here); every sequence uses all `time`
// steps. One loss per sample: -log p(labels | logits); infinite when no alignment fits in `time`.
class CTC : public Loss {
 public:
  explicit CTC(CTCOptions options = {});
  static CTC from_config(const nlohmann::json& config);
  at::Tensor call(const at::Tensor& y_true, const at::Tensor& y_pred) const override;
  // Ranks, and label ids in [0, num_classes) on every call (an id out of range would index out of bounds).
  void validate_call(const at::Tensor& y_true, const Shape& y_pred_shape) const override;
};

}  // namespace strata::losses
