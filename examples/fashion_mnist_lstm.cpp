// Trains an LSTM on Fashion-MNIST, reading each image as a sequence of 28 rows of 28 pixels, the way a
// Keras user would:
//   Input(28, 28) -> LSTM(128) -> Dense(10)
// and reports the test loss and accuracy. `--smoke` trains on a small subset for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include "example_cli.h"

int main(int argc, char** argv) {
  using namespace strata;
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/10);
    const auto data = examples::load_data(args, {.train = 1000, .test = 500});

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
    model.fit(data.x_train, data.y_train,
              {.batch_size = args.batch_size, .epochs = args.epochs, .validation_data = {data.x_test, data.y_test}});
    examples::print_test_results(model, data);
  });
}
