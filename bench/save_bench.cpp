// Save and load time and file size of Model::save_weights / load_weights for a ~9.5M-parameter Dense stack
// (1024 -> 2048 -> 2048 -> 1024 -> 1024), in both layouts (Keras 3 ".weights.h5" and tf.keras ".h5"), against
// torch.save / torch.load of the same tensors (bench/save_baseline.py) in the same run and directory.
// Strata's saves are atomic (temporary file, fsync, rename, directory fsync), so torch's figures are given
// with and without an fsync.
//
// Prints one JSON object per layout on stdout:
//   {"bench":"save_weights","layout":"keras3","parameters":P,"save_ms":..,"load_ms":..,"bytes":..,
//    "torch_save_ms":..,"torch_save_fsync_ms":..,"torch_load_ms":..,"torch_bytes":..,
//    "save_ratio":..,"save_ratio_vs_fsync":..,"load_ratio":..,"size_ratio":..}
// (torch fields absent, "skipped_torch" with a reason, when the Python baseline cannot run).
//
// Options: --dir D (a scratch directory, default /tmp), --rounds R (5), --threads N (2),
//          --python PATH (/usr/bin/python3), --no-python.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <strata/strata.h>

#include "bench_options.h"
#include "torch_baseline.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using strata::bench::median;
using strata::bench::round4;

struct Args {
  std::string dir = "/tmp";
  int rounds = 5;
  int threads = 2;
  std::string python = "/usr/bin/python3";
  bool run_python = true;
};

Args parse_args(int argc, char** argv) {
  Args args;
  const auto take = [&](const std::string& arg, const strata::bench::OptionValue& value) {
    if (arg == "--dir") args.dir = value();
    else if (arg == "--rounds") args.rounds = std::stoi(value());
    else if (arg == "--threads") args.threads = std::stoi(value());
    else if (arg == "--python") args.python = value();
    else if (arg == "--no-python") args.run_python = false;
    else return false;
    return true;
  };
  strata::bench::parse_options(argc, argv, "--dir, --rounds, --threads, --python, --no-python", take);
  return args;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  const Args args = parse_args(argc, argv);
  at::set_num_threads(args.threads);
  Sequential model({Input({1024}), layers::Dense(2048), layers::Dense(2048), layers::Dense(1024), layers::Dense(1024)});
  const std::filesystem::path dir =
      std::filesystem::path(args.dir) / ("strata_save_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  std::string shapes;
  for (const auto& w : model.weights()) {
    std::string shape;
    for (auto d : w.sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(d);
    shapes += (shapes.empty() ? "" : ",") + shape;
  }
  nlohmann::json torch;
  std::string torch_reason = "--no-python";
  if (args.run_python) {
    auto run = bench::run_python_script(args.python, "save_baseline.py",
                                        {"--dir", dir.string(), "--rounds", std::to_string(args.rounds), "--shapes",
                                         shapes, "--threads", std::to_string(args.threads)});
    if (run.reason.empty() && !run.json_lines.empty()) torch = nlohmann::json::parse(run.json_lines.back());
    else torch_reason = run.reason;
  }

  Sequential loaded({Input({1024}), layers::Dense(2048), layers::Dense(2048), layers::Dense(1024), layers::Dense(1024)});
  for (const std::string layout : {"keras3", "legacy"}) {
    const std::string path = (dir / (layout == "keras3" ? "model.weights.h5" : "model.h5")).string();
    std::vector<double> save, load;
    for (int round = 0; round < args.rounds; ++round) {
      auto start = std::chrono::steady_clock::now();
      model.save_weights(path);
      save.push_back(ms_since(start));
      start = std::chrono::steady_clock::now();
      loaded.load_weights(path);
      load.push_back(ms_since(start));
    }
    nlohmann::json out = {{"bench", "save_weights"}, {"layout", layout},
                          {"parameters", model.count_params()}, {"save_ms", round4(median(save))},
                          {"load_ms", round4(median(load))}, {"bytes", std::filesystem::file_size(path)},
                          {"threads", args.threads}, {"rounds", args.rounds}};
    if (!torch.is_null()) {
      out["torch_save_ms"] = round4(torch["save_ms"].get<double>());
      out["torch_save_fsync_ms"] = round4(torch["save_fsync_ms"].get<double>());
      out["torch_load_ms"] = round4(torch["load_ms"].get<double>());
      out["torch_bytes"] = torch["bytes"];
      out["torch_version"] = torch["torch_version"];
      out["save_ratio"] = round4(median(save) / torch["save_ms"].get<double>());
      out["save_ratio_vs_fsync"] = round4(median(save) / torch["save_fsync_ms"].get<double>());
      out["load_ratio"] = round4(median(load) / torch["load_ms"].get<double>());
      out["size_ratio"] = round4(static_cast<double>(std::filesystem::file_size(path)) / torch["bytes"].get<double>());
    } else {
      out["skipped_torch"] = true;
      out["reason"] = torch_reason;
    }
    std::cout << out.dump() << std::endl;
  }
  std::filesystem::remove_all(dir);
  return 0;
}
