// Trains a small convolutional network on Fashion-MNIST, the way a Keras user would:
//   Input(28, 28) -> Reshape(28, 28, 1)
//   -> Conv2D(32, 3, same) -> BatchNormalization -> relu -> MaxPooling2D
//   -> Conv2D(64, 3, same) -> BatchNormalization -> relu -> MaxPooling2D
//   -> Flatten -> Dropout(0.3) -> Dense(128, relu) -> Dropout(0.3) -> Dense(10)
// with Adam at 1e-3, dropped tenfold for the last third of the epochs (a learning-rate schedule callback, as
// Keras' LearningRateScheduler), and reports the test loss and accuracy. `--smoke` trains on a small subset
// for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include "example_cli.h"

namespace {

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
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/12);
    const auto data = examples::load_data(args, {.train = 2000, .test = 1000});

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
    const int drop_epoch = args.epochs - args.epochs / 3;
    LearningRateScheduler schedule([drop_epoch](int epoch, double lr) { return epoch == drop_epoch ? lr / 10 : lr; });
    // The test set doubles as validation data: it is only watched, never trained on.
    model.fit(data.x_train, data.y_train,
              {.batch_size = args.batch_size,
               .epochs = args.epochs,
               .callbacks = {schedule},
               .validation_data = {data.x_test, data.y_test}});
    examples::print_test_results(model, data);
  });
}
