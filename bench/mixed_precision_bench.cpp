// Speed of mixed_bfloat16 against float32 training on this CPU, for the models of the mixed-precision test:
//   mlp  Input(28, 28) -> Flatten -> Dense(256, relu) -> Dense(128, relu) -> Dense(10) -> softmax (float32)
//   cnn  Input(28, 28) -> Reshape(28, 28, 1) -> Conv2D(32, 3, same) -> BatchNormalization -> relu -> MaxPooling2D
//        -> Conv2D(64, 3, same) -> BatchNormalization -> relu -> MaxPooling2D -> Flatten -> Dense(128, relu)
//        -> Dense(10) -> softmax (float32)
// Adam, sparse categorical crossentropy, batch 64, one epoch over the first --samples Fashion-MNIST images per
// round; the policies take turns for --rounds rounds and the medians are reported. bfloat16 matmuls and
// convolutions reach oneDNN's AVX512-BF16 kernels where the CPU has them.
//
// Prints one JSON object per model on stdout:
//   {"bench":"mixed_precision","model":"mlp","float32_ms_per_step":X,"mixed_bfloat16_ms_per_step":Y,
//    "speedup":X/Y,"float32_cpu_ms_per_step":...,"mixed_bfloat16_cpu_ms_per_step":...,"cpu_speedup":...,
//    "threads":N,"steps":S}
// Wall time suffers on a shared machine; the process's CPU time per step is reported beside it.
// Options: --threads N (2), --samples N (6000), --rounds R (3), --data DIR.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <strata/strata.h>

#include "bench_options.h"
#include "torch_baseline.h"

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace strata;

constexpr int64_t kBatchSize = 64;

struct Args {
  int threads = 2;
  int64_t samples = 6000;
  int rounds = 3;
  std::string data = datasets::fashion_mnist::kDefaultPath;
};

Args parse_args(int argc, char** argv) {
  Args args;
  const auto take = [&](const std::string& arg, const strata::bench::OptionValue& value) {
    if (arg == "--threads") args.threads = std::stoi(value());
    else if (arg == "--samples") args.samples = std::stoll(value());
    else if (arg == "--rounds") args.rounds = std::stoi(value());
    else if (arg == "--data") args.data = value();
    else return false;
    return true;
  };
  strata::bench::parse_options(argc, argv, "--threads, --samples, --rounds, --data", take);
  return args;
}

Sequential make_model(const std::string& kind) {
  auto softmax = share(layers::Activation("softmax"));
  softmax->set_dtype_policy("float32");
  if (kind == "mlp")
    return Sequential({layers::Input({28, 28}), layers::Flatten(), layers::Dense(256, {.activation = "relu"}),
                       layers::Dense(128, {.activation = "relu"}), layers::Dense(10), softmax});
  return Sequential({layers::Input({28, 28}), layers::Reshape({28, 28, 1}), layers::Conv2D(32, 3, {.padding = "same"}),
                     layers::BatchNormalization(), layers::Activation("relu"), layers::MaxPooling2D(),
                     layers::Conv2D(64, 3, {.padding = "same"}), layers::BatchNormalization(),
                     layers::Activation("relu"), layers::MaxPooling2D(), layers::Flatten(),
                     layers::Dense(128, {.activation = "relu"}), layers::Dense(10), softmax});
}

struct Timing {
  double wall_ms;
  double cpu_ms;
};

// Wall and CPU milliseconds per step of one epoch, after a short warm-up epoch on the same model.
Timing ms_per_step(const std::string& kind, const std::string& policy, const at::Tensor& x, const at::Tensor& y) {
  mixed_precision::set_global_policy(policy);
  set_random_seed(1);
  Sequential model = make_model(kind);
  model.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
  model.fit(x.narrow(0, 0, 8 * kBatchSize), y.narrow(0, 0, 8 * kBatchSize), {.batch_size = kBatchSize, .verbose = 0});
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  model.fit(x, y, {.batch_size = kBatchSize, .verbose = 0});
  const double cpu_ms = 1000.0 * static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  mixed_precision::set_global_policy("float32");
  const double steps = static_cast<double>((x.size(0) + kBatchSize - 1) / kBatchSize);
  return {ms / steps, cpu_ms / steps};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    at::set_num_threads(args.threads);
    const auto data = datasets::fashion_mnist::load(args.data);
    const at::Tensor x = data.x_train.narrow(0, 0, args.samples), y = data.y_train.narrow(0, 0, args.samples);
    for (const std::string kind : {"mlp", "cnn"}) {
      std::vector<double> f32, bf16, f32_cpu, bf16_cpu;
      for (int round = 0; round < args.rounds; ++round) {
        const Timing a = ms_per_step(kind, "float32", x, y), b = ms_per_step(kind, "mixed_bfloat16", x, y);
        f32.push_back(a.wall_ms);
        f32_cpu.push_back(a.cpu_ms);
        bf16.push_back(b.wall_ms);
        bf16_cpu.push_back(b.cpu_ms);
        std::cerr << kind << " round " << round << ": float32 " << a.wall_ms << " ms (cpu " << a.cpu_ms
                  << "), mixed_bfloat16 " << b.wall_ms << " ms (cpu " << b.cpu_ms << ") per step\n";
      }
      const double a = bench::median(f32), b = bench::median(bf16);
      const double a_cpu = bench::median(f32_cpu), b_cpu = bench::median(bf16_cpu);
      std::cout << nlohmann::json{{"bench", "mixed_precision"},
                                  {"model", kind},
                                  {"float32_ms_per_step", bench::round4(a)},
                                  {"mixed_bfloat16_ms_per_step", bench::round4(b)},
                                  {"speedup", bench::round4(a / b)},
                                  {"float32_cpu_ms_per_step", bench::round4(a_cpu)},
                                  {"mixed_bfloat16_cpu_ms_per_step", bench::round4(b_cpu)},
                                  {"cpu_speedup", bench::round4(a_cpu / b_cpu)},
                                  {"threads", args.threads},
                                  {"steps", (args.samples + kBatchSize - 1) / kBatchSize}}
                       .dump()
                << std::endl;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
