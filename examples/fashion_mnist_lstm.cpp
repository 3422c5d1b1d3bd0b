// Trains an LSTM on Fashion-MNIST, reading each image as a sequence of 28 rows of 28 pixels, the way a
// Keras user would:
//   Input(28, 28) -> LSTM(128) -> Dense(10)
// and reports the test loss and accuracy. `--smoke` trains on a small subset for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <strata/strata.h>

namespace {

struct Args {
  int epochs = 10;
  int64_t batch_size = 128;
  int threads = 2;
  std::string data = strata::datasets::fashion_mnist::kDefaultPath;
  bool smoke = false;
};

Args parse_args(int argc, char** argv) {
  Args args;
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
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  try {
    const Args args = parse_args(argc, argv);
    at::set_num_threads(args.threads);
    set_random_seed(42);

    auto [x_train, y_train, x_test, y_test] = datasets::fashion_mnist::load(args.data);
    int epochs = args.epochs;
    if (args.smoke) {
      x_train = x_train.narrow(0, 0, 1000);
      y_train = y_train.narrow(0, 0, 1000);
      x_test = x_test.narrow(0, 0, 500);
      y_test = y_test.narrow(0, 0, 500);
      epochs = 1;
    }

    Sequential model({
        layers::Input({28, 28}),  // (timesteps, features): one image row per step
        layers::LSTM(128),
        layers::Dense(10),
    });
    model.summary();

    model.compile({
        .optimizer = optimizers::Adam({.learning_rate = 1e-3}),
        .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
        .metrics = {"accuracy"},
    });
    // The test set doubles as validation data: it is only watched, never trained on.
    model.fit(x_train, y_train, {.batch_size = args.batch_size, .epochs = epochs, .validation_data = {x_test, y_test}});

    const Logs test = model.evaluate(x_test, y_test, {.batch_size = 512, .verbose = 0});
    std::printf("Test loss: %.4f\nTest accuracy: %.4f\n", test.at("loss"), test.at("accuracy"));
    return 0;
  } catch (const strata::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
