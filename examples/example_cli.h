#pragma once
// What the Fashion-MNIST examples share, so each example file is only its model and training:
// the command line (--epochs N, --batch-size N, --threads N, --data DIR, --smoke), the data (cut to a
// small subset for one epoch with --smoke, which CI runs), and reporting a strata::Error as exit code 1.
// Copy this header along with an example you use as a template.

#include <ATen/Parallel.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <strata/strata.h>

namespace examples {

struct Args {
  int epochs;
  int64_t batch_size = 128;
  int threads = 2;
  std::string data = strata::datasets::fashion_mnist::kDefaultPath;
  bool smoke = false;
};

inline Args parse_args(int argc, char** argv, int default_epochs) {
  Args args{.epochs = default_epochs};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw strata::ValueError("option " + arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--smoke") args.smoke = true;
    else if (arg == "--epochs") args.epochs = std::stoi(value());
    else if (arg == "--batch-size") args.batch_size = std::stoll(value());
    else if (arg == "--threads") args.threads = std::stoi(value());
    else if (arg == "--data") args.data = value();
    else throw strata::ValueError("unknown option '" + arg + "'; expected --epochs, --batch-size, --threads, --data, --smoke");
  }
  if (args.smoke) args.epochs = 1;
  return args;
}

// How much data --smoke keeps.
struct SmokeSubset {
  int64_t train;
  int64_t test;
};

// Sets the threads and the seed, then loads Fashion-MNIST (the subset with --smoke).
inline strata::datasets::fashion_mnist::Data load_data(const Args& args, SmokeSubset smoke) {
  at::set_num_threads(args.threads);
  strata::set_random_seed(42);
  auto data = strata::datasets::fashion_mnist::load(args.data);
  if (args.smoke) {
    data.x_train = data.x_train.narrow(0, 0, smoke.train);
    data.y_train = data.y_train.narrow(0, 0, smoke.train);
    data.x_test = data.x_test.narrow(0, 0, smoke.test);
    data.y_test = data.y_test.narrow(0, 0, smoke.test);
  }
  return data;
}

inline void print_test_results(strata::Model& model, const strata::datasets::fashion_mnist::Data& data) {
  const strata::Logs test = model.evaluate(data.x_test, data.y_test, {.batch_size = 512, .verbose = 0});
  std::printf("Test loss: %.4f\nTest accuracy: %.4f\n", test.at("loss"), test.at("accuracy"));
}

// Runs `body`, turning a strata::Error into a message on stderr and exit code 1.
inline int run(const std::function<void()>& body) {
  try {
    body();
    return 0;
  } catch (const strata::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace examples
