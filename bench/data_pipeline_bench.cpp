// The input pipeline's throughput and what it costs a training step.
//
// 1. Samples per second of one pass over Fashion-MNIST's 60000 training images through
//      from_tensor_slices(uint8 images, labels) -> shuffle(all) -> map(decode to float and normalise, random flip,
//      pad 2 + random 28x28 crop; `workers` threads) -> batch(64) -> prefetch(2)
//    against the same per-sample work in torch.utils.data.DataLoader (bench/data_pipeline_baseline.py: a Dataset
//    whose __getitem__ does it, shuffle=True, batch_size=64, num_workers = workers), timed in the same run, for
//    0 workers (everything on the consuming thread) and `--workers` workers.
// 2. The CNN of bench/fashion_mnist_cnn.h trained on `--cnn-samples` images: ms per step with a pipeline feeding it,
//    against the same fit on tensors already normalised in memory (no augmentation). Two pipelines: the per-sample
//    one above, and the same work vectorized as tf.data's performance guide advises (shuffle and batch first,
//    then one map call per batch, each image still drawing its own flip and crop).
//
// Prints JSON lines on stdout: {"bench":"data_pipeline","workers":W,"strata_samples_per_s":..,
// "torch_samples_per_s":..,"ratio":..} per worker count, then {"bench":"pipeline_step_time","in_memory_ms":..,
// "per_sample_ms":..,"per_sample_ratio":..,"vectorized_ms":..,"vectorized_ratio":..}.
// Options: --workers W (2), --threads N (ATen threads for the CNN, 2), --rounds R (3), --cnn-samples N (6400),
//          --data DIR, --python PATH (/usr/bin/python3), --no-python.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <strata/strata.h>

#include "bench_options.h"
#include "fashion_mnist_cnn.h"
#include "torch_baseline.h"

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

