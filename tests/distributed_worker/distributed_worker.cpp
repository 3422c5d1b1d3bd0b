// The program the multi-process tests (tests/distribute/test_multiworker.cpp) start under strata-run, one
// process per replica. Each mode trains a small Fashion-MNIST CNN under MultiWorkerMirroredStrategy; the
// chief then trains the same model in one process on the same global batches and checks the two agree.
//   equal    [--dataset] [--samples N] [--batch B] [--epochs E]: weights and per-epoch logs equal the single
//            process run (SyncBatchNormalization included); exit 0 when they do, 1 otherwise.
//   mismatch: worker 1 builds a wider last layer; every worker must fail at start with a DistributedError.
//   unreduced: a custom train_step that applies its gradients without reducing them; fit must refuse it.
//   die      --die-rank R --die-step S: worker R kills itself (SIGKILL) after S steps of the second epoch; the
//            others must fail with a DistributedError rather than hang.
//   backup   --dir D [--die-rank R --die-step S]: fit with BackupAndRestore(D); a worker may be told to die as
//            in `die`; a rerun resumes, and the chief checks the final weights against an uninterrupted single
//            process.
// Errors are printed as "rank R: <class>: <message>" on stderr, with exit code 3 for a DistributedError.

#include <strata/strata.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <filesystem>
#include <string>

namespace {

using namespace strata;

struct Args {
  std::string mode;
  bool dataset = false;
  int64_t samples = 250;
  int64_t batch = 60;
  int epochs = 2;
  int die_rank = -1;
  int64_t die_step = -1;
  std::string dir;
};

Args parse(int argc, char** argv) {
  Args args;
  if (argc < 2) throw ValueError("usage: strata_distributed_worker equal|mismatch|die|backup [options]");
  args.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw ValueError(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--dataset") args.dataset = true;
    else if (flag == "--samples") args.samples = std::stoll(value());
    else if (flag == "--batch") args.batch = std::stoll(value());
    else if (flag == "--epochs") args.epochs = std::stoi(value());
    else if (flag == "--die-rank") args.die_rank = std::stoi(value());
    else if (flag == "--die-step") args.die_step = std::stoll(value());
    else if (flag == "--dir") args.dir = value();
    else throw ValueError("unknown option " + flag);
  }
  return args;
}

// Smooth activations: a ReLU whose input lies within rounding of zero switches on in one run and off in the
// other, a discrete jump that rounding alone would never cause; tanh keeps both runs' differences at rounding size.
Sequential build_model(int classes) {
  return Sequential({
      layers::Input({28, 28}),
      layers::Reshape({28, 28, 1}),
      layers::Conv2D(4, 3, {.strides = 2}),
      layers::BatchNormalization({.synchronized = true}),
      layers::Activation("tanh"),
      layers::Flatten(),
      layers::Dense(16, {.activation = "tanh", .kernel_regularizer = regularizers::L2(1e-3)}),
      layers::Dense(classes),
  });
}

// A custom train_step that forgets reduce_gradients: each replica would apply only its own gradients.
class UnreducedStep : public Sequential {
 public:
  using Sequential::Sequential;
  void train_step(const Batch& batch) override {
    const auto& variables = training_variables();
    for (const auto& variable : variables) variable.mutable_grad().reset();
    compute_loss(batch, apply(batch.x, {}, true)).backward();
    std::vector<at::Tensor> grads;
    for (const auto& variable : variables) grads.push_back(variable.grad());
    optimizer().apply(grads, variables);
  }
};

struct Run {
  std::vector<at::Tensor> weights;
  std::map<std::string, std::vector<double>> history;
  Logs evaluation;
  at::Tensor predictions;
};

// One training run; every process of the job runs it with `strategy`, the chief again with one replica.
Run train(const Args& args, const distribute::Strategy& strategy, const datasets::Data& data, int classes,
          std::vector<CallbackRef> callbacks = {}) {
  set_random_seed(7);
  Sequential model = build_model(classes);
  // SGD: an update proportional to the gradient keeps the two runs' rounding differences at rounding size
  // (Adam divides tiny gradients by their tiny root mean square, so rounding can flip whole steps).
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1, .momentum = 0.9}),
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .metrics = {"accuracy"},
                 .strategy = strategy});
  const at::Tensor x = data.x_train.narrow(0, 0, args.samples);
  const at::Tensor y = data.y_train.narrow(0, 0, args.samples);
  const at::Tensor x_val = data.x_test.narrow(0, 0, 100);
  const at::Tensor y_val = data.y_test.narrow(0, 0, 100);
  Run run;
  if (args.dataset) {
    const auto train_set = data::Dataset::from_tensor_slices({x, y}).shuffle(1000, {.seed = 3}).batch(args.batch);
    const auto val_set = data::Dataset::from_tensor_slices({x_val, y_val}).batch(args.batch);
    run.history = model.fit(train_set, {.epochs = args.epochs, .verbose = 0, .callbacks = callbacks,
                                        .validation_data = val_set}).history;
    run.evaluation = model.evaluate(val_set, {.verbose = 0});
    run.predictions = model.predict(val_set, {.verbose = 0});
  } else {
    run.history = model.fit(x, y, {.batch_size = args.batch, .epochs = args.epochs, .verbose = 0,
                                   .callbacks = callbacks, .validation_data = {x_val, y_val}}).history;
    run.evaluation = model.evaluate(x_val, y_val, {.batch_size = args.batch, .verbose = 0});
    run.predictions = model.predict(x_val, {.batch_size = args.batch, .verbose = 0});
  }
  run.weights = model.get_weights();
  return run;
}

