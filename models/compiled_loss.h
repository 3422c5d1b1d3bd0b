#pragma once
// compile()'s loss side for any number of outputs (Keras 2's LossesContainer): one loss per output (or none),
// loss weights, and the trackers behind the "loss" and "<output>_loss" entries of the logs.

#include <strata/losses/loss.h>
#include <strata/metrics/mean.h>
#include <strata/models/model_data.h>
#include <strata/models/per_output.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

class CompiledLoss {
 public:
  CompiledLoss(PerOutput<losses::Spec> losses, PerOutput<double> loss_weights);

  // Whether compile() was given a loss at all.
  bool given() const { return !spec_.empty(); }
  // Matches the losses and weights to the outputs; again only when the outputs change. Throws on a list of
  // the wrong length or an unknown output name; `who` names the model.
  void resolve(const std::vector<std::string>& output_names, const std::string& who);
  bool resolved() const { return !output_names_.empty(); }
  // Each output's loss (null for an output without one); `outputs` nulls before resolve() (no compiled loss).
  std::vector<std::shared_ptr<losses::Loss>> losses_or_none(size_t outputs) const {
    return resolved() ? losses_ : std::vector<std::shared_ptr<losses::Loss>>(outputs);
  }

  // Checks each target against its output's per-sample shape (batch None); `y` is one tensor per output.
  void validate_targets(const Tensors& y, const std::vector<Shape>& y_pred_shapes, const std::string& who) const;

  // Sum over outputs of loss weight * loss (with the sample weights and masks); updates the per-output
  // trackers when there are several outputs.
  at::Tensor operator()(const Tensors& y, const Tensors& y_pred, const Tensors& sample_weight, const Tensors& masks);
  // Adds a batch's total loss (regularization included) to the "loss" tracker.
  void track_total(const at::Tensor& total, int64_t batch_size);

  // "loss", then "<output>_loss" per output with a loss when there are several outputs.
  std::vector<std::string> names(const std::vector<std::string>& output_names) const;
  std::vector<std::shared_ptr<metrics::Metric>> trackers() const;

 private:
  PerOutput<losses::Spec> spec_;
  PerOutput<double> weight_spec_;
  std::vector<std::string> output_names_;
  std::vector<std::shared_ptr<losses::Loss>> losses_;
  std::vector<double> weights_;
  std::shared_ptr<metrics::Mean> total_tracker_ = std::make_shared<metrics::Mean>("loss");
  std::vector<std::shared_ptr<metrics::Mean>> output_trackers_;  // parallel to losses_ when several outputs
};

}  // namespace strata
