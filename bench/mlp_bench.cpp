// Speed of Strata's fit() on the Fashion-MNIST MLP against two baselines, on the same data and threads:
//   raw_aten        the same model, loss, Adam and per-step bookkeeping written by hand against ATen
//   pytorch_python  bench/torch_baseline.py --model mlp, the same training loop in PyTorch's Python API
// Model (examples/fashion_mnist_mlp.cpp): Input(28, 28) -> Flatten -> Dense(512, relu) -> Dropout(0.2)
// -> Dense(256, relu) -> Dropout(0.2) -> Dense(10) logits, SparseCategoricalCrossentropy(from_logits),
// Adam(lr 1e-3, eps 1e-7), batch 128, shuffled each epoch.
//
// Prints one JSON object per comparison on stdout:
//   {"bench":"mlp_fashion_mnist","strata_ms_per_step":X,"baseline":"raw_aten","baseline_ms_per_step":Y,
//    "ratio":X/Y,"threads":N,"batch_size":128,"steps":S}
// (or "skipped":true with a "reason" when the Python baseline cannot run). Everything else goes to stderr.
// Each measurement is repeated --rounds times, the three taking turns, and the medians are reported.
//
// Options: --threads N (2), --epochs E (3), --samples N (20000; 0 = all 60000), --rounds R (5),
//          --data DIR, --python PATH (/usr/bin/python3), --no-python.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <strata/strata.h>

#include "bench_options.h"
#include "torch_baseline.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using strata::bench::median;
using strata::bench::round4;

constexpr int64_t kBatchSize = 128;
constexpr int kWarmupSteps = 20;
constexpr double kDropoutRate = 0.2;

struct Args {
  int threads = 2;
  int epochs = 3;
  int64_t samples = 20000;
  int rounds = 5;
  std::string data = strata::datasets::fashion_mnist::kDefaultPath;
  std::string python = "/usr/bin/python3";
  bool run_python = true;
};

Args parse_args(int argc, char** argv) {
  Args args;
  const auto take = [&](const std::string& arg, const strata::bench::OptionValue& value) {
    if (arg == "--threads") args.threads = std::stoi(value());
    else if (arg == "--epochs") args.epochs = std::stoi(value());
    else if (arg == "--samples") args.samples = std::stoll(value());
    else if (arg == "--rounds") args.rounds = std::stoi(value());
    else if (arg == "--data") args.data = value();
    else if (arg == "--python") args.python = value();
    else if (arg == "--no-python") args.run_python = false;
    else return false;
    return true;
  };
  strata::bench::parse_options(argc, argv,
                               "--threads, --epochs, --samples, "
                               "--rounds, --data, --python, --no-python",
                               take);
  if (args.threads < 1 || args.epochs < 1 || args.samples < 0 || args.rounds < 1)
    throw strata::ValueError("expected --threads, --epochs, --rounds >= 1 and --samples >= 0");
  return args;
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string format_ms(const std::vector<double>& values) {
  std::string out;
  for (double v : values) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), out.empty() ? "%.4f" : " %.4f", v);
    out += text.data();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// (a) Strata: the model as a Keras user writes it, timed through fit().

struct StrataBench {
  strata::Sequential model;

  StrataBench()
      : model({
            strata::layers::Input({28, 28}),
            strata::layers::Flatten(),
            strata::layers::Dense(512, {.activation = "relu"}),
            strata::layers::Dropout(kDropoutRate),
            strata::layers::Dense(256, {.activation = "relu"}),
            strata::layers::Dropout(kDropoutRate),
            strata::layers::Dense(10),
        }) {
    model.compile({
        .optimizer = strata::optimizers::Adam({.learning_rate = 1e-3, .epsilon = 1e-7}),
        .loss = strata::losses::SparseCategoricalCrossentropy({.from_logits = true}),
        .metrics = {"accuracy"},
    });
  }

  // Wall time of one fit() call over `epochs` epochs of (x, y), in ms; `logs` gets the last epoch's.
  double fit_ms(const at::Tensor& x, const at::Tensor& y, int epochs, strata::Logs* logs = nullptr) {
    const auto start = Clock::now();
    strata::callbacks::History history = model.fit(x, y, {.batch_size = kBatchSize, .epochs = epochs, .verbose = 0});
    const double elapsed = ms_since(start);
    (void)history;
    if (logs) *logs = model.metric_logs();
    return elapsed;
  }
};

// ---------------------------------------------------------------------------------------------------
// (b) Raw ATen: the same per-step work written by hand: randperm shuffle, index_select batches, leaf
// weights in Keras' (in, out) layout through addmm, relu, dropout, log_softmax + nll_loss (mean), backward,
// Keras-form Adam with _foreach ops (as optimizers/adam.cpp), grads reset each step, and the running
// loss and accuracy kept as tensors (read once per epoch, like fit()'s epoch logs).

