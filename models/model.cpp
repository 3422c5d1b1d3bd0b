#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/callbacks/progbar_logger.h>
#include <strata/core/error.h>
#include <strata/core/host_memory.h>
#include <strata/core/naming.h>
#include <strata/core/random.h>
#include <strata/layers/registry.h>
#include <strata/models/compiled_loss.h>
#include <strata/models/compiled_metrics.h>
#include <strata/models/data_checks.h>
#include <strata/models/epoch_iterator.h>
#include <strata/models/functional_graph.h>
#include <strata/models/model.h>
#include <strata/models/local_replicas.h>
#include <strata/optimizers/loss_scale_optimizer.h>

#include <algorithm>

namespace strata {
namespace {

std::vector<std::shared_ptr<Callback>> unwrap(const std::vector<CallbackRef>& callbacks) {
  std::vector<std::shared_ptr<Callback>> out;
  for (const auto& callback : callbacks) out.push_back(callback.ptr());
  return out;
}

Batch slice(const Batch& data, int64_t begin, int64_t size) {
  return map_batch(data, [&](const at::Tensor& t) { return t.narrow(0, begin, size); });
}

Tensors detached(const Tensors& tensors) {
  return map_tensors(tensors, [](const at::Tensor& t) { return t.detach(); });
}

// Losses and metrics compute in float32, as Keras 3's cast y_pred to their float32 dtype: a mixed-precision
// model's float16/bfloat16 outputs are raised first.
Tensors in_float32(const Tensors& y_pred) {
  return map_tensors(y_pred, [](const at::Tensor& t) {
    return t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16 ? t.to(at::kFloat) : t;
  });
}

// "x", or "x[1] (in_b)" when there are several: the position, and the input's or output's name when known.
std::vector<std::pair<std::string, at::Tensor>> labelled(const Batch& data, const std::vector<std::string>& input_names,
                                                         const std::vector<std::string>& output_names) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  auto add = [&](const char* what, const Tensors& tensors, const std::vector<std::string>& names) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      std::string label = what;
      if (tensors.size() > 1) label.append("[").append(std::to_string(i)).append("]");  // no temporaries: GCC 12 warns falsely
      if (tensors.size() > 1 && names.size() == tensors.size()) label += " (" + names[i] + ")";
      out.emplace_back(label, tensors[i]);
    }
  };
  add("x", data.x, input_names);
  add("y", data.y, output_names);
  add("sample_weight", data.sample_weight, output_names);
  return out;
}

// Keras' class_weight: each sample weighs its class's entry (1 for a class left out). Classes come from
// integer labels, from the argmax of one-hot rows, or from rounding a single probability column.
at::Tensor class_sample_weights(const std::string& who, const at::Tensor& y, const std::map<int64_t, double>& class_weight) {
  at::Tensor classes;
  if (!y.is_floating_point()) {
    classes = y.reshape({y.size(0), -1}).select(1, 0).to(at::kLong);
  } else if (y.dim() >= 2 && y.size(-1) > 1) {
    classes = y.argmax(-1).reshape({y.size(0), -1}).select(1, 0);
  } else {
    classes = y.reshape({y.size(0), -1}).select(1, 0).round().to(at::kLong);
  }
  const int64_t largest = std::max(classes.max().item<int64_t>(), class_weight.rbegin()->first);
  if (classes.min().item<int64_t>() < 0 || class_weight.begin()->first < 0)
    throw ValueError(who + ": class_weight needs class ids >= 0");
  at::Tensor table = at::ones({largest + 1}, at::kFloat);
  for (const auto& [cls, weight] : class_weight) table[cls] = weight;
  return table.index_select(0, classes);
}

}  // namespace

Model::Model(std::string class_name, std::string name) : Layer(std::move(class_name), std::move(name)) {
  set_autocast(false);  // as Keras 3's Functional: each layer casts its own inputs to its own compute dtype
  // Temporaries of the library's models can join a functional graph (see layers/registry.h).
  static const bool registered = (layers::register_layer_type<Model>(), true);
  (void)registered;
}

Model::Model(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, std::string name)
    : Model("Functional", name.empty() ? unique_name("model") : std::move(name)) {
  graph_ = std::make_shared<FunctionalGraph>(std::move(inputs), std::move(outputs), describe());
  for (const auto& layer : graph_->layers()) track(layer);
  std::vector<Shape> input_shapes;
  for (const auto& input : graph_->inputs()) input_shapes.push_back(input.shape());
  ensure_built(input_shapes);
  record_output_shape(graph_->outputs().front().shape());
}

Model::Model(const SymbolicTensor& input, const SymbolicTensor& output, std::string name)
    : Model(std::vector<SymbolicTensor>{input}, std::vector<SymbolicTensor>{output}, std::move(name)) {}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;

void Model::build_many(const std::vector<Shape>& input_shapes) {
  // A subclassed or functional model builds its layers as they are called; Sequential builds from one shape.
  if (input_shapes.size() == 1) build(input_shapes.front());
}

at::Tensor Model::call(const at::Tensor& inputs, bool training) {
  if (graph_) return call_many({inputs}, {}, training).front();
  throw StateError(describe() + ": has no call(); a Model subclass computes its outputs in call(inputs, training), or "
                   "in call_many() for several inputs or outputs (fit() calls the model once to build it)");
}

