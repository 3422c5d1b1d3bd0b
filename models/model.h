#pragma once
// Model: a Layer that trains. Three ways to build one, as in Keras:
//   - Sequential (models/sequential.h), a stack of layers;
//   - the functional API: `Model(inputs, outputs)` over symbolic tensors from Input() (a graph of layer calls);
//   - a subclass that tracks its layers and overrides call() (or call_many() for several inputs/outputs),
//     and optionally train_step()/test_step() to change what fit() and evaluate() do per batch.
// compile/fit/evaluate/predict follow Keras' names, defaults and loop order.

#include <strata/callbacks/callback.h>
#include <strata/callbacks/history.h>
#include <strata/core/logs.h>
#include <strata/data/dataset.h>
#include <strata/distribute/strategy.h>
#include <strata/layers/layer.h>
#include <strata/losses/loss.h>
#include <strata/metrics/mean.h>
#include <strata/metrics/metric.h>
#include <strata/models/model_data.h>
#include <strata/models/per_output.h>
#include <strata/optimizers/optimizer.h>

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata {

class FunctionalGraph;
class EpochIterator;
class CompiledLoss;
class CompiledMetrics;
class LocalReplicas;
class BatchFeed;

struct CompileOptions {
  optimizers::Spec optimizer = "rmsprop";
  // One loss for every output, a list by output position, or a map by output name. Leave it out only
  // for a model whose train_step computes its own loss.
  PerOutput<losses::Spec> loss;
  // Metrics for every output ({"accuracy"}), per output name ({{"class_out", {"accuracy"}}}), or per output
  // position as a std::vector<std::vector<metrics::Spec>>; they ignore sample weights, as in Keras.
  PerOutput<std::vector<metrics::Spec>> metrics;
  // Each output's loss is multiplied by its weight before they are summed (default 1).
  PerOutput<double> loss_weights;
  // Like `metrics`, but weighted by sample_weight / class_weight.
  PerOutput<std::vector<metrics::Spec>> weighted_metrics;
  // The distribution strategy fit() and evaluate() run under (distribute/strategy.h). Default: the one whose
  // scope() is open when compile() runs, as Keras compiles under `with strategy.scope():`; else one replica.
  std::optional<distribute::Strategy> strategy = std::nullopt;
};

// fit()'s validation_data: tensors ({x_val, y_val} or {x_val, y_val, sample_weight}) or a Dataset of batches.
struct ValidationData {
  ValidationData() = default;
  ValidationData(ModelData x, ModelData y = {}, ModelData sample_weight = {})  // NOLINT: implicit, as Keras' tuple
      : x(std::move(x)), y(std::move(y)), sample_weight(std::move(sample_weight)) {}
  ValidationData(data::Dataset dataset) : dataset(std::move(dataset)) {}  // NOLINT: implicit

  bool empty() const { return x.empty() && !dataset; }

  ModelData x;
  ModelData y;
  ModelData sample_weight;
  std::optional<data::Dataset> dataset;
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
  // Class id -> weight of that class's samples in the training loss (classes left out weigh 1);
  // single-output models only.
  std::map<int64_t, double> class_weight;
  // Per-sample weights of the training loss: a (samples,) tensor, or one per output.
  ModelData sample_weight;
  // Epochs [initial_epoch, epochs) run. With shuffle, epoch e's order is a permutation drawn from a generator
  // seeded with (s, e), where s is one number fit() draws from the global generator when it starts: after
  // set_random_seed(k), fit({.epochs = 4}) and fit({.epochs = 2}) then (set_random_seed(k) again)
  // fit({.epochs = 4, .initial_epoch = 2}) shuffle epochs 2 and 3 the same way, so a resumed run sees the
  // same batches.
  int initial_epoch = 0;
  // A dataset's batches per epoch. Without it an epoch is one whole pass (required for an infinite dataset);
  // with it, each epoch goes on where the previous one stopped, and training ends early if the data runs out.
  std::optional<int64_t> steps_per_epoch = std::nullopt;
  // Batches of a validation dataset per evaluation (default: a whole pass).
  std::optional<int64_t> validation_steps = std::nullopt;
};

struct EvaluateOptions {
  int64_t batch_size = 32;
  int verbose = 1;
  ModelData sample_weight;
  std::optional<int64_t> steps = std::nullopt;  // a dataset's batches to evaluate (default: a whole pass)
  std::vector<CallbackRef> callbacks;
};

struct PredictOptions {
  int64_t batch_size = 32;
  int verbose = 1;
  std::optional<int64_t> steps = std::nullopt;  // a dataset's batches to predict (default: a whole pass)
  std::vector<CallbackRef> callbacks;
};

// Keras' load_weights(filepath, skip_mismatch=, by_name=).
struct LoadWeightsOptions {
  bool by_name = false;        // legacy .h5 files: match layer groups by layer name instead of by order
  bool skip_mismatch = false;  // skip (and report) layers whose weight count or shapes differ
};

struct SaveOptions {
  bool include_optimizer = true;  // also store the compile configuration and the optimizer's state
};

class Model : public Layer {
 public:
  // For subclasses: `class_name` names one in summaries and configs; the default name is its snake_case form.
  explicit Model(std::string class_name = "Model", std::string name = "");
  // The functional API: a graph from Input() tensors to outputs computed from them. The graph is checked
  // here: every output must be computed from the given inputs only, and every input must reach an output.
  Model(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs, std::string name = "");
  Model(const SymbolicTensor& input, const SymbolicTensor& output, std::string name = "");
  ~Model() override;
  Model(Model&&) noexcept;

  void compile(CompileOptions options);

  // Trains for epochs [initial_epoch, epochs) and returns per-epoch logs. `y` may be left out for a model
  // whose train_step needs no targets.
  callbacks::History fit(const ModelData& x, const ModelData& y = {}, FitOptions options = {});
  // Loss and metrics over the data, in metrics_names() order.
  Logs evaluate(const ModelData& x, const ModelData& y = {}, EvaluateOptions options = {});
  // Outputs for x in inference mode, batch by batch, without an autograd graph. predict() is for a model with
  // one output; predict_outputs() returns every output.
  at::Tensor predict(const ModelData& x, PredictOptions options = {});
  Tensors predict_outputs(const ModelData& x, PredictOptions options = {});

  // The same on a Dataset whose elements are batches: (x, y) or (x, y, sample_weight), where x is one tensor per
  // model input and y (and sample_weight) one per output, all flat in that order; predict() reads just the x
  // part (more components are ignored). batch_size, shuffle, validation_split and sample_weight belong to the
  // dataset and are not taken; class_weight applies to each batch.
  callbacks::History fit(const data::Dataset& dataset, FitOptions options = {});
  Logs evaluate(const data::Dataset& dataset, EvaluateOptions options = {});
  at::Tensor predict(const data::Dataset& dataset, PredictOptions options = {});
  Tensors predict_outputs(const data::Dataset& dataset, PredictOptions options = {});

  // One step on one batch; the metrics are reset first, so the logs describe this batch alone.
  Logs train_on_batch(const ModelData& x, const ModelData& y = {}, const ModelData& sample_weight = {});
  Logs test_on_batch(const ModelData& x, const ModelData& y = {}, const ModelData& sample_weight = {});
  at::Tensor predict_on_batch(const ModelData& x);

  // What fit() runs on each batch: forward, compute_loss, backward, optimizer, constraints, compute_metrics.
  // Override it for custom training (a GAN, an extra loss term); the loop then reads the logs from
  // metrics(), so a custom step updates its own trackers (see track_metric) or the compiled ones.
  virtual void train_step(const Batch& batch);
  // What evaluate() (and fit's validation) runs on each batch: forward, compute_loss, compute_metrics.
  virtual void test_step(const Batch& batch);
  virtual Tensors predict_step(const Tensors& x);

  // The compiled loss of a batch: each output's loss (with sample weights and the output's mask), times its
  // loss weight, summed, plus losses() (regularizers and add_loss()). Updates the loss trackers.
  at::Tensor compute_loss(const Batch& batch, const Tensors& y_pred, const Tensors& masks = {});
  // Updates the compiled metrics, and the means of add_metric() values from the last call.
  void compute_metrics(const Batch& batch, const Tensors& y_pred, const Tensors& masks = {});

  // Names that data maps and per-output options use: a functional model's Input names and output layer
  // names; otherwise "input_1", ... and "output_1", ... (Sequential: its last layer's name).
  virtual std::vector<std::string> input_names() const;
  virtual std::vector<std::string> output_names() const;

  // The layers in order (a functional model's include its InputLayers, as in Keras).
  const std::vector<std::shared_ptr<Layer>>& layers() const { return sublayers(); }
  // Throws ValueError naming the model and the known layers when there is none by that name.
  std::shared_ptr<Layer> get_layer(const std::string& name) const;
  std::shared_ptr<Layer> get_layer(size_t index) const;
  // The functional graph; null for Sequential and subclassed models.
  const std::shared_ptr<const FunctionalGraph>& graph() const { return graph_; }

  // A subclass overrides call() (one input and output) or call_many(); a functional model runs its graph.
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  Tensors compute_mask(const Tensors& inputs, const Tensors& masks) const override;
  // Own variables at "", then model.layers() under "layers/<snake_case class name, made unique>", as Keras 3.
  std::vector<WeightGroup> keras3_weight_groups() const override;

  // Keras' table: Layer (type), Output Shape, Param # (and Connected to, for a functional model), then the
  // parameter totals.
  void summary(std::ostream& out = std::cout) const;

  bool compiled() const { return compiled_; }
  // Keras' model.distribute_strategy: the strategy compile() chose.
  const distribute::Strategy& distribute_strategy() const { return strategy_; }
  optimizers::Optimizer& optimizer() const;
  // What compile() was given (the optimizer as given, before any LossScaleOptimizer wrapping), for saving
  // the compile configuration (savedmodel/compile_config.h).
  const CompileOptions& compile_options() const;
  // The keys of the logs: "loss", then each output's loss ("class_out_loss") when there are several, then
  // the metrics ("accuracy", or "class_out_accuracy" per output), then tracked and add_metric() metrics.
  std::vector<std::string> metrics_names() const;
  // Every metric the loops reset at each epoch and report, in metrics_names() order.
  std::vector<std::shared_ptr<metrics::Metric>> metrics() const;
  Logs metric_logs() const;
  void reset_metrics();
  const callbacks::History& history() const { return history_; }

  // Saving (savedmodel/), in Keras' formats; the file name picks the format, as in Keras:
  //   save_weights: "x.weights.h5" is Keras 3's layout, any other "*.h5" the legacy tf.keras layout;
  //   save: "m.keras" is Keras 3's zip archive, "m.h5" the legacy whole-model HDF5 file.
  // Files are written to a temporary name in the same directory and renamed when complete, so a crash
  // leaves the previous file intact.
  void save_weights(const std::string& filepath) const;
  // Reads either weights layout (or the weights of a whole-model file). Every weight is checked before any is
  // copied, so a failed load leaves the model as it was; errors name the file, the layer and the weight.
  void load_weights(const std::string& filepath, LoadWeightsOptions options = {});
  void save(const std::string& filepath, SaveOptions options = {}) const;
  // Keras' get_config: a functional model's layers with their inbound nodes (savedmodel/model_config.h);
  // a subclass overrides it, with a static from_config, to save and load (layers::register_class).
  nlohmann::json get_config() const override;
  // Keras' model.to_json(): the serialized model config (savedmodel/saving.h reads it back).
  std::string to_json() const;

  // Set by a callback to end fit() after the current batch.
  bool stop_training = false;

  // Where fit() starts training. fit() sets it to {initial_epoch, 0} just before on_train_begin; a callback may
  // move it there to resume an interrupted run (BackupAndRestore): fit() then runs epochs [epoch, epochs) and
  // skips the first `step` batches of `epoch`, which were trained before the restart. The skipped batches are
  // exactly those of that epoch's shuffled order (see FitOptions::initial_epoch), so the rest matches too.
  struct FitStart {
    int epoch = 0;
    int64_t step = 0;
  };
  FitStart fit_start;

 protected:
  // Registers a metric that a custom train_step/test_step updates, so the loops reset and report it:
  // `loss_tracker_ = track_metric(metrics::Mean("loss"))`.
  template <class M>
    requires std::derived_from<std::decay_t<M>, metrics::Metric>
  std::shared_ptr<std::decay_t<M>> track_metric(M&& metric) {
    auto held = std::make_shared<std::decay_t<M>>(std::forward<M>(metric));
    tracked_metrics_.push_back(held);
    return held;
  }
  // The trainable weights fit() updates, collected once per compile().
  const std::vector<at::Tensor>& training_variables();

 private:
  void build_many(const std::vector<Shape>& input_shapes) override;
  void require_compiled(const char* method) const;
  // x, y and sample_weight as one Batch over the whole data, in the model's input and output order, with
  // their sample counts checked. A one-sample probe builds the model and gives the outputs' shapes.
  Batch collect_data(const std::string& who, const ModelData& x, const ModelData& y, const ModelData& sample_weight,
                     std::vector<Shape>* y_pred_shapes);
  // Checks the data is finite and the targets fit the compiled losses; resolves the compiled losses and metrics.
  void check_data(const std::string& who, const Batch& data, const std::vector<Shape>& y_pred_shapes);
  // Folds fit()'s class_weight into the single output's sample weights.
  void add_class_weights(const std::string& who, Batch& data, const std::map<int64_t, double>& class_weight);
  // For a custom loop that calls compute_loss/compute_metrics without fit(): resolves on first use.
  void resolve_compiled(const Batch& batch, const Tensors& y_pred);
  std::vector<std::pair<std::string, std::shared_ptr<metrics::Metric>>> named_metrics() const;
  // The loops, shared by the tensor and dataset entry points.
  callbacks::History run_fit(const std::string& who, EpochIterator& train, EpochIterator* validation,
                             const FitOptions& options);
  // `join`: evaluate() joins the replicas before its first step (fit() already has).
  Logs run_test_loop(EpochIterator& batches, CallbackList& callbacks, bool join = false);
  // Before a loop's first step under a strategy with several replicas or a GPU: builds the model on `batch` (on
  // the CPU) if it is not built yet, then moves the weights and the optimizer's slots to the strategy's device.
  void place_on_device(const Batch& batch);
  // `batch` on the strategy's device.
  Batch on_device(const Batch& batch) const;
  // Before a distributed loop's first step: checks that every replica has the same weights and gives them the
  // chief's (Strategy::prepare_model).
  void join_replicas();
  // Averages the non-trainable weights (BatchNormalization's moving statistics) over the replicas, as
  // tf.distribute reads them.
  void average_non_trainable_weights();
  // Under a strategy with several replicas: every replica takes the chief's stop_training and learning rate, so
  // a callback that runs only on the chief (as on a MirroredStrategy's copies) still steers them all.
  void follow_chief_callbacks();
  // MirroredStrategy: the copies of this model for the strategy's further devices (made on first use), unless
  // its strategy has one replica in this process or they are already running this call.
  LocalReplicas* local_replicas_to_run();
  Logs run_evaluate(EpochIterator& batches, const EvaluateOptions& options);
  Tensors run_predict(EpochIterator& batches, const PredictOptions& options);
  // A dataset element as a Batch: the first tensors are the inputs, then one target per output, then sample weights.
  Batch batch_from_element(data::Element element, const std::string& who) const;
  EpochIterator dataset_batches(const data::Dataset& dataset, std::optional<int64_t> steps, bool continue_across_epochs,
                                const std::string& who) const;
  // MirroredStrategy: the model's dataset iterators feed its copies', and a copy's read that feed.
  void connect_local_replicas(EpochIterator& batches) const;

  std::shared_ptr<const FunctionalGraph> graph_;
  Tensors graph_output_masks_;  // the masks of the graph's outputs in the latest call
  size_t output_count_ = 1;     // known after the first call on data
  bool compiled_ = false;
  CompileOptions compile_options_;
  std::shared_ptr<optimizers::Optimizer> optimizer_;
  std::unique_ptr<CompiledLoss> compiled_loss_;
  std::unique_ptr<CompiledMetrics> compiled_metrics_;
  bool loss_computed_ = false;  // compute_loss() ran since compile(): "loss" is reported even without a compiled loss
  std::vector<std::shared_ptr<metrics::Metric>> tracked_metrics_;
  std::vector<std::shared_ptr<metrics::Mean>> added_metrics_;  // one per add_metric() name
  std::vector<at::Tensor> training_variables_;
  distribute::Strategy strategy_;
  std::shared_ptr<LocalReplicas> local_replicas_;
  // A MirroredStrategy copy's dataset batches, as the model reads them (models/batch_feed.h).
  std::shared_ptr<BatchFeed> batch_feed_;
  friend class LocalReplicas;
  callbacks::History history_;
};

}  // namespace strata
