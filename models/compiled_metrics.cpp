#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/error.h>
#include <strata/losses/probabilistic.h>
#include <strata/metrics/accuracy.h>
#include <strata/models/compiled_metrics.h>

#include <algorithm>
#include <set>

namespace strata {
namespace {

// Keras picks the accuracy that matches the loss; for other losses, the shapes decide: one output
// unit means binary, integer labels (lower rank, or a trailing 1) mean sparse, else categorical.
std::shared_ptr<metrics::PredictionMetric> accuracy_for(const std::string& name, const losses::Loss* loss,
                                                        const Shape& y_true_shape, const Shape& y_pred_shape) {
  if (dynamic_cast<const losses::SparseCategoricalCrossentropy*>(loss))
    return std::make_shared<metrics::SparseCategoricalAccuracy>(name);
  if (dynamic_cast<const losses::CategoricalCrossentropy*>(loss))
    return std::make_shared<metrics::CategoricalAccuracy>(name);
  if (dynamic_cast<const losses::BinaryCrossentropy*>(loss)) return std::make_shared<metrics::BinaryAccuracy>(name);
  if (!y_pred_shape.empty() && y_pred_shape.back() == 1) return std::make_shared<metrics::BinaryAccuracy>(name);
  const bool sparse = y_true_shape.size() < y_pred_shape.size() ||
                      (!y_true_shape.empty() && y_true_shape.back() == 1 && y_pred_shape.back() > 1);
  if (sparse) return std::make_shared<metrics::SparseCategoricalAccuracy>(name);
  return std::make_shared<metrics::CategoricalAccuracy>(name);
}

bool is_accuracy(const metrics::Spec& spec) {
  return spec.is_name() && (spec.name() == "accuracy" || spec.name() == "acc");
}

std::string base_name(const metrics::Spec& spec) { return spec.is_name() ? spec.name() : spec.metric()->name(); }

}  // namespace

CompiledMetrics::CompiledMetrics(PerOutput<std::vector<metrics::Spec>> metrics,
                                 PerOutput<std::vector<metrics::Spec>> weighted)
    : spec_(std::move(metrics)), weighted_spec_(std::move(weighted)) {
  for (const auto* group : {&spec_, &weighted_spec_}) {
    for (const auto& specs : group->values()) {
      for (const auto& spec : specs) {
        if (!spec.is_name() && !spec.metric()) throw ValueError("compile() got an empty metric");
        if (spec.is_name() && !is_accuracy(spec)) metrics::get(spec.name());  // an unknown name fails here
      }
    }
  }
}

std::vector<CompiledMetrics::Planned> CompiledMetrics::plan(const std::vector<std::string>& output_names,
                                                            const std::string& who) const {
  const auto plain = spec_.resolve(output_names, who, "compile()'s metrics");
  const auto weighted = weighted_spec_.resolve(output_names, who, "compile()'s weighted_metrics");
  const bool prefix = output_names.size() > 1;
  std::vector<Planned> out;
  for (size_t i = 0; i < output_names.size(); ++i) {
    std::set<std::string> unweighted_names;
    for (const auto& spec : plain[i].value_or(std::vector<metrics::Spec>{})) {
      unweighted_names.insert(base_name(spec));
      out.push_back({spec, i, false, (prefix ? output_names[i] + "_" : "") + base_name(spec)});
    }
    for (const auto& spec : weighted[i].value_or(std::vector<metrics::Spec>{})) {
      // tf.keras 2 tells a weighted metric from its unweighted twin with a "weighted_" prefix.
      const std::string name = (unweighted_names.count(base_name(spec)) ? "weighted_" : "") + base_name(spec);
      out.push_back({spec, i, true, (prefix ? output_names[i] + "_" : "") + name});
    }
  }
  return out;
}

void CompiledMetrics::resolve(const std::vector<std::string>& output_names,
                              const std::vector<std::shared_ptr<losses::Loss>>& losses, const Tensors& y,
                              const std::vector<Shape>& y_pred_shapes, const std::string& who) {
  if (output_names == output_names_) return;
  std::vector<Entry> entries;
  std::set<const metrics::Metric*> used;
  for (const auto& planned : plan(output_names, who)) {
    std::shared_ptr<metrics::PredictionMetric> metric;
    if (!planned.spec.is_name()) {
      metric = planned.spec.metric();
      if (!used.insert(metric.get()).second)
        throw ValueError(who + ": the metric object '" + metric->name() +
                         "' is given for more than one output; give each output its own object, or its name");
    } else if (is_accuracy(planned.spec)) {
      const size_t i = planned.output;
      const Shape y_shape = i < y.size() && y[i].defined() ? shape_of(y[i]) : Shape{};
      metric = accuracy_for(planned.spec.name(), losses.at(i).get(), y_shape, y_pred_shapes.at(i));
    } else {
      metric = metrics::get(planned.spec.name());
    }
    if (planned.output >= y.size() || !y[planned.output].defined())
      throw ValueError(who + ": output '" + output_names[planned.output] + "' has metrics but no target in y");
    entries.push_back({planned.name, metric, planned.output, planned.weighted});
  }
  entries_ = std::move(entries);
  output_names_ = output_names;
}

void CompiledMetrics::update_state(const Tensors& y, const Tensors& y_pred, const Tensors& sample_weight,
                                   const Tensors& masks) {
  at::NoGradGuard no_grad;
  for (const auto& entry : entries_) {
    const size_t i = entry.output;
    const at::Tensor mask = i < masks.size() ? masks[i] : at::Tensor();
    at::Tensor weight = entry.weighted && i < sample_weight.size() ? sample_weight[i] : at::Tensor();
    if (mask.defined()) {
      // Masked entries weigh nothing; a per-sample weight spreads over the mask's trailing axes.
      at::Tensor mask_weight = mask.to(at::kFloat);
      if (weight.defined()) {
        at::Tensor w = weight.to(at::kFloat);
        while (w.dim() < mask_weight.dim()) w = w.unsqueeze(-1);
        mask_weight = mask_weight * w;
      }
      weight = mask_weight;
    }
    entry.metric->update_state(y.at(i), y_pred.at(i).detach(), weight);
  }
}

std::vector<std::string> CompiledMetrics::names(const std::vector<std::string>& output_names) const {
  std::vector<std::string> out;
  for (const auto& planned : plan(output_names, "compile()")) out.push_back(planned.name);
  return out;
}

std::vector<std::shared_ptr<metrics::Metric>> CompiledMetrics::metrics() const {
  std::vector<std::shared_ptr<metrics::Metric>> out;
  for (const auto& entry : entries_) out.push_back(entry.metric);
  return out;
}

}  // namespace strata