struct RawBench {
  std::vector<at::Tensor> params;  // w1, b1, w2, b2, w3, b3
  std::vector<at::Tensor> m, v;
  int64_t iterations = 0;
  static constexpr double kLr = 1e-3, kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-7;

  RawBench() {
    const std::array<std::pair<int64_t, int64_t>, 3> dims = {{{784, 512}, {512, 256}, {256, 10}}};
    for (auto [in, out] : dims) {
      const double limit = std::sqrt(6.0 / static_cast<double>(in + out));  // glorot_uniform, as Dense uses
      params.push_back(at::empty({in, out}).uniform_(-limit, limit).requires_grad_(true));
      params.push_back(at::zeros({out}).requires_grad_(true));
    }
    for (const auto& p : params) {
      m.push_back(at::zeros_like(p.detach()));
      v.push_back(at::zeros_like(p.detach()));
    }
  }

  // Inverted dropout as a hand-written loop would do it: a Bernoulli keep-mask scaled by 1/(1-rate).
  static at::Tensor dropout(const at::Tensor& h) {
    return h * at::empty_like(h).bernoulli_(1.0 - kDropoutRate).mul_(1.0 / (1.0 - kDropoutRate));
  }

  at::Tensor forward(const at::Tensor& x, bool training) {
    at::Tensor h = x.reshape({x.size(0), -1});
    h = at::relu(at::addmm(params[1], h, params[0]));
    if (training) h = dropout(h);
    h = at::relu(at::addmm(params[3], h, params[2]));
    if (training) h = dropout(h);
    return at::addmm(params[5], h, params[4]);
  }

  void adam_step() {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> grads;
    grads.reserve(params.size());
    for (const auto& p : params) grads.push_back(p.grad());
    const double t = static_cast<double>(++iterations);
    const double alpha = kLr * std::sqrt(1.0 - std::pow(kBeta2, t)) / (1.0 - std::pow(kBeta1, t));
    at::_foreach_mul_(m, kBeta1);
    at::_foreach_add_(m, grads, 1.0 - kBeta1);
    at::_foreach_mul_(v, kBeta2);
    at::_foreach_addcmul_(v, grads, grads, 1.0 - kBeta2);
    std::vector<at::Tensor> denominator = at::_foreach_sqrt(v);
    at::_foreach_add_(denominator, kEps);
    at::_foreach_addcdiv_(params, m, denominator, -alpha);
  }

  struct Trackers {
    at::Tensor loss_sum = at::zeros({}, at::kFloat);
    at::Tensor correct = at::zeros({}, at::kLong);
  };

  void train_step(const at::Tensor& x, const at::Tensor& y, Trackers& trackers) {
    for (auto& p : params) p.mutable_grad().reset();
    at::Tensor logits = forward(x, true);
    at::Tensor loss = at::nll_loss(at::log_softmax(logits, -1), y);
    loss.backward();
    adam_step();
    at::NoGradGuard no_grad;
    trackers.loss_sum.add_(loss.detach() * static_cast<double>(y.size(0)));
    trackers.correct.add_(at::eq(logits.detach().argmax(-1), y).sum());
  }

  // `epochs` shuffled epochs over (x, y), reading loss and accuracy at each epoch's end; returns ms.
  double train_ms(const at::Tensor& x, const at::Tensor& y, int epochs, double* last_loss = nullptr,
                  double* last_accuracy = nullptr) {
    const auto start = Clock::now();
    const int64_t samples = x.size(0);
    double loss_value = 0, accuracy_value = 0;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      Trackers trackers;
      at::Tensor order = at::randperm(samples, at::TensorOptions().dtype(at::kLong));
      for (int64_t begin = 0; begin < samples; begin += kBatchSize) {
        at::Tensor index = order.narrow(0, begin, std::min(kBatchSize, samples - begin));
        train_step(x.index_select(0, index), y.index_select(0, index), trackers);
      }
      const double count = static_cast<double>(samples);
      loss_value = trackers.loss_sum.item<double>() / count;
      accuracy_value = trackers.correct.item<double>() / count;
    }
    const double elapsed = ms_since(start);
    if (last_loss) *last_loss = loss_value;
    if (last_accuracy) *last_accuracy = accuracy_value;
    return elapsed;
  }

  // Untimed steps on the first batches, so allocations and thread pools are warm.
  void warm_up(const at::Tensor& x, const at::Tensor& y) {
    const int64_t n = std::min<int64_t>(x.size(0), kWarmupSteps * kBatchSize);
    train_ms(x.narrow(0, 0, n), y.narrow(0, 0, n), 1);
  }
};

nlohmann::ordered_json comparison(const char* baseline, double strata_ms) {
  nlohmann::ordered_json out;
  out["bench"] = "mlp_fashion_mnist";
  out["strata_ms_per_step"] = round4(strata_ms);
  out["baseline"] = baseline;
  return out;
}