// The chief's check: the distributed run against one process on the same global batches.
int compare(const Run& distributed, const Run& single) {
  double max_weight_difference = 0;
  for (size_t i = 0; i < single.weights.size(); ++i)
  {
    max_weight_difference = std::max(
        max_weight_difference, (distributed.weights[i] - single.weights[i]).abs().max().item<double>());
  }
  double max_log_difference = 0;
  for (const auto& [key, values] : single.history)
    for (size_t e = 0; e < values.size(); ++e)
      max_log_difference = std::max(max_log_difference, std::abs(distributed.history.at(key).at(e) - values[e]));
  for (const auto& [key, value] : single.evaluation)
    max_log_difference = std::max(max_log_difference, std::abs(distributed.evaluation.at(key) - value));
  // predict() splits each batch across the workers and gathers the shares: every worker has all predictions.
  const double max_prediction_difference =
      distributed.predictions.sizes() == single.predictions.sizes()
          ? (distributed.predictions - single.predictions).abs().max().item<double>()
          : std::numeric_limits<double>::infinity();
  std::printf("max weight difference %.3g, max log difference %.3g, max prediction difference %.3g\n",
              max_weight_difference, max_log_difference, max_prediction_difference);
  for (const auto& [key, values] : single.history)
    std::printf("%s: single %.6f distributed %.6f\n", key.c_str(), values.back(), distributed.history.at(key).back());
  const bool equal = max_weight_difference < 1e-4 && max_log_difference < 1e-4 && max_prediction_difference < 1e-4;
  std::printf("%s\n", equal ? "EQUAL" : "DIFFERENT");
  return equal ? 0 : 1;
}

// Kills this process (as a crash would) after `step` batches of the second epoch.
CallbackRef die_after(int64_t step) {
  auto epoch = std::make_shared<int>(0);
  return callbacks::LambdaCallback({
      .on_epoch_begin = [epoch](int e, const Logs&) { *epoch = e; },
      .on_train_batch_end =
          [epoch, step](int64_t batch, const Logs&) {
            if (*epoch == 1 && batch + 1 == step) std::raise(SIGKILL);
          },
  });
}

int run_mode(const Args& args) {
  distribute::MultiWorkerMirroredStrategy strategy;
  const int rank = strategy.replica_id();
  const datasets::Data data = datasets::fashion_mnist::load();
  if (args.mode == "equal") {
    const Run distributed = train(args, strategy, data, 10);
    if (!strategy.is_chief()) return 0;
    return compare(distributed, train(args, distribute::OneDeviceStrategy(), data, 10));
  }
  if (args.mode == "mismatch") {
    train(args, strategy, data, rank == 1 ? 12 : 10);
    return 0;  // not reached: prepare_model throws on every worker
  }
  if (args.mode == "unreduced") {
    UnreducedStep model({layers::Input({28, 28}), layers::Flatten(), layers::Dense(10)});
    model.compile({.optimizer = "sgd", .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                   .strategy = strategy});
    model.fit(data.x_train.narrow(0, 0, 64), data.y_train.narrow(0, 0, 64), {.batch_size = 32, .verbose = 0});
    return 0;  // not reached: fit refuses the step
  }
  if (args.mode == "die") {
    train(args, strategy, data, 10, rank == args.die_rank ? std::vector<CallbackRef>{die_after(args.die_step)}
                                                         : std::vector<CallbackRef>{});
    return 0;
  }
  if (args.mode == "backup") {
    std::vector<CallbackRef> callbacks = {callbacks::BackupAndRestore({.backup_dir = args.dir, .save_freq = 2})};
    // Dies only on the first attempt: the marker file tells a rerun apart.
    const std::string marker = args.dir + ".died";
    if (rank == args.die_rank && !std::filesystem::exists(marker)) {
      std::FILE* file = std::fopen(marker.c_str(), "w");
      if (file) std::fclose(file);
      callbacks.push_back(die_after(args.die_step));
    }
    const Run distributed = train(args, strategy, data, 10, callbacks);
    if (!strategy.is_chief()) return 0;
    Args single_args = args;
    Run single = train(single_args, distribute::OneDeviceStrategy(), data, 10);
    // The resumed run's History holds only the epochs it ran; compare the weights and the evaluation.
    single.history.clear();
    Run resumed = distributed;
    resumed.history.clear();
    return compare(resumed, single);
  }
  throw ValueError("unknown mode '" + args.mode + "'");
}

}  // namespace

int main(int argc, char** argv) {
  const char* rank = std::getenv("STRATA_RANK");
  const std::string who = std::string("rank ") + (rank ? rank : "?");
  try {
    return run_mode(parse(argc, argv));
  } catch (const DistributedError& error) {
    std::fprintf(stderr, "%s: DistributedError: %s\n", who.c_str(), error.what());
    return 3;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: error: %s\n", who.c_str(), error.what());
    return 1;
  }
}
