// Keras' functional API with two inputs, two outputs and a shared layer, on Fashion-MNIST:
//   input "left"  = the left half of each image (28 x 14)
//   input "right" = the right half, mirrored, so it looks like a left half (28 x 14)
//   each -> Flatten -> the same Dense(128, relu) "shared_encoder" (one set of weights, called twice)
//   -> Concatenate -> Dense(64, relu) -> output "label"    = Dense(10) logits: the clothing class
//                                    -> output "footwear" = Dense(1, sigmoid): sandal, sneaker or ankle boot?
// compile() takes a loss, a loss weight and metrics per output name, fit() takes the data by name, and the
// History and evaluate() report each output's entries under Keras' names ("label_loss",
// "val_footwear_accuracy"). The second target has a known answer (it follows from the label), and an easier
// one: the footwear head should be nearly always right, and at least as often as the label head.
// `--smoke` trains on a small subset for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <ATen/ATen.h>

#include "example_cli.h"

namespace {

using namespace strata;

// The two image halves, by input name: the right half is mirrored so the shared encoder sees two left halves.
ModelData halves(const at::Tensor& images) {
  return {{"left", images.narrow(2, 0, 14).contiguous()}, {"right", images.narrow(2, 14, 14).flip({2}).contiguous()}};
}

// The targets, by output name. Fashion-MNIST's footwear classes: 5 sandal, 7 sneaker, 9 ankle boot.
ModelData targets(const at::Tensor& labels) {
  const at::Tensor footwear = (labels.eq(5) | labels.eq(7) | labels.eq(9)).to(at::kFloat).unsqueeze(1);
  return {{"label", labels}, {"footwear", footwear}};
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/10);
    const auto data = examples::load_data(args, {.train = 2000, .test = 1000});

    auto left = Input({28, 14}, {.name = "left"});
    auto right = Input({28, 14}, {.name = "right"});
    // One layer object called on both inputs: both calls read and train the same kernel and bias.
    auto encoder = share(layers::Dense(128, {.activation = "relu", .name = "shared_encoder"}));
    auto left_code = (*encoder)(layers::Flatten("flatten_left")(left));
    auto right_code = (*encoder)(layers::Flatten("flatten_right")(right));
    auto merged = layers::Concatenate(-1, {.name = "merge"})({left_code, right_code});
    auto hidden = layers::Dense(64, {.activation = "relu", .name = "hidden"})(merged);
    auto label = layers::Dense(10, {.name = "label"})(hidden);
    auto footwear = layers::Dense(1, {.activation = "sigmoid", .name = "footwear"})(hidden);
    Model model({left, right}, {label, footwear}, "two_halves");
    model.summary();

    model.compile({
        .optimizer = optimizers::Adam({.learning_rate = 1e-3}),
        .loss = {{"label", losses::SparseCategoricalCrossentropy({.from_logits = true})},
                 {"footwear", losses::BinaryCrossentropy()}},
        .metrics = {{"label", {"accuracy"}}, {"footwear", {"accuracy"}}},
        // The footwear question is easier; it counts half as much in the total loss.
        .loss_weights = {{"label", 1.0}, {"footwear", 0.5}},
    });
    const callbacks::History history =
        model.fit(halves(data.x_train), targets(data.y_train),
                  {.batch_size = args.batch_size, .epochs = args.epochs, .validation_split = 0.1});

    std::printf("\nHistory, last epoch:\n");
    for (const auto& [key, values] : history.history) std::printf("  %-24s %.4f\n", key.c_str(), values.back());

    const Logs test = model.evaluate(halves(data.x_test), targets(data.y_test), {.batch_size = 512, .verbose = 0});
    std::printf("\nTest results:\n");
    for (const auto& [key, value] : test) std::printf("  %-24s %.4f\n", key.c_str(), value);

    // predict_outputs() returns one tensor per output, in the order the model was built with.
    const Tensors predicted = model.predict_outputs(halves(data.x_test.narrow(0, 0, 8)), {.verbose = 0});
    std::printf("\nFirst test images: label (predicted), footwear probability\n");
    for (int64_t i = 0; i < 8; ++i)
      std::printf("  %lld (%lld)  %.3f\n", static_cast<long long>(data.y_test[i].item<int64_t>()),
                  static_cast<long long>(predicted[0][i].argmax().item<int64_t>()), predicted[1][i][0].item<double>());
  });
}
