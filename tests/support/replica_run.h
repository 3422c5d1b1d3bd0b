#pragma once
// The run the replica-equality tests repeat under a strategy with several replicas and under one replica: a small
// Fashion-MNIST CNN trained, evaluated and predicting on the same global batches. Shared by the MirroredStrategy
// tests (tests/distribute/test_mirrored.cpp) and the multi-process worker (tests/distributed_worker/).

#include <strata/strata.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace strata::testing {

// Smooth activations: a ReLU whose input lies within rounding of zero switches on in one run and off in the
// other, a discrete jump that rounding alone would never cause; tanh keeps both runs' differences at rounding
// size. Synchronized BatchNormalization, so several replicas normalize as one does.
inline Sequential replica_check_model(int classes = 10) {
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

struct ReplicaRunOptions {
  int64_t samples = 256;
  int64_t batch = 64;
  int epochs = 2;
  bool dataset = false;  // a shuffled Dataset instead of tensors
  int classes = 10;      // the last layer's width (a different one makes a mismatched model)
  std::vector<CallbackRef> callbacks = {};
};

struct ReplicaRun {
  std::vector<at::Tensor> weights;
  std::map<std::string, std::vector<double>> history;
  Logs evaluation;
  at::Tensor predictions;
};

inline ReplicaRun train_replica_run(const distribute::Strategy& strategy, const datasets::Data& data,
                                    const ReplicaRunOptions& options) {
  set_random_seed(7);
  Sequential model = replica_check_model(options.classes);
  // SGD: an update proportional to the gradient keeps the two runs' rounding differences at rounding size
  // (Adam divides tiny gradients by their tiny root mean square, so rounding can flip whole steps).
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1, .momentum = 0.9}),
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .metrics = {"accuracy"},
                 .strategy = strategy});
  const at::Tensor x = data.x_train.narrow(0, 0, options.samples);
  const at::Tensor y = data.y_train.narrow(0, 0, options.samples);
  const at::Tensor x_val = data.x_test.narrow(0, 0, 100);
  const at::Tensor y_val = data.y_test.narrow(0, 0, 100);
  ReplicaRun run;
  if (options.dataset) {
    const auto train_set = data::Dataset::from_tensor_slices({x, y}).shuffle(1000, {.seed = 3}).batch(options.batch);
    const auto val_set = data::Dataset::from_tensor_slices({x_val, y_val}).batch(options.batch);
    run.history = model.fit(train_set, {.epochs = options.epochs, .verbose = 0, .callbacks = options.callbacks,
                                        .validation_data = val_set}).history;
    run.evaluation = model.evaluate(val_set, {.verbose = 0});
    run.predictions = model.predict(val_set, {.verbose = 0});
  } else {
    run.history = model.fit(x, y, {.batch_size = options.batch, .epochs = options.epochs, .verbose = 0,
                                   .callbacks = options.callbacks, .validation_data = {x_val, y_val}}).history;
    run.evaluation = model.evaluate(x_val, y_val, {.batch_size = options.batch, .verbose = 0});
    run.predictions = model.predict(x_val, {.batch_size = options.batch, .verbose = 0});
  }
  run.weights = model.get_weights();
  return run;
}

// The largest differences between a run with several replicas and one with a single replica; infinity where the
// runs do not even have the same weights, logs or prediction shapes.
struct ReplicaDifferences {
  double weights = 0;
  double logs = 0;         // every epoch's logs and evaluate()'s
  double predictions = 0;  // predict(), split across the replicas and gathered
};

inline ReplicaDifferences replica_differences(const ReplicaRun& replicated, const ReplicaRun& single) {
  constexpr double kMissing = std::numeric_limits<double>::infinity();
  ReplicaDifferences out;
  if (replicated.weights.size() != single.weights.size()) out.weights = kMissing;
  for (size_t i = 0; i < std::min(replicated.weights.size(), single.weights.size()); ++i)
    out.weights = std::max(out.weights, (replicated.weights[i] - single.weights[i]).abs().max().item<double>());
  for (const auto& [key, values] : single.history) {
    const auto found = replicated.history.find(key);
    if (found == replicated.history.end() || found->second.size() != values.size()) {
      out.logs = kMissing;
      continue;
    }
    for (size_t e = 0; e < values.size(); ++e) out.logs = std::max(out.logs, std::abs(found->second[e] - values[e]));
  }
  for (const auto& [key, value] : single.evaluation) {
    const std::optional<double> found = replicated.evaluation.get(key);
    out.logs = std::max(out.logs, found ? std::abs(*found - value) : kMissing);
  }
  out.predictions = replicated.predictions.sizes() == single.predictions.sizes()
                        ? (replicated.predictions - single.predictions).abs().max().item<double>()
                        : kMissing;
  return out;
}

}  // namespace strata::testing
