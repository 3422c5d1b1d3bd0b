#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/error.h>
#include <strata/models/compiled_loss.h>

namespace strata {

CompiledLoss::CompiledLoss(PerOutput<losses::Spec> losses, PerOutput<double> loss_weights)
    : spec_(std::move(losses)), weight_spec_(std::move(loss_weights)) {
  for (const auto& loss : spec_.values()) {
    if (!loss) throw ValueError("compile() got an empty loss");
    if (loss->reduction() == losses::Reduction::kNone)
      throw ValueError("compile() needs losses that reduce to a scalar, got " + loss->name() + " with reduction \"none\"");
  }
}

void CompiledLoss::resolve(const std::vector<std::string>& output_names, const std::string& who) {
  if (output_names == output_names_) return;
  const auto specs = spec_.resolve(output_names, who, "compile()'s loss");
  const auto weights = weight_spec_.resolve(output_names, who, "compile()'s loss_weights");
  std::vector<std::shared_ptr<losses::Loss>> resolved;
  std::vector<std::shared_ptr<metrics::Mean>> trackers;
  for (size_t i = 0; i < output_names.size(); ++i) {
    const std::shared_ptr<losses::Loss> loss = specs[i] ? specs[i]->ptr() : nullptr;
    resolved.push_back(loss);
    trackers.push_back(loss && output_names.size() > 1 ? std::make_shared<metrics::Mean>(output_names[i] + "_loss")
                                                       : nullptr);
  }
  weights_.clear();
  for (const auto& weight : weights) weights_.push_back(weight.value_or(1.0));
  losses_ = std::move(resolved);
  output_trackers_ = std::move(trackers);
  output_names_ = output_names;
}

void CompiledLoss::validate_targets(const Tensors& y, const std::vector<Shape>& y_pred_shapes,
                                    const std::string& who) const {
  for (size_t i = 0; i < losses_.size(); ++i) {
    if (!losses_[i]) continue;
    if (i >= y.size() || !y[i].defined())
      throw ValueError(who + ": output '" + output_names_[i] + "' has a loss but no target in y");
    losses_[i]->validate_targets(y[i], y_pred_shapes.at(i));
  }
}

at::Tensor CompiledLoss::operator()(const Tensors& y, const Tensors& y_pred, const Tensors& sample_weight,
                                    const Tensors& masks) {
  at::Tensor total;
  for (size_t i = 0; i < losses_.size(); ++i) {
    if (!losses_[i]) continue;
    const at::Tensor weight = i < sample_weight.size() ? sample_weight[i] : at::Tensor();
    const at::Tensor mask = i < masks.size() ? masks[i] : at::Tensor();
    const at::Tensor loss = losses_[i]->compute(y.at(i), y_pred.at(i), weight, mask);
    if (output_trackers_[i]) {
      at::NoGradGuard no_grad;
      const auto batch_size = static_cast<double>(y_pred[i].size(0));
      output_trackers_[i]->add(loss.detach() * batch_size, batch_size);
    }
    const at::Tensor weighted = weights_[i] == 1.0 ? loss : loss * weights_[i];
    total = total.defined() ? total + weighted : weighted;
  }
  return total.defined() ? total : at::zeros({});
}

void CompiledLoss::track_total(const at::Tensor& total, int64_t batch_size) {
  at::NoGradGuard no_grad;
  // The loss is a batch mean; weighting it by the batch size makes the epoch value a per-sample mean.
  total_tracker_->add(total.detach() * static_cast<double>(batch_size), static_cast<double>(batch_size));
}

std::vector<std::string> CompiledLoss::names(const std::vector<std::string>& output_names) const {
  std::vector<std::string> out = {"loss"};
  if (output_names.size() < 2) return out;
  const auto specs = spec_.resolve(output_names, "", "loss");
  for (size_t i = 0; i < output_names.size(); ++i)
    if (specs[i]) out.push_back(output_names[i] + "_loss");
  return out;
}

std::vector<std::shared_ptr<metrics::Metric>> CompiledLoss::trackers() const {
  std::vector<std::shared_ptr<metrics::Metric>> out = {total_tracker_};
  for (const auto& tracker : output_trackers_)
    if (tracker) out.push_back(tracker);
  return out;
}

}  // namespace strata