Tensors Model::call_many(const Tensors& inputs, const Tensors& masks, bool training) {
  if (!graph_) return Layer::call_many(inputs, masks, training);
  return graph_->run(inputs, masks, training, &graph_output_masks_);
}

Tensors Model::compute_mask(const Tensors& inputs, const Tensors& masks) const {
  return graph_ ? graph_output_masks_ : Layer::compute_mask(inputs, masks);
}

std::vector<std::string> Model::input_names() const { return graph_ ? graph_->input_names() : std::vector<std::string>{}; }

std::vector<std::string> Model::output_names() const {
  if (graph_) return graph_->output_names();
  std::vector<std::string> names;
  for (size_t i = 1; i <= output_count_; ++i) names.push_back("output_" + std::to_string(i));
  return names;
}

std::shared_ptr<Layer> Model::get_layer(const std::string& name) const {
  std::string known;
  for (const auto& layer : layers()) {
    if (layer->name() == name) return layer;
    known += (known.empty() ? "" : ", ") + layer->name();
  }
  throw ValueError(describe() + ": no layer named '" + name + "'; its layers are: " + known);
}

std::shared_ptr<Layer> Model::get_layer(size_t index) const {
  if (index >= layers().size())
    throw ValueError(describe() + ": get_layer(" + std::to_string(index) + ") out of range; the model has " +
                     std::to_string(layers().size()) + " layers");
  return layers()[index];
}

void Model::compile(CompileOptions options) {
  if (!options.optimizer) throw ValueError(describe() + ": compile() needs an optimizer");
  CompileOptions given = options;
  auto loss = std::make_unique<CompiledLoss>(std::move(options.loss), std::move(options.loss_weights));
  auto metrics = std::make_unique<CompiledMetrics>(std::move(options.metrics), std::move(options.weighted_metrics));
  optimizer_ = options.optimizer.ptr();
  // Keras wraps the optimizer for dynamic loss scaling when the model's policy is mixed_float16.
  if (dtype_policy().name() == "mixed_float16" && !dynamic_cast<optimizers::LossScaleOptimizer*>(optimizer_.get()))
    optimizer_ = std::make_shared<optimizers::LossScaleOptimizer>(optimizer_);
  compiled_loss_ = std::move(loss);
  compiled_metrics_ = std::move(metrics);
  added_metrics_.clear();
  loss_computed_ = false;
  training_variables_.clear();
  strategy_ = options.strategy ? *options.strategy : distribute::current_strategy();
  local_replicas_.reset();
  compile_options_ = std::move(given);
  compiled_ = true;
}

const CompileOptions& Model::compile_options() const {
  require_compiled("compile_options()");
  return compile_options_;
}

optimizers::Optimizer& Model::optimizer() const {
  require_compiled("optimizer()");
  return *optimizer_;
}

