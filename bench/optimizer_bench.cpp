// Time of one optimizer step over ~9.5M float32 parameters (an MLP 3072 -> 1024 -> 6 x 1024 -> 10, weights
// and biases, 16 tensors) with fixed gradients: Strata's optimizers against torch.optim's foreach=True
// implementations run by bench/optimizer_baseline.py in the same run, on the same threads, each with the
// Keras defaults of the Strata optimizer it is compared with.
//
// Prints one JSON object per optimizer on stdout:
//   {"bench":"optimizer_step","optimizer":"adam","parameters":P,"strata_ms_per_step":X,
//    "baseline":"torch_optim_foreach","baseline_ms_per_step":Y,"ratio":X/Y,"threads":N,"steps":S}
// (or "skipped":true with a "reason" when the Python baseline cannot run). Everything else goes to stderr.
//
// Options: --threads N (2), --steps S (20 per timing), --rounds R (5), --optimizers a,b,...
//          (sgd,adam,adamw,adamax,nadam,adagrad,adadelta,rmsprop), --python PATH (/usr/bin/python3), --no-python.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <strata/core/host_memory.h>
#include <strata/strata.h>

#include "bench_options.h"
#include "torch_baseline.h"

#include <chrono>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using strata::bench::median;
using strata::bench::round4;

constexpr int kWarmupSteps = 3;
const std::vector<int64_t> kLayers = {3072, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 10};

struct Args {
  int threads = 2;
  int steps = 20;
  int rounds = 5;
  std::vector<std::string> optimizers = {"sgd", "adam", "adamw", "adamax", "nadam", "adagrad", "adadelta", "rmsprop"};
  std::string python = "/usr/bin/python3";
  bool run_python = true;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) out.push_back(item);
  return out;
}

Args parse_args(int argc, char** argv) {
  Args args;
  const auto take = [&](const std::string& arg, const strata::bench::OptionValue& value) {
    if (arg == "--threads") args.threads = std::stoi(value());
    else if (arg == "--steps") args.steps = std::stoi(value());
    else if (arg == "--rounds") args.rounds = std::stoi(value());
    else if (arg == "--optimizers") args.optimizers = split(value());
    else if (arg == "--python") args.python = value();
    else if (arg == "--no-python") args.run_python = false;
    else return false;
    return true;
  };
  strata::bench::parse_options(argc, argv, "--threads, --steps, --rounds, --optimizers, --python, --no-python", take);
  if (args.threads < 1 || args.steps < 1 || args.rounds < 1)
    throw strata::ValueError("expected --threads, --steps and --rounds >= 1");
  return args;
}

// Strata's optimizers under their Keras names, with Keras' defaults (SGD with momentum 0.9, as torch's).
std::shared_ptr<strata::optimizers::Optimizer> make_optimizer(const std::string& name) {
  if (name == "sgd") return std::make_shared<strata::optimizers::SGD>(strata::optimizers::SGDOptions{.momentum = 0.9});
  return strata::optimizers::get(name);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    at::set_num_threads(args.threads);
    // As fit() does once per process: without it every step's temporaries (up to 12 MiB here) are fresh
    // mmap()s that page-fault in again, which doubled the step time of the adaptive optimizers.
    strata::keep_host_memory_for_reuse();
    at::manual_seed(0);
    std::vector<at::Tensor> variables, grads;
    int64_t parameters = 0;
    for (size_t i = 0; i + 1 < kLayers.size(); ++i)
      for (std::vector<int64_t> shape : {std::vector<int64_t>{kLayers[i], kLayers[i + 1]}, {kLayers[i + 1]}}) {
        variables.push_back(at::randn(shape) * 0.01);
        grads.push_back(at::randn(shape) * 0.01);
        parameters += variables.back().numel();
      }

    std::map<std::string, double> strata_ms;
    for (const auto& name : args.optimizers) {
      auto optimizer = make_optimizer(name);
      for (int s = 0; s < kWarmupSteps; ++s) optimizer->apply(grads, variables);
      std::vector<double> rounds;
      for (int r = 0; r < args.rounds; ++r) {
        const auto start = std::chrono::steady_clock::now();
        for (int s = 0; s < args.steps; ++s) optimizer->apply(grads, variables);
        rounds.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
                         args.steps);
      }
      strata_ms[name] = median(rounds);
      std::cerr << "strata " << name << " ms/step per round:";
      for (double ms : rounds) std::cerr << ' ' << round4(ms);
      std::cerr << '\n';
    }

    std::map<std::string, nlohmann::json> torch_lines;
    std::string skip_reason = "--no-python";
    if (args.run_python) {
      std::string names;
      for (const auto& name : args.optimizers) names += (names.empty() ? "" : ",") + name;
      auto run = strata::bench::run_python_script(
          args.python, "optimizer_baseline.py",
          {"--optimizers", names, "--steps", std::to_string(args.steps), "--warmup", std::to_string(kWarmupSteps),
           "--rounds", std::to_string(args.rounds), "--threads", std::to_string(args.threads)});
      for (const auto& text : run.json_lines) {
        auto parsed = nlohmann::json::parse(text);
        if (parsed.contains("optimizer") && parsed.contains("ms_per_step"))
          torch_lines[parsed.at("optimizer").get<std::string>()] = parsed;
      }
      skip_reason = run.reason.empty() ? "optimizer_baseline.py printed no timing for it" : run.reason;
    }

    for (const auto& name : args.optimizers) {
      nlohmann::json line = {{"bench", "optimizer_step"},
                             {"optimizer", name},
                             {"parameters", parameters},
                             {"strata_ms_per_step", round4(strata_ms[name])},
                             {"baseline", "torch_optim_foreach"}};
      auto it = torch_lines.find(name);
      if (it != torch_lines.end()) {
        const double baseline = it->second.at("ms_per_step").get<double>();
        line["baseline_ms_per_step"] = round4(baseline);
        line["ratio"] = round4(strata_ms[name] / baseline);
        line["torch_version"] = it->second.value("torch_version", "");
      } else {
        line["skipped"] = true;
        line["reason"] = skip_reason;
      }
      line["threads"] = args.threads;
      line["steps"] = args.steps;
      std::cout << line.dump() << std::endl;
    }
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "optimizer_bench: " << error.what() << '\n';
    return 1;
  }
}
