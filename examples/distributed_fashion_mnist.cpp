// Trains the Fashion-MNIST CNN data-parallel, one replica per process or per device, with the same Keras code as
// the single-process example: only the strategy and its scope are new.
//   strata-run --nproc-per-node 2 ./build/examples/distributed_fashion_mnist          (CPU processes, Gloo)
//   strata-run --nnodes 2 --node-rank R --master host0:29500 --nproc-per-node 1 ...   (two hosts)
//   ./build/examples/distributed_fashion_mnist --mirrored       (one process, every visible GPU, NCCL)
//   ./build/examples/distributed_fashion_mnist --cpu-replicas 2 (one process, two logical CPU devices)
// Under the strategy, --batch-size is the global batch: each of the N workers computes 1/N of every batch and the
// gradients are summed across workers while backward runs. With --sync-bn, BatchNormalization normalizes with the
// global batch's statistics (synchronized); it costs two all-reduces per layer and step, worth it when the batch
// per replica is small. Only the chief prints the progress bar and saves the model. BackupAndRestore
// backs the job up every epoch into --backup-dir: when a worker dies, strata-run stops the job, and running the
// same command again resumes from the last backup.
// Options: --epochs N, --batch-size N (global), --threads N (per process, default 1), --data DIR, --smoke,
// --backup-dir DIR, --sync-bn, --mirrored (MirroredStrategy over every visible GPU, or the CPU without one),
// --cpu-replicas N (MirroredStrategy over N logical CPU devices).

#include "example_cli.h"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

int main(int argc, char** argv) {
  using namespace strata;
  // --backup-dir, --sync-bn, --mirrored and --cpu-replicas are this example's own options; the rest are the
  // shared example options.
  std::string backup_dir = "distributed_fashion_mnist_backup";
  bool sync_bn = false;
  bool mirrored = false;
  std::optional<int> cpu_replicas;
  bool threads_given = false;
  std::vector<char*> shared_args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--backup-dir") == 0 && i + 1 < argc) {
      backup_dir = argv[++i];
      continue;
    }
    if (std::strcmp(argv[i], "--sync-bn") == 0) {
      sync_bn = true;
      continue;
    }
    if (std::strcmp(argv[i], "--mirrored") == 0) {
      mirrored = true;
      continue;
    }
    if (std::strcmp(argv[i], "--cpu-replicas") == 0 && i + 1 < argc) {
      cpu_replicas = std::atoi(argv[++i]);
      mirrored = true;
      continue;
    }
    threads_given = threads_given || std::strcmp(argv[i], "--threads") == 0;
    shared_args.push_back(argv[i]);
  }
  return examples::run([&] {
    examples::Args args = examples::parse_args(static_cast<int>(shared_args.size()), shared_args.data(), 6);
    if (!threads_given) args.threads = 1;  // one replica per core: strata-run --bind-cores pins each process

    if (cpu_replicas && *cpu_replicas < 1) throw ValueError("--cpu-replicas must be >= 1");
    // MultiWorkerMirroredStrategy joins the job strata-run started (its rank, world size and rendezvous store are
    // in the environment); run without strata-run it is a single worker. MirroredStrategy makes one replica per
    // device in this process.
    const distribute::Strategy strategy =
        !mirrored      ? distribute::Strategy(distribute::MultiWorkerMirroredStrategy())
        : cpu_replicas ? distribute::Strategy(distribute::MirroredStrategy(
                             std::vector<at::Device>(static_cast<size_t>(*cpu_replicas), at::Device(at::kCPU))))
                       : distribute::Strategy(distribute::MirroredStrategy());
    const auto data = examples::load_data(args, {.train = 2000, .test = 1000});
    if (strategy.is_chief())
      std::printf("%s: %d replicas in sync; global batch %lld (%lld per replica)\n", strategy.class_name().c_str(),
                  strategy.num_replicas_in_sync(),
                  static_cast<long long>(args.batch_size),
                  static_cast<long long>(args.batch_size / strategy.num_replicas_in_sync()));

    // Keras' `with strategy.scope():` — the model compiled here trains under the strategy.
    auto scope = strategy.scope();
    Sequential model({
        layers::Input({28, 28}),
        layers::Reshape({28, 28, 1}),
        layers::Conv2D(32, 3, {.padding = "same"}),
        layers::BatchNormalization({.synchronized = sync_bn}),
        layers::Activation("relu"),
        layers::MaxPooling2D(),
        layers::Conv2D(64, 3, {.padding = "same"}),
        layers::BatchNormalization({.synchronized = sync_bn}),
        layers::Activation("relu"),
        layers::MaxPooling2D(),
        layers::Flatten(),
        layers::Dropout(0.3),
        layers::Dense(128, {.activation = "relu"}),
        layers::Dropout(0.3),
        layers::Dense(10),
    });
    if (strategy.is_chief()) model.summary();
    model.compile({
        .optimizer = optimizers::Adam({.learning_rate = 1e-3}),
        .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
        .metrics = {"accuracy"},
    });
    model.fit(data.x_train, data.y_train,
              {.batch_size = args.batch_size,
               .epochs = args.epochs,
               .callbacks = {callbacks::BackupAndRestore({.backup_dir = backup_dir})},
               .validation_data = {data.x_test, data.y_test}});

    // Every worker evaluates its share; the metrics are summed across workers, so all see the same result.
    const Logs test = model.evaluate(data.x_test, data.y_test, {.batch_size = 512, .verbose = 0});
    if (strategy.is_chief()) {
      std::printf("Test loss: %.4f\nTest accuracy: %.4f\n", test.at("loss"), test.at("accuracy"));
      model.save("distributed_fashion_mnist.keras");
      std::printf("Saved distributed_fashion_mnist.keras\n");
    }
  });
}
