// Data-parallel training throughput on CPU processes: how Strata's MultiWorkerMirroredStrategy scales from one
// process to two, what overlapping the gradient all-reduce with backward buys, and PyTorch's
// DistributedDataParallel on the same work.
//
// The CNN of bench/fashion_mnist_cnn.h, compiled under the strategy's scope, trains with fit() under
// `strata-run --nproc-per-node N --bind-cores` (each process pinned to its own core, one ATen thread), weak scaling:
// 64 samples per replica per step, so the global batch is 64 x N. After --warmup untimed steps the chief times
// --steps steps (from the end of the last warm-up step to the end of the last timed one, by a callback) and writes
// samples per second to a file this driver reads. Each measurement runs --repeats times, the configurations
// interleaved round by round, and the medians are reported:
//   Strata, 1 process and 2 processes (gradient buckets of CommunicationOptions.bytes_per_pack = 1 MiB, whose
//   all-reduces start during backward);
//   Strata, 2 processes with one bucket holding every gradient (its all-reduce starts when backward has finished);
//   Strata, MirroredStrategy over 2 logical CPU devices: one process (not pinned), a copy of the model per replica
//   on its own thread, one ATen thread each;
//   PyTorch DDP (bench/distributed_baseline.py run by --python: gloo on loopback, default bucket_cap_mb 25,
//   torch.multiprocessing processes pinned to one core each, one thread), 1 and 2 processes.
// Scaling efficiency = samples/s(2 processes) / (2 x samples/s(1 process)).
//
// Prints a table on stdout and then one JSON line with every figure; progress goes to stderr.
// Options: --steps N (40), --warmup N (5), --repeats N (3), --data DIR, --python PATH (/usr/bin/python3),
//          --no-python, --smoke (4 timed steps, 1 warm-up, 1 repeat, no PyTorch).
// Internal: --worker --result FILE [--bytes-per-pack B] [--mirrored-replicas N] is what each process strata-run
// starts (or the driver, for MirroredStrategy) runs.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <spawn.h>
#include <strata/strata.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_options.h"
#include "fashion_mnist_cnn.h"
#include "torch_baseline.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#ifndef STRATA_RUN_EXE
#error "STRATA_RUN_EXE (the path of strata-run) must be defined by the build"
#endif

extern char** environ;

namespace {

using strata::bench::median;
using strata::bench::round4;

constexpr int64_t kPerReplicaBatch = 64;
constexpr int64_t kOneMiB = 1 << 20;
// Larger than all the CNN's gradients together (~1.7 MB), so they form one bucket.
constexpr int64_t kOneBucket = int64_t{1} << 40;

struct Args {
  bool worker = false;
  std::string result;
  int64_t bytes_per_pack = kOneMiB;
  int mirrored_replicas = 0;  // > 0: one process under MirroredStrategy over that many logical CPU devices
  int steps = 40;
  int warmup = 5;
  int repeats = 3;
  bool smoke = false;
  std::string data = strata::datasets::fashion_mnist::kDefaultPath;
  std::string python = "/usr/bin/python3";
  bool run_python = true;
};

Args parse_args(int argc, char** argv) {
  Args args;
  const auto take = [&](const std::string& arg, const strata::bench::OptionValue& value) {
    if (arg == "--worker") args.worker = true;
    else if (arg == "--result") args.result = value();
    else if (arg == "--bytes-per-pack") args.bytes_per_pack = std::stoll(value());
    else if (arg == "--mirrored-replicas") args.mirrored_replicas = std::stoi(value());
    else if (arg == "--steps") args.steps = std::stoi(value());
    else if (arg == "--warmup") args.warmup = std::stoi(value());
    else if (arg == "--repeats") args.repeats = std::stoi(value());
    else if (arg == "--smoke") args.smoke = true;
    else if (arg == "--data") args.data = value();
    else if (arg == "--python") args.python = value();
    else if (arg == "--no-python") args.run_python = false;
    else return false;
    return true;
  };
  strata::bench::parse_options(argc, argv,
                               "--worker, --result, --bytes-per-pack, --mirrored-replicas, --steps, --warmup, "
                               "--repeats, --smoke, --data, --python, --no-python",
                               take);
  if (args.smoke) {
    args.steps = 4;
    args.warmup = 1;
    args.repeats = 1;
    args.run_python = false;
  }
  if (args.steps < 1 || args.warmup < 1 || args.repeats < 1)
    throw strata::ValueError("--steps, --warmup and --repeats must be >= 1");
  return args;
}

// ---- Worker: one replica of the job strata-run started. ----

// Remembers when the last warm-up step and the last timed step ended. Every replica waits for the others'
// gradients inside each step, so the chief's step ends are the job's.
class StepClock : public strata::Callback {
 public:
  StepClock(int64_t warmup, int64_t last) : warmup_(warmup), last_(last) {}
  void on_train_batch_end(int64_t batch, const strata::Logs&) override {
    if (batch == warmup_ - 1) start_ = std::chrono::steady_clock::now();
    if (batch == last_) end_ = std::chrono::steady_clock::now();
  }
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }

