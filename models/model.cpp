#include <ATen/ATen.h>
#include <strata/callbacks/progbar_logger.h>
#include <strata/core/error.h>
#include <strata/core/host_memory.h>
#include <strata/losses/probabilistic.h>
#include <strata/metrics/accuracy.h>
#include <strata/models/data_checks.h>
#include <strata/models/model.h>

namespace strata {
namespace {

int64_t steps_for(int64_t samples, int64_t batch_size) { return (samples + batch_size - 1) / batch_size; }

std::vector<std::shared_ptr<Callback>> unwrap(const std::vector<CallbackRef>& callbacks) {
  std::vector<std::shared_ptr<Callback>> out;
  for (const auto& callback : callbacks) out.push_back(callback.ptr());
  return out;
}

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

}  // namespace

Model::Model(std::string class_name, std::string name) : Layer(std::move(class_name), std::move(name)) {}

void Model::compile(CompileOptions options) {
  if (!options.optimizer) throw ValueError(describe() + ": compile() needs an optimizer");
  if (!options.loss) throw ValueError(describe() + ": compile() needs a loss, e.g. \"sparse_categorical_crossentropy\"");
  if (options.loss->reduction() == losses::Reduction::kNone)
    throw ValueError(describe() + ": compile() needs a loss that reduces to a scalar, got " + options.loss->name() +
                     " with reduction \"none\"");
  for (const auto& spec : options.metrics) {
    if (spec.is_name() && spec.name() != "accuracy" && spec.name() != "acc") metrics::get(spec.name());  // fail early
    if (!spec.is_name() && !spec.metric()) throw ValueError(describe() + ": compile() got an empty metric");
  }
  optimizer_ = options.optimizer.ptr();
  loss_ = options.loss.ptr();
  metric_specs_ = std::move(options.metrics);
  metrics_.clear();
  training_variables_.clear();
  compiled_ = true;
}

optimizers::Optimizer& Model::optimizer() const {
  require_compiled("optimizer()");
  return *optimizer_;
}

losses::Loss& Model::loss() const {
  require_compiled("loss()");
  return *loss_;
}

void Model::require_compiled(const char* method) const {
  if (!compiled_)
    throw StateError(describe() + ": " + method + " called before compile(); call compile({.optimizer = ..., .loss = ...}) first");
}

void Model::resolve_metrics(const at::Tensor& y, const Shape& y_pred_shape) {
  if (metrics_.size() == metric_specs_.size()) return;
  metrics_.clear();
  for (const auto& spec : metric_specs_) {
    if (!spec.is_name()) {
      metrics_.push_back(spec.metric());
    } else if (spec.name() == "accuracy" || spec.name() == "acc") {
      metrics_.push_back(accuracy_for(spec.name(), loss_.get(), shape_of(y), y_pred_shape));
    } else {
      metrics_.push_back(metrics::get(spec.name()));
    }
  }
}

std::vector<std::string> Model::metrics_names() const {
  std::vector<std::string> names = {"loss"};
  for (const auto& spec : metric_specs_) names.push_back(spec.is_name() ? spec.name() : spec.metric()->name());
  return names;
}

Logs Model::metric_logs() const {
  Logs logs;
  logs.set("loss", loss_tracker_.result().item<double>());
  for (const auto& metric : metrics_) logs.set(metric->name(), metric->result().item<double>());
  return logs;
}

void Model::reset_metrics() {
  loss_tracker_.reset_state();
  for (auto& metric : metrics_) metric->reset_state();
}

Shape Model::prepare_data(const char* method, const at::Tensor& x, const at::Tensor& y) {
  const std::string who = describe() + ": " + method;
  check_same_samples(who, x, y);
  check_finite(who, "x", x);
  check_finite(who, "y", y);
  check_input(x);  // on the whole of x, so the message shows its real shape rather than the one-sample probe's
  Shape y_pred_shape;
  {
    at::NoGradGuard no_grad;
    y_pred_shape = with_batch_none(shape_of((*this)(x.narrow(0, 0, 1), false)));
  }
  loss_->validate_targets(y, y_pred_shape);
  resolve_metrics(y, y_pred_shape);
  return y_pred_shape;
}

const std::vector<at::Tensor>& Model::training_variables() {
  if (training_variables_.empty()) training_variables_ = trainable_weights();
  return training_variables_;
}

at::Tensor Model::compute_loss(const at::Tensor& x, const at::Tensor& y, const at::Tensor& y_pred,
                               const at::Tensor& mask) {
  at::Tensor loss = loss_->compute(y, y_pred, {}, mask);
  for (const auto& penalty : losses()) loss = loss + penalty;  // regularizers and add_loss(), as Keras adds them
  return loss;
}

void Model::update_metrics(const at::Tensor& loss, const at::Tensor& y, const at::Tensor& y_pred,
                           const at::Tensor& mask) {
  at::NoGradGuard no_grad;
  // The loss is a batch mean; weighting it by the batch size makes the epoch value a per-sample mean.
  const auto batch_size = static_cast<double>(y_pred.size(0));
  loss_tracker_.add(loss.detach() * batch_size, batch_size);
  for (auto& metric : metrics_) metric->update_state(y, y_pred, mask);  // masked entries weigh nothing
}

void Model::train_step(const at::Tensor& x, const at::Tensor& y) {
  const auto& variables = training_variables();
  for (const auto& variable : variables) variable.mutable_grad().reset();
  Tensors masks;
  at::Tensor y_pred = apply({x}, {}, true, &masks).front();
  at::Tensor loss = compute_loss(x, y, y_pred, masks.front());
  loss.backward();
  std::vector<at::Tensor> grads;
  grads.reserve(variables.size());
  for (const auto& variable : variables) grads.push_back(variable.grad());
  optimizer_->apply(grads, variables);
  apply_constraints();
  update_metrics(loss, y, y_pred.detach(), masks.front());
}

void Model::test_step(const at::Tensor& x, const at::Tensor& y) {
  Tensors masks;
  at::Tensor y_pred = apply({x}, {}, false, &masks).front();
  update_metrics(compute_loss(x, y, y_pred, masks.front()), y, y_pred, masks.front());
}

at::Tensor Model::predict_step(const at::Tensor& x) { return (*this)(x, false); }

callbacks::History Model::fit(const at::Tensor& x, const at::Tensor& y, FitOptions options) {
  require_compiled("fit()");
  const std::string who = describe() + ": fit()";
  check_batch_size(who, options.batch_size);
  if (!(options.validation_split >= 0.0 && options.validation_split < 1.0))
    throw ValueError(who + ": expected validation_split in [0, 1), got " + std::to_string(options.validation_split));
  if (options.epochs < 0 || options.initial_epoch < 0)
    throw ValueError(who + ": expected epochs >= 0 and initial_epoch >= 0, got epochs=" + std::to_string(options.epochs) +
                     " initial_epoch=" + std::to_string(options.initial_epoch));
  if (options.verbose < 0 || options.verbose > 2)
    throw ValueError(who + ": expected verbose 0, 1 or 2, got " + std::to_string(options.verbose));
  check_same_samples(who, x, y);
  keep_host_memory_for_reuse();

  at::Tensor x_train = x, y_train = y, x_val = options.validation_data.x, y_val = options.validation_data.y;
  if (!x_val.defined() && options.validation_split > 0.0) {
    // Keras takes the last fraction of the samples, before any shuffling.
    const int64_t split_at = static_cast<int64_t>(static_cast<double>(x.size(0)) * (1.0 - options.validation_split));
    if (split_at == 0 || split_at == x.size(0))
      throw ValueError(who + ": validation_split=" + std::to_string(options.validation_split) + " leaves " +
                       (split_at == 0 ? "no training" : "no validation") + " samples out of " +
                       std::to_string(x.size(0)));
    x_train = x.narrow(0, 0, split_at);
    y_train = y.narrow(0, 0, split_at);
    x_val = x.narrow(0, split_at, x.size(0) - split_at);
    y_val = y.narrow(0, split_at, y.size(0) - split_at);
  }
  prepare_data("fit()", x_train, y_train);
  const bool validate = x_val.defined();
  if (validate) prepare_data("fit() validation_data", x_val, y_val);

  const int64_t samples = x_train.size(0);
  const int64_t steps = steps_for(samples, options.batch_size);
  auto history = std::make_shared<callbacks::History>();
  std::vector<std::shared_ptr<Callback>> all = {history};
  if (options.verbose != 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  for (auto& callback : unwrap(options.callbacks)) all.push_back(callback);
  CallbackList callbacks(all, this, {options.epochs, steps, options.verbose});

  stop_training = false;
  Logs epoch_logs;
  callbacks.on_train_begin({});
  for (int epoch = options.initial_epoch; epoch < options.epochs && !stop_training; ++epoch) {
    reset_metrics();
    callbacks.on_epoch_begin(epoch, {});
    at::Tensor order = options.shuffle ? at::randperm(samples, at::TensorOptions().dtype(at::kLong)) : at::Tensor();
    for (int64_t step = 0; step < steps && !stop_training; ++step) {
      const int64_t begin = step * options.batch_size;
      const int64_t size = std::min(options.batch_size, samples - begin);
      callbacks.on_train_batch_begin(step, {});
      if (order.defined()) {
        at::Tensor index = order.narrow(0, begin, size);
        train_step(x_train.index_select(0, index), y_train.index_select(0, index));
      } else {
        train_step(x_train.narrow(0, begin, size), y_train.narrow(0, begin, size));
      }
      callbacks.on_train_batch_end(step, callbacks.needs_batch_logs() ? metric_logs() : Logs());
    }
    epoch_logs = metric_logs();
    if (validate) {
      for (const auto& [key, value] : run_test_loop(x_val, y_val, options.batch_size, callbacks))
        epoch_logs.set("val_" + key, value);
    }
    callbacks.on_epoch_end(epoch, epoch_logs);
  }
  callbacks.on_train_end(epoch_logs);
  history_ = *history;
  return history_;
}

Logs Model::run_test_loop(const at::Tensor& x, const at::Tensor& y, int64_t batch_size, CallbackList& callbacks) {
  at::NoGradGuard no_grad;
  reset_metrics();
  callbacks.on_test_begin({});
  const int64_t samples = x.size(0);
  const int64_t steps = steps_for(samples, batch_size);
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t begin = step * batch_size;
    const int64_t size = std::min(batch_size, samples - begin);
    callbacks.on_test_batch_begin(step, {});
    test_step(x.narrow(0, begin, size), y.narrow(0, begin, size));
    callbacks.on_test_batch_end(step, callbacks.needs_batch_logs() ? metric_logs() : Logs());
  }
  Logs logs = metric_logs();
  callbacks.on_test_end(logs);
  return logs;
}

Logs Model::evaluate(const at::Tensor& x, const at::Tensor& y, EvaluateOptions options) {
  require_compiled("evaluate()");
  check_batch_size(describe() + ": evaluate()", options.batch_size);
  keep_host_memory_for_reuse();
  prepare_data("evaluate()", x, y);
  std::vector<std::shared_ptr<Callback>> all;
  if (options.verbose != 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  for (auto& callback : unwrap(options.callbacks)) all.push_back(callback);
  CallbackList callbacks(all, this, {1, steps_for(x.size(0), options.batch_size), options.verbose});
  return run_test_loop(x, y, options.batch_size, callbacks);
}

at::Tensor Model::predict(const at::Tensor& x, PredictOptions options) {
  const std::string who = describe() + ": predict()";
  check_batch_size(who, options.batch_size);
  if (!x.defined() || x.dim() == 0) throw ValueError(who + ": x must be a defined tensor with a batch dimension");
  check_input(x);
  keep_host_memory_for_reuse();
  const int64_t samples = x.size(0);
  const int64_t steps = steps_for(samples, options.batch_size);
  std::vector<std::shared_ptr<Callback>> all;
  if (options.verbose != 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  for (auto& callback : unwrap(options.callbacks)) all.push_back(callback);
  CallbackList callbacks(all, this, {1, steps, options.verbose});

  at::NoGradGuard no_grad;
  std::vector<at::Tensor> outputs;
  callbacks.on_predict_begin({});
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t begin = step * options.batch_size;
    callbacks.on_predict_batch_begin(step, {});
    outputs.push_back(predict_step(x.narrow(0, begin, std::min(options.batch_size, samples - begin))));
    callbacks.on_predict_batch_end(step, {});
  }
  callbacks.on_predict_end({});
  return outputs.empty() ? at::Tensor() : at::cat(outputs, 0);
}

Logs Model::train_on_batch(const at::Tensor& x, const at::Tensor& y) {
  require_compiled("train_on_batch()");
  prepare_data("train_on_batch()", x, y);
  reset_metrics();
  train_step(x, y);
  return metric_logs();
}

Logs Model::test_on_batch(const at::Tensor& x, const at::Tensor& y) {
  require_compiled("test_on_batch()");
  prepare_data("test_on_batch()", x, y);
  reset_metrics();
  at::NoGradGuard no_grad;
  test_step(x, y);
  return metric_logs();
}

at::Tensor Model::predict_on_batch(const at::Tensor& x) {
  at::NoGradGuard no_grad;
  return predict_step(x);
}

}  // namespace strata
