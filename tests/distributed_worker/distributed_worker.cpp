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

#include "../support/replica_run.h"

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

// One training run; every process of the job runs it with `strategy`, the chief again with one replica.
testing::ReplicaRun train(const Args& args, const distribute::Strategy& strategy, const datasets::Data& data,
                          int classes, std::vector<CallbackRef> callbacks = {}) {
  return testing::train_replica_run(strategy, data,
                                    {.samples = args.samples, .batch = args.batch, .epochs = args.epochs,
                                     .dataset = args.dataset, .classes = classes, .callbacks = std::move(callbacks)});
}

// The chief's check: the distributed run against one process on the same global batches.
int compare(const testing::ReplicaRun& distributed, const testing::ReplicaRun& single) {
  const testing::ReplicaDifferences differences = testing::replica_differences(distributed, single);
  std::printf("max weight difference %.3g, max log difference %.3g, max prediction difference %.3g\n",
              differences.weights, differences.logs, differences.predictions);
  for (const auto& [key, values] : single.history)
    std::printf("%s: single %.6f distributed %.6f\n", key.c_str(), values.back(), distributed.history.at(key).back());
  const bool equal = differences.weights < 1e-4 && differences.logs < 1e-4 && differences.predictions < 1e-4;
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
    const testing::ReplicaRun distributed = train(args, strategy, data, 10);
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
    const testing::ReplicaRun distributed = train(args, strategy, data, 10, callbacks);
    if (!strategy.is_chief()) return 0;
    Args single_args = args;
    testing::ReplicaRun single = train(single_args, distribute::OneDeviceStrategy(), data, 10);
    // The resumed run's History holds only the epochs it ran; compare the weights and the evaluation.
    single.history.clear();
    testing::ReplicaRun resumed = distributed;
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
