// Trains a small convolutional network on Fashion-MNIST, the way a Keras user would:
//   Input(28, 28) -> Reshape(28, 28, 1)
//   -> Conv2D(32, 3, same) -> BatchNormalization -> relu -> MaxPooling2D
//   -> Conv2D(64, 3, same) -> BatchNormalization -> relu -> MaxPooling2D
//   -> Flatten -> Dropout(0.3) -> Dense(128, relu) -> Dropout(0.3) -> Dense(10)
// with Adam at 1e-3, dropped tenfold for the last third of the epochs (a learning-rate schedule callback, as
// Keras' LearningRateScheduler), and reports the test loss and accuracy. `--smoke` trains on a small subset
// for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <strata/strata.h>

namespace {

struct Args {
  int epochs = 12;
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

// Keras' LearningRateScheduler: before every epoch, sets the optimizer's learning rate to
// schedule(epoch, current learning rate).
class LearningRateScheduler : public strata::Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int, double)> schedule) : schedule_(std::move(schedule)) {}

  void on_epoch_begin(int epoch, const strata::Logs& logs) override {
    strata::optimizers::Optimizer& optimizer = model()->optimizer();
    optimizer.set_learning_rate(schedule_(epoch, optimizer.learning_rate()));
  }

 private:
  std::function<double(int, double)> schedule_;
};

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
      x_train = x_train.narrow(0, 0, 2000);
      y_train = y_train.narrow(0, 0, 2000);
      x_test = x_test.narrow(0, 0, 1000);
      y_test = y_test.narrow(0, 0, 1000);
      epochs = 1;
    }

    Sequential model({
        layers::Input({28, 28}),
        layers::Reshape({28, 28, 1}),
        layers::Conv2D(32, 3, {.padding = "same"}),
        layers::BatchNormalization(),
        layers::Activation("relu"),
        layers::MaxPooling2D(),
        layers::Conv2D(64, 3, {.padding = "same"}),
        layers::BatchNormalization(),
        layers::Activation("relu"),
        layers::MaxPooling2D(),
        layers::Flatten(),
        layers::Dropout(0.3),
        layers::Dense(128, {.activation = "relu"}),
        layers::Dropout(0.3),
        layers::Dense(10),
    });
    model.summary();

    model.compile({
        .optimizer = optimizers::Adam({.learning_rate = 1e-3}),
        .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
        .metrics = {"accuracy"},
    });
    // Large steps while the loss falls fast, then a tenfold smaller rate for the last third to settle.
    const int drop_epoch = epochs - epochs / 3;
    LearningRateScheduler schedule([drop_epoch](int epoch, double lr) { return epoch == drop_epoch ? lr / 10 : lr; });
    // The test set doubles as validation data: it is only watched, never trained on.
    model.fit(x_train, y_train,
              {.batch_size = args.batch_size, .epochs = epochs, .callbacks = {schedule}, .validation_data = {x_test, y_test}});

    const Logs test = model.evaluate(x_test, y_test, {.batch_size = 512, .verbose = 0});
    std::printf("Test loss: %.4f\nTest accuracy: %.4f\n", test.at("loss"), test.at("accuracy"));
    return 0;
  } catch (const strata::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
