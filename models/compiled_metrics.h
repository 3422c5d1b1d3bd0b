#pragma once
// compile()'s metrics for any number of outputs (Keras 2's MetricsContainer): which metric watches which
// output, the names the logs show ("accuracy"; "<output>_accuracy" with several outputs), and which ones
// are weighted by sample weights (weighted_metrics) or only by masks (metrics).

#include <strata/losses/loss.h>
#include <strata/metrics/metric.h>
#include <strata/models/model_data.h>
#include <strata/models/per_output.h>

#include <memory>
#include <string>
#include <vector>

namespace strata {

class CompiledMetrics {
 public:
  CompiledMetrics(PerOutput<std::vector<metrics::Spec>> metrics, PerOutput<std::vector<metrics::Spec>> weighted);

  // Creates the metric objects for the outputs; "accuracy" becomes the accuracy that matches the output's loss
  // and shapes. Only when the outputs change. `losses` is one per output (null where none).
  void resolve(const std::vector<std::string>& output_names, const std::vector<std::shared_ptr<losses::Loss>>& losses,
               const Tensors& y, const std::vector<Shape>& y_pred_shapes, const std::string& who);

  bool resolved() const { return !output_names_.empty(); }
  // Whether compile() was given any metrics.
  bool given() const { return !spec_.empty() || !weighted_spec_.empty(); }

  void update_state(const Tensors& y, const Tensors& y_pred, const Tensors& sample_weight, const Tensors& masks);

  // The names the logs use, known from compile() and the output names alone.
  std::vector<std::string> names(const std::vector<std::string>& output_names) const;
  // The metric objects, in names() order (empty before resolve()).
  std::vector<std::shared_ptr<metrics::Metric>> metrics() const;

 private:
  struct Entry {
    std::string name;
    std::shared_ptr<metrics::PredictionMetric> metric;
    size_t output;
    bool weighted;
  };
  // (spec, output, weighted) in log order: per output, unweighted then weighted, as tf.keras 2 lists them.
  struct Planned {
    metrics::Spec spec;
    size_t output;
    bool weighted;
    std::string name;
  };
  std::vector<Planned> plan(const std::vector<std::string>& output_names, const std::string& who) const;

  PerOutput<std::vector<metrics::Spec>> spec_;
  PerOutput<std::vector<metrics::Spec>> weighted_spec_;
  std::vector<std::string> output_names_;
  std::vector<Entry> entries_;
};

}  // namespace strata