namespace {

using strata::bench::median;
using strata::bench::round4;

constexpr int64_t kBatchSize = 64;

struct Args {
  int workers = 2;
  int threads = 2;
  int rounds = 3;
  int64_t cnn_samples = 6400;
  std::string data = strata::datasets::fashion_mnist::kDefaultPath;
  std::string python = "/usr/bin/python3";
  bool run_python = true;
};

Args parse_args(int argc, char** argv) {
  Args args;
  const auto take = [&](const std::string& arg, const strata::bench::OptionValue& value) {
    if (arg == "--workers") args.workers = std::stoi(value());
    else if (arg == "--threads") args.threads = std::stoi(value());
    else if (arg == "--rounds") args.rounds = std::stoi(value());
    else if (arg == "--cnn-samples") args.cnn_samples = std::stoll(value());
    else if (arg == "--data") args.data = value();
    else if (arg == "--python") args.python = value();
    else if (arg == "--no-python") args.run_python = false;
    else return false;
    return true;
  };
  strata::bench::parse_options(argc, argv,
                               "--workers, --threads, --rounds, "
                               "--cnn-samples, --data, --python, --no-python",
                               take);
  return args;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Fashion-MNIST's mean and standard deviation of the [0, 1] pixels.
constexpr double kMean = 0.2860, kStd = 0.3530;

// The work on an element: uint8 [28, 28] images (or a [B, 28, 28] batch of them) become normalised, randomly
// flipped and shifted floats of the same shape, each image with its own draws.
strata::data::Dataset::MapFunction augment() {
  using namespace strata;
  return data::augment::seeded(7, [](data::Element e, at::Generator& g) {
    at::Tensor images = ((e[0].to(at::kFloat) / 255.0 - kMean) / kStd).unsqueeze(-1);  // HWC or NHWC
    images = data::augment::random_flip_left_right(images, g);
    images = data::augment::random_crop(at::constant_pad_nd(images, {0, 0, 2, 2, 2, 2}), 28, 28, g);
    e[0] = images.squeeze(-1);
    return e;
  });
}

strata::data::Dataset per_sample_pipeline(const at::Tensor& images, const at::Tensor& labels, int64_t workers) {
  using namespace strata;
  return data::augment::element_keys(data::Dataset::from_tensor_slices({images, labels}))
      .map(augment(), {.num_parallel_calls = workers})
      .shuffle(images.size(0), {.seed = 1})
      .batch(kBatchSize)
      .prefetch(2);
}

strata::data::Dataset vectorized_pipeline(const at::Tensor& images, const at::Tensor& labels, int64_t workers) {
  using namespace strata;
  const auto batches = data::Dataset::from_tensor_slices({images, labels}).shuffle(images.size(0), {.seed = 1}).batch(kBatchSize);
  return data::augment::element_keys(batches).map(augment(), {.num_parallel_calls = workers}).prefetch(2);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    strata::set_random_seed(42);
    const at::Tensor images = strata::data::read_idx(args.data + "/train-images-idx3-ubyte.gz");
    const at::Tensor labels = strata::data::read_idx(args.data + "/train-labels-idx1-ubyte.gz").to(at::kLong);
    const int64_t samples = images.size(0);

    // 1. Throughput, Strata and DataLoader alternating round by round.
    at::set_num_threads(1);
    for (const int workers : {0, args.workers}) {
      std::vector<double> strata_rate, torch_rate;
      std::string torch_reason = args.run_python ? "" : "--no-python";
      for (int round = 0; round < args.rounds; ++round) {
        const auto start = std::chrono::steady_clock::now();
        int64_t seen = 0;
        for (const auto& batch : per_sample_pipeline(images, labels, workers)) seen += batch[0].size(0);
        strata_rate.push_back(static_cast<double>(seen) / seconds_since(start));
        if (torch_reason.empty()) {
          auto run = strata::bench::run_python_script(
              args.python, "data_pipeline_baseline.py",
              {"--data", args.data, "--workers", std::to_string(workers), "--batch-size", std::to_string(kBatchSize)});
          if (run.reason.empty() && !run.json_lines.empty())
            torch_rate.push_back(nlohmann::json::parse(run.json_lines.back())["samples_per_s"].get<double>());
          else
            torch_reason = run.reason;
        }
        std::fprintf(stderr, "  workers %d round %d: strata %.0f samples/s%s\n", workers, round + 1, strata_rate.back(),
                     torch_rate.size() > static_cast<size_t>(round)
                         ? (", torch " + std::to_string(static_cast<int64_t>(torch_rate.back())) + " samples/s").c_str()
                         : "");
      }
      nlohmann::json out = {{"bench", "data_pipeline"}, {"workers", workers}, {"samples", samples},
                            {"strata_samples_per_s", round4(median(strata_rate))}, {"rounds", args.rounds}};
      if (!torch_rate.empty()) {
        out["torch_samples_per_s"] = round4(median(torch_rate));
        out["ratio"] = round4(median(strata_rate) / median(torch_rate));
      } else {
        out["skipped_torch"] = torch_reason;
      }
      std::cout << out.dump() << std::endl;
    }

    // 2. The CNN's step time, fed by the pipeline or from memory.
    at::set_num_threads(args.threads);
    const int64_t n = std::min(args.cnn_samples, samples);
    const at::Tensor x_memory = ((images.narrow(0, 0, n).to(at::kFloat) / 255.0 - kMean) / kStd).contiguous();
    const at::Tensor y = labels.narrow(0, 0, n).contiguous();
    const int64_t steps = (n + kBatchSize - 1) / kBatchSize;
    std::vector<double> memory_ms, per_sample_ms, vectorized_ms;
    auto ms_per_step = [&](const auto& fit) {
      strata::Sequential model = strata::bench::build_fashion_mnist_cnn();
      const auto start = std::chrono::steady_clock::now();
      fit(model);
      return seconds_since(start) * 1e3 / static_cast<double>(steps);
    };
    const at::Tensor x_uint8 = images.narrow(0, 0, n);
    for (int round = 0; round < args.rounds; ++round) {
      memory_ms.push_back(ms_per_step([&](strata::Sequential& model) {
        model.fit(x_memory, y, {.batch_size = kBatchSize, .epochs = 1, .verbose = 0});
      }));
      per_sample_ms.push_back(ms_per_step([&](strata::Sequential& model) {
        model.fit(per_sample_pipeline(x_uint8, y, args.workers), {.epochs = 1, .verbose = 0});
      }));
      vectorized_ms.push_back(ms_per_step([&](strata::Sequential& model) {
        model.fit(vectorized_pipeline(x_uint8, y, args.workers), {.epochs = 1, .verbose = 0});
      }));
      std::fprintf(stderr, "  cnn round %d: in memory %.2f ms/step, per-sample pipeline %.2f, vectorized %.2f\n",
                   round + 1, memory_ms.back(), per_sample_ms.back(), vectorized_ms.back());
    }
    const double memory = median(memory_ms);
    std::cout << nlohmann::json{{"bench", "pipeline_step_time"}, {"samples", n}, {"workers", args.workers},
                                {"threads", args.threads}, {"in_memory_ms", round4(memory)},
                                {"per_sample_ms", round4(median(per_sample_ms))},
                                {"per_sample_ratio", round4(median(per_sample_ms) / memory)},
                                {"vectorized_ms", round4(median(vectorized_ms))},
                                {"vectorized_ratio", round4(median(vectorized_ms) / memory)}}
                     .dump()
              << std::endl;
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "data_pipeline_bench: " << error.what() << '\n';
    return 1;
  }
}
