// Trains a Dense network on Fashion-MNIST, the way a Keras user would:
//   Input(28, 28) -> Flatten -> Dense(512, relu) -> Dropout(0.2) -> Dense(256, relu) -> Dropout(0.2)
//   -> Dense(10)
// and reports the test loss and accuracy. It then saves the trained model as Keras 3's archive
// (fashion_mnist_mlp.keras, loadable by keras.models.load_model), loads it back and checks the copy predicts the
// same. `--smoke` trains on a small subset for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <ATen/ATen.h>

#include "example_cli.h"

int main(int argc, char** argv) {
  using namespace strata;
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/20);
    const auto data = examples::load_data(args, {.train = 6000, .test = 10000});

    Sequential model({
        layers::Input({28, 28}),
        layers::Flatten(),
        layers::Dense(512, {.activation = "relu"}),
        layers::Dropout(0.2),
        layers::Dense(256, {.activation = "relu"}),
        layers::Dropout(0.2),
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

    const std::string path = "fashion_mnist_mlp.keras";
    model.save(path);
    auto loaded = models::load_model(path);
    const bool same = at::equal(loaded->predict(data.x_test, {.batch_size = 512, .verbose = 0}),
                                model.predict(data.x_test, {.batch_size = 512, .verbose = 0}));
    std::printf("Saved %s; the reloaded model predicts %s\n", path.c_str(), same ? "identically" : "DIFFERENTLY");
    if (!same) throw StateError("the model loaded from " + path + " predicts differently");
  });
}