 private:
  int64_t warmup_, last_;
  std::chrono::steady_clock::time_point start_, end_;
};

int run_worker(const Args& args) {
  using namespace strata;
  at::set_num_threads(1);
  const distribute::CommunicationOptions options{.bytes_per_pack = args.bytes_per_pack};
  const distribute::Strategy strategy =
      args.mirrored_replicas > 0
          ? distribute::Strategy(distribute::MirroredStrategy(
                std::vector<at::Device>(static_cast<size_t>(args.mirrored_replicas), at::Device(at::kCPU)), options))
          : distribute::Strategy(distribute::MultiWorkerMirroredStrategy(options));
  const int replicas = strategy.num_replicas_in_sync();
  const int64_t global_batch = kPerReplicaBatch * replicas;
  const int64_t steps = args.warmup + args.steps;
  const int64_t samples = steps * global_batch;
  const at::Tensor images = data::read_idx(args.data + "/train-images-idx3-ubyte.gz");
  if (images.size(0) < samples)
    throw ValueError("distributed_bench: " + std::to_string(steps) + " steps of " + std::to_string(global_batch) +
                     " samples need " + std::to_string(samples) + " images; the training set has " +
                     std::to_string(images.size(0)));
  const at::Tensor x = (images.narrow(0, 0, samples).to(at::kFloat) / 255.0).contiguous();
  const at::Tensor y =
      data::read_idx(args.data + "/train-labels-idx1-ubyte.gz").narrow(0, 0, samples).to(at::kLong).contiguous();

  set_random_seed(42);
  auto scope = strategy.scope();
  Sequential model = bench::build_fashion_mnist_cnn();
  auto clock = std::make_shared<StepClock>(args.warmup, steps - 1);
  model.fit(x, y, {.batch_size = global_batch, .epochs = 1, .verbose = 0, .callbacks = {clock}});
  if (strategy.is_chief()) {
    const double seconds = clock->seconds();
    std::ofstream out(args.result);
    out << nlohmann::json{{"processes", replicas},
                          {"global_batch", global_batch},
                          {"bytes_per_pack", args.bytes_per_pack},
                          {"steps", args.steps},
                          {"samples_per_s", static_cast<double>(args.steps * global_batch) / seconds},
                          {"ms_per_step", seconds * 1e3 / args.steps}}
               .dump()
        << '\n';
    if (!out.flush()) throw IOError("distributed_bench: cannot write " + args.result);
  }
  return 0;
}

// ---- Driver. ----

