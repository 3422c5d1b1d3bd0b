#pragma once
// Model: a Layer that trains. Subclass it and override call() (and optionally train_step()), or use
// Sequential. compile/fit/evaluate/predict follow Keras' names, defaults and loop order.

#include <strata/callbacks/callback.h>
#include <strata/callbacks/history.h>
#include <strata/core/logs.h>
#include <strata/layers/layer.h>
#include <strata/losses/loss.h>
#include <strata/metrics/mean.h>
#include <strata/metrics/metric.h>
#include <strata/optimizers/optimizer.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace strata {

struct CompileOptions {
  optimizers::Spec optimizer = "rmsprop";
  losses::Spec loss;
  std::vector<metrics::Spec> metrics;
};

struct ValidationData {
  at::Tensor x;
  at::Tensor y;
};

// Fields follow the order of Keras' fit() arguments, so designated initializers read the same.
struct FitOptions {
  int64_t batch_size = 32;
  int epochs = 1;
  int verbose = 1;  // 0 silent, 1 progress bar, 2 one line per epoch
  std::vector<CallbackRef> callbacks;
  double validation_split = 0.0;  // the last fraction of x/y, taken before shuffling
  ValidationData validation_data;  // overrides validation_split when set
  bool shuffle = true;
  int initial_epoch = 0;
};

struct EvaluateOptions {
  int64_t batch_size = 32;
  int verbose = 1;
  std::vector<CallbackRef> callbacks;
};

struct PredictOptions {
  int64_t batch_size = 32;
  int verbose = 1;
  std::vector<CallbackRef> callbacks;
};

class Model : public Layer {
 public:
  // `class_name` names a subclass in summaries and configs; the default name is its snake_case form.
  explicit Model(std::string class_name = "Model", std::string name = "");

  void compile(CompileOptions options);

  // Trains for epochs [initial_epoch, epochs) and returns per-epoch logs.
  callbacks::History fit(const at::Tensor& x, const at::Tensor& y, FitOptions options = {});
  // Loss and metrics over the data, in metrics_names() order.
  Logs evaluate(const at::Tensor& x, const at::Tensor& y, EvaluateOptions options = {});
  // Outputs for x in inference mode, batch by batch, without an autograd graph.
  at::Tensor predict(const at::Tensor& x, PredictOptions options = {});

  // One step on one batch; the metrics are reset first, so the logs describe this batch alone.
  Logs train_on_batch(const at::Tensor& x, const at::Tensor& y);
  Logs test_on_batch(const at::Tensor& x, const at::Tensor& y);
  at::Tensor predict_on_batch(const at::Tensor& x);

  // The step fit() runs on each batch: forward, loss, backward, optimizer, constraints, metrics. Override it for
  // custom training; the loop reads the results from the metrics afterwards.
  virtual void train_step(const at::Tensor& x, const at::Tensor& y);
  virtual void test_step(const at::Tensor& x, const at::Tensor& y);
  virtual at::Tensor predict_step(const at::Tensor& x);

  // Keras' table: Layer (type), Output Shape, Param #, then the parameter totals.
  void summary(std::ostream& out = std::cout) const;

  bool compiled() const { return compiled_; }
  optimizers::Optimizer& optimizer() const;
  losses::Loss& loss() const;
  // "loss" then each metric's name, the keys of the logs.
  std::vector<std::string> metrics_names() const;
  Logs metric_logs() const;
  void reset_metrics();
  const callbacks::History& history() const { return history_; }

  // Set by a callback to end fit() after the current batch.
  bool stop_training = false;

 protected:
  // The compiled loss of a batch plus losses() (checks were done for the whole data set before the loop).
  // `mask` is the output's Keras mask, if any: masked entries count for nothing.
  at::Tensor compute_loss(const at::Tensor& x, const at::Tensor& y, const at::Tensor& y_pred,
                          const at::Tensor& mask = {});
  // Adds a batch to the loss tracker and the compiled metrics.
  void update_metrics(const at::Tensor& loss, const at::Tensor& y, const at::Tensor& y_pred,
                      const at::Tensor& mask = {});

 private:
  void require_compiled(const char* method) const;
  // Checks x and y for `method` (sample counts, finite values, targets against the loss), builds the
  // model and resolves name-only metrics. Returns the per-sample prediction shape.
  Shape prepare_data(const char* method, const at::Tensor& x, const at::Tensor& y);
  void resolve_metrics(const at::Tensor& y, const Shape& y_pred_shape);
  Logs run_test_loop(const at::Tensor& x, const at::Tensor& y, int64_t batch_size, CallbackList& callbacks);
  const std::vector<at::Tensor>& training_variables();

  bool compiled_ = false;
  std::shared_ptr<optimizers::Optimizer> optimizer_;
  std::shared_ptr<losses::Loss> loss_;
  std::vector<metrics::Spec> metric_specs_;
  std::vector<std::shared_ptr<metrics::PredictionMetric>> metrics_;
  metrics::Mean loss_tracker_{"loss"};
  std::vector<at::Tensor> training_variables_;  // trainable weights, frozen at the first step after compile
  callbacks::History history_;
};

}  // namespace strata