void Model::require_compiled(const char* method) const {
  if (!compiled_)
    throw StateError(describe() + ": " + method + " called before compile(); call compile({.optimizer = ..., .loss = ...}) first");
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics and logs

std::vector<std::pair<std::string, std::shared_ptr<metrics::Metric>>> Model::named_metrics() const {
  std::vector<std::pair<std::string, std::shared_ptr<metrics::Metric>>> out;
  if (compiled_ && (compiled_loss_->given() || loss_computed_))
    for (const auto& tracker : compiled_loss_->trackers()) out.emplace_back(tracker->name(), tracker);
  if (compiled_) {
    const auto names = compiled_metrics_->names(output_names());
    const auto objects = compiled_metrics_->metrics();
    for (size_t i = 0; i < objects.size() && i < names.size(); ++i) out.emplace_back(names[i], objects[i]);
  }
  for (const auto& metric : tracked_metrics_) out.emplace_back(metric->name(), metric);
  for (const auto& metric : added_metrics_) out.emplace_back(metric->name(), metric);
  return out;
}

std::vector<std::string> Model::metrics_names() const {
  if (!compiled_ || compiled_metrics_->resolved()) {
    std::vector<std::string> names;
    for (const auto& [name, metric] : named_metrics()) names.push_back(name);
    return names;
  }
  // Before the first batch the metric objects do not exist yet; their names are known from compile(). A
  // subclassed model assumes one output until it sees data, so options for several outputs wait for the data.
  std::vector<std::string> names;
  try {
    if (compiled_loss_->given()) names = compiled_loss_->names(output_names());
    for (const auto& name : compiled_metrics_->names(output_names())) names.push_back(name);
  } catch (const ValueError&) {
    names = compiled_loss_->given() ? std::vector<std::string>{"loss"} : std::vector<std::string>{};
  }
  for (const auto& metric : tracked_metrics_) names.push_back(metric->name());
  return names;
}

std::vector<std::shared_ptr<metrics::Metric>> Model::metrics() const {
  std::vector<std::shared_ptr<metrics::Metric>> out;
  for (const auto& [name, metric] : named_metrics()) out.push_back(metric);
  return out;
}

Logs Model::metric_logs() const {
  // Under a strategy with several replicas every worker reports the global value.
  const distribute::Strategy::GlobalMetricState global(strategy_, metrics());
  Logs logs;
  for (const auto& [name, metric] : named_metrics()) logs.set(name, metric->result().item<double>());
  return logs;
}

void Model::reset_metrics() {
  for (const auto& metric : metrics()) metric->reset_state();
}

// ---------------------------------------------------------------------------------------------------------------
// Data

Batch Model::collect_data(const std::string& who, const ModelData& x, const ModelData& y, const ModelData& sample_weight,
                          std::vector<Shape>* y_pred_shapes) {
  if (x.empty()) throw ValueError(who + ": x is empty");
  Batch data;
  data.x = x.resolve(input_names(), who, "x");
  for (size_t i = 0; i < data.x.size(); ++i)
    if (!data.x[i].defined() || data.x[i].dim() == 0)
      throw ValueError(who + ": x[" + std::to_string(i) + "] must be a defined tensor with a batch dimension");
  if (data.x.size() == 1) check_input(data.x.front());  // on the whole of x, so the message shows its real shape
  std::vector<Shape> shapes;
  const bool outputs_needed = !y.empty() || compiled_loss_->given() || compiled_metrics_->given();
  if (!outputs_needed) {
    // Nothing to check the outputs against (a custom train_step with no targets, as a GAN's): no probe, so the
    // model need not even define call().
  } else if (graph_) {
    // Each Input layer checks its whole tensor (an identity call), so a shape error shows the data's real shape.
    if (data.x.size() == graph_->inputs().size())
      for (size_t i = 0; i < data.x.size(); ++i) graph_->inputs()[i].layer()->apply({data.x[i]}, {}, false);
    for (const auto& output : graph_->outputs()) shapes.push_back(output.shape());
  } else {
    // A one-sample probe builds the model and tells how many outputs it has and their shapes; a stateful layer
    // forgets the probe.
    at::NoGradGuard no_grad;
    // On the weights' device: a strategy may have moved them to a GPU in an earlier fit().
    const std::vector<Variable> weights = variables();
    const at::Device device = weights.empty() ? at::Device(at::kCPU) : weights.front().value.device();
    for (const auto& output :
         apply(map_tensors(data.x, [device](const at::Tensor& t) { return t.narrow(0, 0, 1).to(device); }), {}, false))
      shapes.push_back(with_batch_none(shape_of(output)));
    reset_states();
  }
  if (outputs_needed) output_count_ = shapes.size();
  if (y_pred_shapes) *y_pred_shapes = std::move(shapes);
  const auto names = output_names();
  if (!y.empty()) data.y = y.resolve(names, who, "y", /*allow_missing=*/true);
  if (!sample_weight.empty()) {
    data.sample_weight = sample_weight.single() && names.size() > 1
                             ? Tensors(names.size(), sample_weight.resolve({}, who, "sample_weight").front())
                             : sample_weight.resolve(names, who, "sample_weight", /*allow_missing=*/true);
    for (size_t i = 0; i < data.sample_weight.size(); ++i) {
      at::Tensor& w = data.sample_weight[i];
      if (!w.defined()) continue;
      if (w.dim() != 1 && !(w.dim() == 2 && w.size(1) == 1))
        throw ShapeError(who + ": sample_weight for output '" + names.at(i) + "' must have shape (samples,), got " +
                         format_dims(w.sizes()));
      w = w.reshape({w.size(0)});  // (samples, 1) as (samples,), so it broadcasts over each sample's losses
    }
  }
  check_same_samples(who, labelled(data, input_names(), names));
  return data;
}

void Model::check_data(const std::string& who, const Batch& data, const std::vector<Shape>& y_pred_shapes) {
  for (const auto& [name, tensor] : labelled(data, input_names(), output_names()))
    if (tensor.defined()) check_finite(who, name, tensor);
  const auto names = output_names();
  if (compiled_loss_->given()) {
    compiled_loss_->resolve(names, describe());
    compiled_loss_->validate_targets(data.y, y_pred_shapes, who);
  }
  compiled_metrics_->resolve(names, compiled_loss_->losses_or_none(names.size()), data.y, y_pred_shapes, who);
}

void Model::add_class_weights(const std::string& who, Batch& data, const std::map<int64_t, double>& class_weight) {
  if (class_weight.empty()) return;
  if (output_count_ != 1 || data.y.size() != 1 || !data.y.front().defined())
    throw ValueError(who + ": class_weight is only supported for models with a single output and targets y");
  at::Tensor weights = class_sample_weights(who, data.y.front(), class_weight);
  if (!data.sample_weight.empty() && data.sample_weight.front().defined())
    weights = weights * data.sample_weight.front().reshape({-1}).to(at::kFloat);
  data.sample_weight = {weights};
}

const std::vector<at::Tensor>& Model::training_variables() {
  if (!training_variables_.empty()) return training_variables_;
  // Built with the variables' names so exclude_from_weight_decay(var_names) can match them, as in Keras.
  std::vector<std::string> names;
  for (const auto& variable : variables()) {
    if (!variable.trainable) continue;
    training_variables_.push_back(variable.value);
    names.push_back(variable.name);
  }
  optimizer_->build(training_variables_, names);
  return training_variables_;
}

void Model::resolve_compiled(const Batch& batch, const Tensors& y_pred) {
  const bool loss_ready = compiled_loss_->resolved() || !compiled_loss_->given();
  if (output_count_ == y_pred.size() && loss_ready && compiled_metrics_->resolved()) return;
  output_count_ = y_pred.size();
  std::vector<Shape> shapes;
  for (const auto& output : y_pred) shapes.push_back(with_batch_none(shape_of(output)));
  check_data(describe(), batch, shapes);
}

// ---------------------------------------------------------------------------------------------------------------
// Steps

at::Tensor Model::compute_loss(const Batch& batch, const Tensors& y_pred, const Tensors& masks) {
  require_compiled("compute_loss()");
  resolve_compiled(batch, y_pred);
  at::Tensor total;
  if (compiled_loss_->given()) total = (*compiled_loss_)(batch.y, in_float32(y_pred), batch.sample_weight, masks);
  for (const auto& penalty : losses())  // regularizers and add_loss(), as Keras adds them
    total = total.defined() ? total + penalty : penalty;
  if (!total.defined())
    throw StateError(describe() + ": no loss to compute: compile() got no loss and the model adds none; give "
                     "compile() a loss, or override train_step()/test_step()");
  loss_computed_ = true;
  compiled_loss_->track_total(total, y_pred.front().size(0));
  return total;
}

void Model::compute_metrics(const Batch& batch, const Tensors& y_pred, const Tensors& masks) {
  require_compiled("compute_metrics()");
  resolve_compiled(batch, y_pred);
  // Metric states live on the CPU (they are read every batch and summed across replicas there): a batch
  // computed on a GPU is copied over first.
  const auto to_cpu = [](const at::Tensor& t) { return t.to(at::kCPU); };
  const bool on_gpu = !y_pred.empty() && !y_pred.front().is_cpu();
  compiled_metrics_->update_state(on_gpu ? map_tensors(batch.y, to_cpu) : batch.y,
                                  in_float32(on_gpu ? map_tensors(y_pred, to_cpu) : y_pred),
                                  on_gpu ? map_tensors(batch.sample_weight, to_cpu) : batch.sample_weight,
                                  on_gpu ? map_tensors(masks, to_cpu) : masks);
  at::NoGradGuard no_grad;
  for (const auto& [name, value] : call_metrics()) {
    auto it = std::find_if(added_metrics_.begin(), added_metrics_.end(),
                           [&](const auto& metric) { return metric->name() == name; });
    if (it == added_metrics_.end()) it = added_metrics_.insert(added_metrics_.end(), std::make_shared<metrics::Mean>(name));
    (*it)->update_state(value);
  }
}

void Model::train_step(const Batch& batch) {
  const auto& variables = training_variables();
  for (const auto& variable : variables) variable.mutable_grad().reset();
  std::vector<at::Tensor> grads(variables.size());
  // A replica whose share of a small last batch is empty still joins the gradient all-reduce, with zeros.
  const bool empty_share = !batch.x.empty() && batch.x.front().size(0) == 0;
  Tensors masks;
  Tensors y_pred;
  if (!empty_share) {
    y_pred = apply(batch.x, {}, true, &masks);
    const at::Tensor loss = compute_loss(batch, y_pred, masks);
    // With several replicas, each one's loss is weighted by its share of the global batch.
    strategy_.replica_objective(optimizer_->scale_loss(loss)).backward();
    for (size_t i = 0; i < variables.size(); ++i) grads[i] = variables[i].grad();
  }
  strategy_.reduce_gradients(grads, variables);
  optimizer_->apply(grads, variables);
  apply_constraints();
  if (!empty_share) compute_metrics(batch, detached(y_pred), masks);
}

void Model::test_step(const Batch& batch) {
  Tensors masks;
  const Tensors y_pred = apply(batch.x, {}, false, &masks);
  compute_loss(batch, y_pred, masks);
  compute_metrics(batch, y_pred, masks);
}

Tensors Model::predict_step(const Tensors& x) { return apply(x, {}, false); }

// ---------------------------------------------------------------------------------------------------------------
// Loops

namespace {

void check_fit_options(const std::string& who, const FitOptions& options) {
  if (options.epochs < 0 || options.initial_epoch < 0)
    throw ValueError(who + ": expected epochs >= 0 and initial_epoch >= 0, got epochs=" + std::to_string(options.epochs) +
                     " initial_epoch=" + std::to_string(options.initial_epoch));
  if (options.verbose < 0 || options.verbose > 2)
    throw ValueError(who + ": expected verbose 0, 1 or 2, got " + std::to_string(options.verbose));
}

}  // namespace

callbacks::History Model::fit(const ModelData& x, const ModelData& y, FitOptions options) {
  require_compiled("fit()");
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<callbacks::History>([&] { return fit(x, y, options); },
                                             [&](Model& copy) { copy.fit(x, y, options); });
  const std::string who = describe() + ": fit()";
  check_batch_size(who, options.batch_size);
  if (!(options.validation_split >= 0.0 && options.validation_split < 1.0))
    throw ValueError(who + ": expected validation_split in [0, 1), got " + std::to_string(options.validation_split));
  check_fit_options(who, options);
  if (options.steps_per_epoch || options.validation_steps)
    throw ValueError(who + ": steps_per_epoch and validation_steps are for datasets; with tensors an epoch is every "
                           "sample once, in batches of batch_size");
  keep_host_memory_for_reuse();

  std::vector<Shape> y_pred_shapes;
  Batch train = collect_data(who, x, y, options.sample_weight, &y_pred_shapes);
  Batch val;
  const ValidationData& given = options.validation_data;
  if (!given.x.empty()) {
    val = collect_data(who + " validation_data", given.x, given.y, given.sample_weight, nullptr);
  } else if (options.validation_split > 0.0 && !given.dataset) {
    // Keras takes the last fraction of the samples, before any shuffling.
    const int64_t samples = train.x.front().size(0);
    const int64_t split_at = static_cast<int64_t>(static_cast<double>(samples) * (1.0 - options.validation_split));
    if (split_at == 0 || split_at == samples)
      throw ValueError(who + ": validation_split=" + std::to_string(options.validation_split) + " leaves " +
                       (split_at == 0 ? "no training" : "no validation") + " samples out of " + std::to_string(samples));
    val = slice(train, split_at, samples - split_at);
    train = slice(train, 0, split_at);
  }
  check_data(who, train, y_pred_shapes);
  if (!val.x.empty()) check_data(who + " validation data", val, y_pred_shapes);
  add_class_weights(who, train, options.class_weight);
  options.class_weight.clear();  // folded into the sample weights once, not again per batch

  // One draw from the global generator, so set_random_seed fixes every epoch's order (FitOptions::initial_epoch).
  const uint64_t shuffle_seed = strategy_.broadcast_from_chief(strategy_.is_model_copy() ? 0 : draw_seed());
  EpochIterator train_batches(std::move(train), options.batch_size,
                              options.shuffle ? std::optional<uint64_t>(shuffle_seed) : std::nullopt);
  std::optional<EpochIterator> val_batches;
  if (given.dataset)
    val_batches.emplace(dataset_batches(*given.dataset, std::nullopt, false, who + " validation_data"));
  else if (!val.x.empty())
    val_batches.emplace(std::move(val), options.batch_size, std::nullopt);
  return run_fit(who, train_batches, val_batches ? &*val_batches : nullptr, options);
}

callbacks::History Model::fit(const data::Dataset& dataset, FitOptions options) {
  require_compiled("fit()");
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<callbacks::History>([&] { return fit(dataset, options); },
                                             [&](Model& copy) { copy.fit(dataset, options); });
  const std::string who = describe() + ": fit()";
  check_fit_options(who, options);
  if (options.validation_split > 0.0)
    throw ValueError(who + ": validation_split is only supported for tensors, not a dataset; pass validation_data");
  if (!options.sample_weight.empty())
    throw ValueError(who + ": sample_weight is not taken with a dataset; make it the element's third part "
                           "(x, y, sample_weight)");
  keep_host_memory_for_reuse();
  EpochIterator train_batches = dataset_batches(dataset, options.steps_per_epoch, true, who);
  std::optional<EpochIterator> val_batches;
  const ValidationData& given = options.validation_data;
  if (given.dataset) {
    val_batches.emplace(dataset_batches(*given.dataset, options.validation_steps, false, who + " validation_data"));
  } else if (!given.x.empty()) {
    if (options.validation_steps)
      throw ValueError(who + ": validation_steps is for a validation dataset, not tensors");
    Batch val = collect_data(who + " validation_data", given.x, given.y, given.sample_weight, nullptr);
    val_batches.emplace(std::move(val), options.batch_size, std::nullopt);
  }
  return run_fit(who, train_batches, val_batches ? &*val_batches : nullptr, options);
}

callbacks::History Model::run_fit(const std::string& who, EpochIterator& train, EpochIterator* validation,
                                  const FitOptions& options) {
  const int64_t steps = train.steps();
  auto history = std::make_shared<callbacks::History>();
  // Keras 3's order: the user's callbacks, then History, then the progress bar, so both see what a callback
  // adds to the epoch logs (ReduceLROnPlateau's learning_rate).
  std::vector<std::shared_ptr<Callback>> all = unwrap(options.callbacks);
  all.push_back(history);
  if (options.verbose != 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  CallbackList callbacks(all, this, {options.epochs, steps, options.verbose});

  const distribute::Strategy::Scope in_strategy(strategy_);  // SyncBatchNormalization finds the replicas
  stop_training = false;
  Logs epoch_logs;
  fit_start = {options.initial_epoch, 0};
  callbacks.on_train_begin({});
  if (strategy_.distributed()) {  // where the chief starts (a BackupAndRestore restore), every worker starts
    std::vector<at::Tensor> start = {at::tensor({static_cast<int64_t>(fit_start.epoch), fit_start.step})};
    strategy_.broadcast_from_chief(start);
    fit_start = {static_cast<int>(start[0][0].item<int64_t>()), start[0][1].item<int64_t>()};
  }
  bool joined = false;
  if (fit_start.epoch < 0 || fit_start.step < 0 || (steps != EpochIterator::kUnknownSteps && fit_start.step > steps))
    throw ValueError(who + ": a callback moved the start to epoch " + std::to_string(fit_start.epoch) + ", step " +
                     std::to_string(fit_start.step) + "; expected epoch >= 0 and a step in [0, " +
                     std::to_string(steps) + "]");
  for (int epoch = fit_start.epoch; epoch < options.epochs && !stop_training; ++epoch) {
    reset_metrics();
    callbacks.on_epoch_begin(epoch, {});
    follow_chief_callbacks();
    const int64_t first_step = epoch == fit_start.epoch ? fit_start.step : 0;
    train.start_epoch(epoch, first_step);
    for (int64_t step = first_step; !stop_training; ++step) {
      std::optional<Batch> batch = train.next();
      if (!batch) break;
      add_class_weights(who, *batch, options.class_weight);
      Batch share = strategy_.replica_batch(*batch);
      if (!joined) {
        place_on_device(share);
        join_replicas();
      }
      joined = true;
      share = on_device(share);
      callbacks.on_train_batch_begin(step, {});
      follow_chief_callbacks();
      const int64_t reductions = strategy_.gradient_reductions();
      train_step(share);
      if (strategy_.distributed() && strategy_.gradient_reductions() == reductions)
        throw StateError(who + ": under " + strategy_.class_name() + " a train_step must sum its gradients across "
                         "the replicas with distribute_strategy().reduce_gradients(grads, weights) before applying "
                         "them (Model::train_step does); this one did not, so the replicas would drift apart");
      callbacks.on_train_batch_end(step, callbacks.needs_batch_logs() ? metric_logs() : Logs());
      follow_chief_callbacks();
    }
    if (train.ran_out()) {
      // Keras' warning, word for word, and training stops after this epoch.
      std::cerr << "Warning: Your input ran out of data; interrupting training. Make sure that your dataset or "
                   "generator can generate at least `steps_per_epoch * epochs` batches. You may need to use the "
                   "`.repeat()` function when building your dataset.\n";
      stop_training = true;
    }
    epoch_logs = metric_logs();
    average_non_trainable_weights();
    if (validation) {
      validation->start_epoch(0);
      for (const auto& [key, value] : run_test_loop(*validation, callbacks)) epoch_logs.set("val_" + key, value);
    }
    callbacks.on_epoch_end(epoch, epoch_logs);
    follow_chief_callbacks();
  }
  // Keras swaps in the EMA weights (with use_ema) once training ends.
  if (options.epochs > options.initial_epoch) optimizer_->finalize_variable_values(trainable_weights());
  callbacks.on_train_end(epoch_logs);
  history_ = *history;
  return history_;
}

Logs Model::run_test_loop(EpochIterator& batches, CallbackList& callbacks, bool join) {
  at::NoGradGuard no_grad;
  reset_metrics();
  callbacks.on_test_begin({});
  for (int64_t step = 0;; ++step) {
    std::optional<Batch> batch = batches.next();
    if (!batch) break;
    Batch share = strategy_.replica_batch(*batch);
    if (step == 0 && join) {
      place_on_device(share);
      join_replicas();
    }
    share = on_device(share);
    callbacks.on_test_batch_begin(step, {});
    if (share.x.empty() || share.x.front().size(0) > 0) test_step(share);  // a replica's share can be empty
    callbacks.on_test_batch_end(step, callbacks.needs_batch_logs() ? metric_logs() : Logs());
  }
  Logs logs = metric_logs();
  callbacks.on_test_end(logs);
  return logs;
}

void Model::place_on_device(const Batch& batch) {
  const at::Device device = strategy_.device();
  if (!strategy_.distributed() && device.is_cpu()) return;
  if (!built()) {  // built on the CPU batch, then moved
    at::NoGradGuard no_grad;
    apply(batch.x, {}, false);
  }
  if (device.is_cpu()) return;
  // set_data keeps each weight's identity (layers, the optimizer and checkpoints hold the same tensors).
  at::NoGradGuard no_grad;
  for (const auto& variable : variables())
    if (variable.value.device() != device) variable.value.set_data(variable.value.to(device));
  if (compiled_ && optimizer_->built())
    for (const auto& slot : optimizer_->variables())
      if (slot.device() != device) slot.set_data(slot.to(device));
}

Batch Model::on_device(const Batch& batch) const {
  const at::Device device = strategy_.device();
  if (device.is_cpu()) return batch;
  return map_batch(batch, [device](const at::Tensor& t) { return t.to(device, /*non_blocking=*/true); });
}

void Model::join_replicas() {
  if (!strategy_.distributed()) return;
  if (compiled_) training_variables();  // builds the optimizer, whose state the chief sends too
  strategy_.prepare_model(*this);
}

void Model::average_non_trainable_weights() {
  if (!strategy_.distributed()) return;
  std::vector<at::Tensor> values;
  for (const auto& variable : variables())
    if (!variable.trainable && at::isFloatingType(variable.value.scalar_type())) values.push_back(variable.value);
  strategy_.all_reduce_sum(values);
  at::NoGradGuard no_grad;
  for (auto& value : values) value.div_(strategy_.num_replicas_in_sync());
}

void Model::follow_chief_callbacks() {
  if (!strategy_.distributed()) return;
  std::vector<at::Tensor> state = {at::tensor({stop_training ? 1.0 : 0.0, optimizer_->learning_rate()}, at::kDouble)};
  strategy_.broadcast_from_chief(state);
  stop_training = state[0][0].item<double>() != 0.0;
  // Only a changed value is set, so a learning-rate schedule (equal on every replica) stays a schedule.
  const double chief_learning_rate = state[0][1].item<double>();
  if (chief_learning_rate != optimizer_->learning_rate()) optimizer_->set_learning_rate(chief_learning_rate);
}

LocalReplicas* Model::local_replicas_to_run() {
  if (local_replicas_ && local_replicas_->running()) return nullptr;
  if (!local_replicas_) {
    const std::vector<distribute::Strategy> replicas = strategy_.local_replicas();
    if (replicas.empty()) return nullptr;
    local_replicas_ = std::make_shared<LocalReplicas>(*this, replicas);
  }
  return local_replicas_.get();
}

Logs Model::run_evaluate(EpochIterator& batches, const EvaluateOptions& options) {
  std::vector<std::shared_ptr<Callback>> all = unwrap(options.callbacks);
  if (options.verbose != 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  CallbackList callbacks(all, this, {1, batches.steps(), options.verbose});
  const distribute::Strategy::Scope in_strategy(strategy_);
  batches.start_epoch(0);
  return run_test_loop(batches, callbacks, true);
}

Logs Model::evaluate(const ModelData& x, const ModelData& y, EvaluateOptions options) {
  require_compiled("evaluate()");
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<Logs>([&] { return evaluate(x, y, options); },
                               [&](Model& copy) { copy.evaluate(x, y, options); });
  const std::string who = describe() + ": evaluate()";
  check_batch_size(who, options.batch_size);
  if (options.steps) throw ValueError(who + ": steps is for datasets; with tensors every sample is evaluated");
  keep_host_memory_for_reuse();
  std::vector<Shape> y_pred_shapes;
  Batch data = collect_data(who, x, y, options.sample_weight, &y_pred_shapes);
  check_data(who, data, y_pred_shapes);
  EpochIterator batches(std::move(data), options.batch_size, std::nullopt);
  return run_evaluate(batches, options);
}

Logs Model::evaluate(const data::Dataset& dataset, EvaluateOptions options) {
  require_compiled("evaluate()");
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<Logs>([&] { return evaluate(dataset, options); },
                               [&](Model& copy) { copy.evaluate(dataset, options); });
  const std::string who = describe() + ": evaluate()";
  if (!options.sample_weight.empty())
    throw ValueError(who + ": sample_weight is not taken with a dataset; make it the element's third part");
  keep_host_memory_for_reuse();
  EpochIterator batches = dataset_batches(dataset, options.steps, false, who);
  return run_evaluate(batches, options);
}

Tensors Model::run_predict(EpochIterator& batches, const PredictOptions& options) {
  std::vector<std::shared_ptr<Callback>> all = unwrap(options.callbacks);
  if (options.verbose != 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  CallbackList callbacks(all, this, {1, batches.steps(), options.verbose});

  at::NoGradGuard no_grad;
  std::vector<Tensors> per_output;
  callbacks.on_predict_begin({});
  batches.start_epoch(0);
  for (int64_t step = 0;; ++step) {
    std::optional<Batch> batch = batches.next();
    if (!batch) break;
    // Under a strategy with several replicas each predicts its share and the shares are gathered, so every
    // replica returns the predictions of the whole input.
    const int64_t global_size = batch->x.front().size(0);
    Batch share = strategy_.replica_batch(*batch);
    const int64_t rows = share.x.front().size(0);
    if (rows == 0) share = slice(*batch, 0, 1);  // predicted but kept out: the gather needs the outputs' shapes
    if (step == 0) {
      place_on_device(share);
      join_replicas();
    }
    callbacks.on_predict_batch_begin(step, {});
    const Tensors outputs = predict_step(on_device(share).x);
    per_output.resize(outputs.size());
    // Predictions come back to the CPU, as Keras returns host arrays.
    for (size_t i = 0; i < outputs.size(); ++i)
      per_output[i].push_back(strategy_.gather_replica_rows(outputs[i].to(at::kCPU).narrow(0, 0, rows), global_size));
    callbacks.on_predict_batch_end(step, {});
  }
  callbacks.on_predict_end({});
  Tensors out;
  for (const auto& parts : per_output) out.push_back(at::cat(parts, 0));
  return out;
}

Tensors Model::predict_outputs(const ModelData& x, PredictOptions options) {
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<Tensors>([&] { return predict_outputs(x, options); },
                                  [&](Model& copy) { copy.predict_outputs(x, options); });
  const std::string who = describe() + ": predict()";
  check_batch_size(who, options.batch_size);
  if (x.empty()) throw ValueError(who + ": x is empty");
  if (options.steps) throw ValueError(who + ": steps is for datasets; with tensors every sample is predicted");
  Batch data;
  data.x = x.resolve(input_names(), who, "x");
  check_same_samples(who, labelled(data, input_names(), {}));
  if (data.x.size() == 1) check_input(data.x.front());
  keep_host_memory_for_reuse();
  EpochIterator batches(std::move(data), options.batch_size, std::nullopt);
  return run_predict(batches, options);
}

Tensors Model::predict_outputs(const data::Dataset& dataset, PredictOptions options) {
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<Tensors>([&] { return predict_outputs(dataset, options); },
                                  [&](Model& copy) { copy.predict_outputs(dataset, options); });
  const std::string who = describe() + ": predict()";
  keep_host_memory_for_reuse();
  const size_t inputs = graph_ ? graph_->inputs().size() : 1;
  // predict() reads only the inputs of each element.
  EpochIterator batches(dataset, options.steps, false,
                        [inputs, who](data::Element element) {
                          if (element.size() < inputs)
                            throw ValueError(who + ": a dataset element has " + std::to_string(element.size()) +
                                             " tensors; the model has " + std::to_string(inputs) + " inputs");
                          element.resize(inputs);
                          return Batch{std::move(element), {}, {}};
                        },
                        who);
  connect_local_replicas(batches);
  return run_predict(batches, options);
}

at::Tensor Model::predict(const ModelData& x, PredictOptions options) {
  Tensors outputs = predict_outputs(x, std::move(options));
  if (outputs.size() != 1)
    throw ValueError(describe() + ": predict() returns one output, but the model has " + std::to_string(outputs.size()) +
                     "; use predict_outputs()");
  return outputs.front();
}

at::Tensor Model::predict(const data::Dataset& dataset, PredictOptions options) {
  Tensors outputs = predict_outputs(dataset, std::move(options));
  if (outputs.size() != 1)
    throw ValueError(describe() + ": predict() returns one output, but the model has " + std::to_string(outputs.size()) +
                     "; use predict_outputs()");
  return outputs.front();
}

Batch Model::batch_from_element(data::Element element, const std::string& who) const {
  const size_t inputs = graph_ ? graph_->inputs().size() : 1;
  // A functional model knows its outputs; Sequential has one; a subclassed one is taken as single-output.
  const size_t outputs = graph_ ? graph_->outputs().size() : 1;
  const size_t n = element.size();
  if (n != inputs && n != inputs + outputs && n != inputs + 2 * outputs)
    throw ValueError(who + ": a dataset element has " + std::to_string(n) + " tensors; with " + std::to_string(inputs) +
                     " input(s) and " + std::to_string(outputs) + " output(s) expected " + std::to_string(inputs) +
                     " (x), " + std::to_string(inputs + outputs) + " (x, y) or " + std::to_string(inputs + 2 * outputs) +
                     " (x, y, sample_weight)");
  Batch batch;
  batch.x.assign(element.begin(), element.begin() + static_cast<std::ptrdiff_t>(inputs));
  if (n > inputs)
    batch.y.assign(element.begin() + static_cast<std::ptrdiff_t>(inputs),
                   element.begin() + static_cast<std::ptrdiff_t>(inputs + outputs));
  if (n > inputs + outputs)
    batch.sample_weight.assign(element.begin() + static_cast<std::ptrdiff_t>(inputs + outputs), element.end());
  for (size_t i = 0; i < batch.x.size(); ++i)
    if (batch.x[i].dim() == 0)
      throw ValueError(who + ": x[" + std::to_string(i) + "] of a dataset element is a scalar; fit, evaluate and "
                             "predict take batches: add .batch(batch_size) to the dataset");
  return batch;
}

EpochIterator Model::dataset_batches(const data::Dataset& dataset, std::optional<int64_t> steps,
                                     bool continue_across_epochs, const std::string& who) const {
  EpochIterator batches(dataset, steps, continue_across_epochs,
                        [this, who](data::Element element) { return batch_from_element(std::move(element), who); },
                        who);
  connect_local_replicas(batches);
  return batches;
}

void Model::connect_local_replicas(EpochIterator& batches) const {
  if (batch_feed_) batches.follow(batch_feed_);
  else if (local_replicas_ && local_replicas_->running()) batches.share_with(local_replicas_->feeds());
}

Logs Model::train_on_batch(const ModelData& x, const ModelData& y, const ModelData& sample_weight) {
  require_compiled("train_on_batch()");
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<Logs>([&] { return train_on_batch(x, y, sample_weight); },
                               [&](Model& copy) { copy.train_on_batch(x, y, sample_weight); });
  const std::string who = describe() + ": train_on_batch()";
  std::vector<Shape> y_pred_shapes;
  const Batch data = collect_data(who, x, y, sample_weight, &y_pred_shapes);
  check_data(who, data, y_pred_shapes);
  reset_metrics();
  const distribute::Strategy::Scope in_strategy(strategy_);
  const Batch share = strategy_.replica_batch(data);
  place_on_device(share);
  join_replicas();
  train_step(on_device(share));
  return metric_logs();
}

Logs Model::test_on_batch(const ModelData& x, const ModelData& y, const ModelData& sample_weight) {
  require_compiled("test_on_batch()");
  if (LocalReplicas* replicas = local_replicas_to_run())
    return replicas->run<Logs>([&] { return test_on_batch(x, y, sample_weight); },
                               [&](Model& copy) { copy.test_on_batch(x, y, sample_weight); });
  const std::string who = describe() + ": test_on_batch()";
  std::vector<Shape> y_pred_shapes;
  const Batch data = collect_data(who, x, y, sample_weight, &y_pred_shapes);
  check_data(who, data, y_pred_shapes);
  reset_metrics();
  at::NoGradGuard no_grad;
  const distribute::Strategy::Scope in_strategy(strategy_);
  const Batch share = strategy_.replica_batch(data);
  place_on_device(share);
  test_step(on_device(share));
  return metric_logs();
}

at::Tensor Model::predict_on_batch(const ModelData& x) {
  at::NoGradGuard no_grad;
  const Batch batch{x.resolve(input_names(), describe() + ": predict_on_batch()", "x"), {}, {}};
  place_on_device(batch);
  Tensors outputs = predict_step(on_device(batch).x);
  for (auto& output : outputs) output = output.to(at::kCPU);
  if (outputs.size() != 1)
    throw ValueError(describe() + ": predict_on_batch() returns one output, but the model has " +
                     std::to_string(outputs.size()) + "; use predict_step()");
  return outputs.front();
}

}  // namespace strata
