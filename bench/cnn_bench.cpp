// Time per epoch of examples/fashion_mnist_cnn.cpp's network, trained by Strata's fit() and by the same
// model in PyTorch's Python API (bench/torch_baseline.py --model cnn), on the same data and threads.
//
// Prints one JSON object on stdout:
//   {"bench":"cnn_fashion_mnist","strata_ms_per_step":X,"baseline":"pytorch_python","baseline_ms_per_step":Y,
//    "ratio":X/Y,"strata_s_per_epoch":...,"baseline_s_per_epoch":...,"threads":N,"batch_size":128,"steps":S}
// (or "skipped":true with a "reason" when the Python baseline cannot run). Seconds per epoch are for the
// full 60000-image training set (469 steps of 128). Diagnostics go to stderr.
//
// Options: --threads N (2), --samples N (6400), --rounds R (3), --data DIR, --python PATH.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <strata/strata.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "bench_options.h"
#include "fashion_mnist_cnn.h"
#include "torch_baseline.h"

namespace {

using strata::bench::median;
using strata::bench::round4;

constexpr int64_t kBatchSize = 128;
constexpr int64_t kStepsPerFullEpoch = (60000 + kBatchSize - 1) / kBatchSize;

struct Args {
  int threads = 2;
  int64_t samples = 6400;
  int rounds = 3;
  std::string data = strata::datasets::fashion_mnist::kDefaultPath;
  std::string python = "/usr/bin/python3";
};

Args parse_args(int argc, char** argv) {
  Args args;
  const auto take = [&](const std::string& arg, const strata::bench::OptionValue& value) {
    if (arg == "--threads") args.threads = std::stoi(value());
    else if (arg == "--samples") args.samples = std::stoll(value());
    else if (arg == "--rounds") args.rounds = std::stoi(value());
    else if (arg == "--data") args.data = value();
    else if (arg == "--python") args.python = value();
    else return false;
    return true;
  };
  strata::bench::parse_options(argc, argv, "--threads, --samples, --rounds, --data, --python", take);
  if (args.threads < 1 || args.samples < kBatchSize || args.rounds < 1)
    throw strata::ValueError("expected --threads >= 1, --samples >= 128 and --rounds >= 1");
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    at::set_num_threads(args.threads);
    strata::set_random_seed(42);
    auto data = strata::datasets::fashion_mnist::load(args.data);
    const int64_t samples = std::min<int64_t>(args.samples, data.x_train.size(0));
    const at::Tensor x = data.x_train.narrow(0, 0, samples).contiguous();
    const at::Tensor y = data.y_train.narrow(0, 0, samples).contiguous();
    const int64_t steps = (samples + kBatchSize - 1) / kBatchSize;

    strata::Sequential model = strata::bench::build_fashion_mnist_cnn();
    model.fit(x.narrow(0, 0, 4 * kBatchSize), y.narrow(0, 0, 4 * kBatchSize), {.batch_size = kBatchSize, .verbose = 0});

    std::vector<double> strata_ms, torch_ms;
    strata::bench::TorchBaselineResult torch_result;
    for (int round = 0; round < args.rounds; ++round) {
      const auto start = std::chrono::steady_clock::now();
      model.fit(x, y, {.batch_size = kBatchSize, .epochs = 1, .verbose = 0});
      const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
      strata_ms.push_back(elapsed.count() / static_cast<double>(steps));
      torch_result = strata::bench::run_torch_baseline(
          args.python, {"--model", "cnn", "--threads", std::to_string(args.threads), "--batch-size",
                        std::to_string(kBatchSize), "--steps", std::to_string(steps), "--warmup", "4", "--samples",
                        std::to_string(samples), "--data", args.data});
      if (torch_result.ms_per_step) torch_ms.push_back(*torch_result.ms_per_step);
      std::fprintf(stderr, "  round %d: strata %.2f ms/step, pytorch_python %s ms/step\n", round + 1, strata_ms.back(),
                   torch_result.ms_per_step ? std::to_string(*torch_result.ms_per_step).c_str() : "(skipped)");
    }

    const double strata_median = median(strata_ms);
    nlohmann::ordered_json out;
    out["bench"] = "cnn_fashion_mnist";
    out["strata_ms_per_step"] = round4(strata_median);
    out["baseline"] = "pytorch_python";
    out["strata_s_per_epoch"] = round4(strata_median * kStepsPerFullEpoch / 1e3);
    if (torch_ms.empty()) {
      out["skipped"] = true;
      out["reason"] = torch_result.reason;
    } else {
      const double torch_median = median(torch_ms);
      out["baseline_ms_per_step"] = round4(torch_median);
      out["ratio"] = round4(strata_median / torch_median);
      out["baseline_s_per_epoch"] = round4(torch_median * kStepsPerFullEpoch / 1e3);
      out["torch_version"] = torch_result.torch_version;
    }
    out["threads"] = args.threads;
    out["batch_size"] = kBatchSize;
    out["steps"] = steps;
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cnn_bench: error: " << e.what() << '\n';
    return 1;
  }
}