// Runs `argv` with its stdout sent to our stderr (stdout carries only the results) and waits for it.
int spawn_and_wait(const std::vector<std::string>& argv) {
  std::vector<char*> pointers;
  for (const auto& word : argv) pointers.push_back(const_cast<char*>(word.c_str()));
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw strata::Error("distributed_bench: cannot start " + argv[0] + ": " + std::strerror(error));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw strata::Error("distributed_bench: waitpid failed for " + argv[0]);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Driver {
  Args args;
  std::string self;
  std::filesystem::path scratch;

  // `processes` processes under strata-run, or one process with `mirrored_replicas` replicas.
  double strata_samples_per_s(int processes, int64_t bytes_per_pack, int mirrored_replicas = 0) const {
    const std::string result = (scratch / "result.json").string();
    std::filesystem::remove(result);
    std::vector<std::string> argv = {self, "--worker", "--result", result, "--bytes-per-pack",
                                     std::to_string(bytes_per_pack), "--steps", std::to_string(args.steps),
                                     "--warmup", std::to_string(args.warmup), "--data", args.data};
    if (mirrored_replicas > 0) {
      argv.insert(argv.end(), {"--mirrored-replicas", std::to_string(mirrored_replicas)});
    } else {
      argv.insert(argv.begin(), {STRATA_RUN_EXE, "--nproc-per-node", std::to_string(processes), "--bind-cores",
                                 "--timeout", "120"});
    }
    const int code = spawn_and_wait(argv);
    if (code != 0)
      throw strata::Error("distributed_bench: " +
                          (mirrored_replicas > 0 ? std::to_string(mirrored_replicas) + " mirrored replicas"
                                                 : "strata-run with " + std::to_string(processes) + " processes") +
                          " exited with " + std::to_string(code));
    std::ifstream in(result);
    if (!in) throw strata::IOError("distributed_bench: the chief wrote no result file " + result);
    return nlohmann::json::parse(in).at("samples_per_s").get<double>();
  }

  // Samples per second of PyTorch DDP, or nullopt with `reason` set when it cannot run.
  std::optional<double> torch_samples_per_s(int processes, std::string& reason, std::string& version) const {
    auto run = strata::bench::run_python_script(
        args.python, "distributed_baseline.py",
        {"--data", args.data, "--processes", std::to_string(processes), "--per-replica-batch",
         std::to_string(kPerReplicaBatch), "--steps", std::to_string(args.steps), "--warmup",
         std::to_string(args.warmup)});
    for (const auto& line : run.json_lines) {
      const auto parsed = nlohmann::json::parse(line);
      if (run.reason.empty() && parsed.contains("samples_per_s")) {
        version = parsed.value("torch_version", "");
        return parsed.at("samples_per_s").get<double>();
      }
    }
    reason = run.reason.empty() ? "distributed_baseline.py printed no samples_per_s" : run.reason;
    return std::nullopt;
  }
};

std::string format(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

int run_driver(const Args& args, const char* argv0) {
  namespace fs = std::filesystem;
  std::error_code ignored;
  std::string self = fs::read_symlink("/proc/self/exe", ignored).string();
  if (self.empty()) self = fs::absolute(argv0).string();
  std::string scratch_template = (fs::temp_directory_path() / "strata_distributed_bench.XXXXXX").string();
  if (!mkdtemp(scratch_template.data())) throw strata::IOError("distributed_bench: cannot create a scratch directory");
  const Driver driver{args, self, scratch_template};
  // One thread per process on both sides (strata-run sets it only for several processes; Python reads it too).
  setenv("OMP_NUM_THREADS", "1", 1);

  std::vector<double> one, two, two_one_bucket, mirrored_two, torch_one, torch_two;
  std::string torch_reason = args.run_python ? "" : (args.smoke ? "--smoke" : "--no-python");
  std::string torch_version;
  for (int repeat = 1; repeat <= args.repeats; ++repeat) {
    one.push_back(driver.strata_samples_per_s(1, kOneMiB));
    two.push_back(driver.strata_samples_per_s(2, kOneMiB));
    two_one_bucket.push_back(driver.strata_samples_per_s(2, kOneBucket));
    mirrored_two.push_back(driver.strata_samples_per_s(1, kOneMiB, 2));
    std::fprintf(stderr,
                 "  repeat %d: strata 1 process %.1f samples/s, 2 processes %.1f, 2 with one bucket %.1f, "
                 "2 mirrored replicas in one process %.1f\n",
                 repeat, one.back(), two.back(), two_one_bucket.back(), mirrored_two.back());
    if (torch_reason.empty()) {
      const auto t1 = driver.torch_samples_per_s(1, torch_reason, torch_version);
      const auto t2 = t1 ? driver.torch_samples_per_s(2, torch_reason, torch_version) : std::nullopt;
      if (t1 && t2) {
        torch_one.push_back(*t1);
        torch_two.push_back(*t2);
        std::fprintf(stderr, "  repeat %d: pytorch ddp 1 process %.1f samples/s, 2 processes %.1f\n", repeat, *t1,
                     *t2);
      }
    }
  }
  fs::remove_all(driver.scratch, ignored);

  const bool have_torch = torch_reason.empty() && !torch_one.empty();
  const double s1 = median(one), s2 = median(two), s2_one = median(two_one_bucket), m2 = median(mirrored_two);
  const double t1 = have_torch ? median(torch_one) : 0, t2 = have_torch ? median(torch_two) : 0;
  std::printf("Fashion-MNIST CNN, CPU processes pinned to one core each, 1 thread, %lld samples per replica per step,\n"
              "%d timed steps after %d warm-up, median of %d repeat(s)%s\n\n",
              static_cast<long long>(kPerReplicaBatch), args.steps, args.warmup, args.repeats,
              have_torch ? (", PyTorch " + torch_version).c_str() : "");
  std::printf("%-10s %-13s %-18s %-22s %s\n", "processes", "global batch", "Strata samples/s", "PyTorch DDP samples/s",
              "Strata/PyTorch");
  for (const auto& [processes, strata_rate, torch_rate] :
       {std::tuple{1, s1, t1}, std::tuple{2, s2, t2}}) {
    std::printf("%-10d %-13lld %-18s %-22s %s\n", processes, static_cast<long long>(kPerReplicaBatch * processes),
                format(strata_rate, 1).c_str(), have_torch ? format(torch_rate, 1).c_str() : "-",
                have_torch ? format(strata_rate / torch_rate, 3).c_str() : "-");
  }
  std::printf("\nScaling efficiency (samples/s with 2 / (2 x with 1)): Strata %.3f", s2 / (2 * s1));
  if (have_torch) std::printf(", PyTorch DDP %.3f", t2 / (2 * t1));
  std::printf("\nStrata, 2 processes: 1 MiB buckets during backward %.1f samples/s, one bucket after backward %.1f "
              "(bucketed / one bucket = %.3f)\n",
              s2, s2_one, s2 / s2_one);
  std::printf("Strata, MirroredStrategy over 2 logical CPU devices in one process: %.1f samples/s (scaling efficiency "
              "%.3f, against 2 processes %.3f)\n",
              m2, m2 / (2 * s1), m2 / s2);
  if (!have_torch) std::printf("PyTorch baseline skipped: %s\n", torch_reason.c_str());

  nlohmann::json out = {{"bench", "distributed_cnn"},
                        {"per_replica_batch", kPerReplicaBatch},
                        {"steps", args.steps},
                        {"warmup", args.warmup},
                        {"repeats", args.repeats},
                        {"strata_samples_per_s_1", round4(s1)},
                        {"strata_samples_per_s_2", round4(s2)},
                        {"strata_samples_per_s_2_one_bucket", round4(s2_one)},
                        {"strata_scaling_efficiency", round4(s2 / (2 * s1))},
                        {"bucketed_over_one_bucket", round4(s2 / s2_one)},
                        {"strata_mirrored_samples_per_s_2", round4(m2)},
                        {"strata_mirrored_scaling_efficiency", round4(m2 / (2 * s1))}};
  if (have_torch) {
    out["torch_version"] = torch_version;
    out["torch_samples_per_s_1"] = round4(t1);
    out["torch_samples_per_s_2"] = round4(t2);
    out["torch_scaling_efficiency"] = round4(t2 / (2 * t1));
    out["ratio_1"] = round4(s1 / t1);
    out["ratio_2"] = round4(s2 / t2);
  } else {
    out["skipped_torch"] = torch_reason;
  }
  std::cout << '\n' << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    return args.worker ? run_worker(args) : run_driver(args, argv[0]);
  } catch (const std::exception& error) {
    std::cerr << "distributed_bench: " << error.what() << '\n';
    return 1;
  }
}