void add_run_fields(nlohmann::ordered_json& out, const Args& args, int64_t steps) {
  out["threads"] = args.threads;
  out["batch_size"] = kBatchSize;
  out["steps"] = steps;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    at::set_num_threads(args.threads);
    strata::set_random_seed(42);

    auto data = strata::datasets::fashion_mnist::load(args.data);
    at::Tensor x = data.x_train, y = data.y_train;
    if (args.samples > 0 && args.samples < x.size(0)) {
      x = x.narrow(0, 0, args.samples).contiguous();
      y = y.narrow(0, 0, args.samples).contiguous();
    }
    const int64_t n = x.size(0);
    const int64_t steps_per_epoch = (n + kBatchSize - 1) / kBatchSize;
    const int64_t steps = args.epochs * steps_per_epoch;
    std::cerr << "mlp_bench: " << n << " samples, batch " << kBatchSize << ", " << args.epochs << " epoch(s) = "
              << steps << " steps per measurement, " << args.rounds << " round(s), threads " << at::get_num_threads()
              << ", OMP_WAIT_POLICY=" << (std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)")
              << '\n';

    StrataBench strata_bench;
    RawBench raw;
    {
      const int64_t warm = std::min<int64_t>(n, kWarmupSteps * kBatchSize);
      strata_bench.fit_ms(x.narrow(0, 0, warm), y.narrow(0, 0, warm), 1);
      raw.warm_up(x, y);
    }

    // Each round runs every contender once, in a rotating order, so drift in machine load hits all alike.
    std::vector<double> strata_ms, raw_ms, python_ms;
    bool python_ok = args.run_python;
    std::string python_reason = args.run_python ? "" : "--no-python given", torch_version;
    for (int round = 0; round < args.rounds; ++round) {
      strata::Logs logs;
      double loss = 0, accuracy = 0;
      for (int slot = 0; slot < 3; ++slot) {
        switch ((slot + round) % 3) {
          case 0:
            strata_ms.push_back(strata_bench.fit_ms(x, y, args.epochs, &logs) / static_cast<double>(steps));
            break;
          case 1:
            raw_ms.push_back(raw.train_ms(x, y, args.epochs, &loss, &accuracy) / static_cast<double>(steps));
            break;
          default:
            if (!python_ok) break;
            const strata::bench::TorchBaselineResult result = strata::bench::run_torch_baseline(
                args.python, {"--model", "mlp", "--threads", std::to_string(args.threads), "--batch-size",
                              std::to_string(kBatchSize), "--steps", std::to_string(steps), "--warmup",
                              std::to_string(kWarmupSteps), "--samples", std::to_string(args.samples), "--data",
                              args.data});
            if (!result.ms_per_step) {
              python_ok = false;
              python_reason = result.reason;
              std::cerr << "  pytorch_python baseline skipped: " << python_reason << '\n';
              break;
            }
            torch_version = result.torch_version;
            python_ms.push_back(*result.ms_per_step);
        }
      }
      std::fprintf(stderr, "  round %d: strata %.4f ms/step (loss %.4f, acc %.4f)  raw_aten %.4f ms/step (loss %.4f, acc %.4f)",
                   round + 1, strata_ms.back(), logs.at("loss"), logs.at("accuracy"), raw_ms.back(), loss, accuracy);
      if (python_ok) std::fprintf(stderr, "  pytorch_python %.4f ms/step", python_ms.back());
      std::fprintf(stderr, "\n");
    }

    const double strata_median = median(strata_ms), raw_median = median(raw_ms);
    std::fprintf(stderr, "  strata         [%s] median %.4f\n  raw_aten       [%s] median %.4f\n",
                 format_ms(strata_ms).c_str(), strata_median, format_ms(raw_ms).c_str(), raw_median);
    {
      nlohmann::ordered_json out = comparison("raw_aten", strata_median);
      out["baseline_ms_per_step"] = round4(raw_median);
      out["ratio"] = round4(strata_median / raw_median);
      add_run_fields(out, args, steps);
      std::cout << out.dump() << std::endl;
    }

    nlohmann::ordered_json out = comparison("pytorch_python", strata_median);
    if (!python_ok) {
      out["skipped"] = true;
      out["reason"] = python_reason;
    } else {
      const double python_median = median(python_ms);
      std::fprintf(stderr, "  pytorch_python [%s] median %.4f (torch %s)\n", format_ms(python_ms).c_str(),
                   python_median, torch_version.c_str());
      out["baseline_ms_per_step"] = round4(python_median);
      out["ratio"] = round4(strata_median / python_median);
      if (!torch_version.empty()) out["torch_version"] = torch_version;
    }
    add_run_fields(out, args, steps);
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const strata::Error& e) {
    std::cerr << "mlp_bench: error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mlp_bench: error: " << e.what() << '\n';
    return 1;
  }
}
