// A subclassed model, as in Keras' "making new layers and models via subclassing" guide, on Fashion-MNIST:
// a user class derives from Model, creates its layers as members (track()), and overrides call():
//   Flatten -> Dense(256, relu) -> ResidualBlock -> ResidualBlock -> Dropout(0.2) -> Dense(10)
// ResidualBlock is a user Layer too: out = x + scale * Dense(256)(Dense(512, relu)(x)), where `scale` is its
// own weight (one per feature, made with add_weight in build(), starting at 0.1 so each block begins close
// to the identity) and the Dense layers are tracked sub-layers. Nothing is registered beyond that: fit,
// evaluate, predict, summary(), get_weights and set_weights see every weight. The example ends by copying
// the trained weights into a fresh instance and checking it predicts the same. `--smoke` trains on a small
// subset for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <ATen/ATen.h>

#include "example_cli.h"

namespace {

using namespace strata;

class ResidualBlock : public Layer {
 public:
  ResidualBlock(int64_t width, int64_t hidden, std::string name = "")
      : Layer("ResidualBlock", std::move(name)), width_(width) {
    expand_ = track(layers::Dense(hidden, {.activation = "relu"}));
    project_ = track(layers::Dense(width));
  }

  at::Tensor call(const at::Tensor& x, bool training) override {
    return x + scale_ * (*project_)((*expand_)(x, training), training);
  }

 protected:
  void build(const Shape& input_shape) override {
    if (input_shape.back() != width_)
      throw ShapeError(describe() + ": expected inputs with " + std::to_string(width_) + " features, got shape " +
                       format_shape(input_shape));
    scale_ = add_weight("scale", {width_}, initializers::Constant(0.1));
  }

 private:
  int64_t width_;
  at::Tensor scale_;
  std::shared_ptr<layers::Dense> expand_, project_;
};

class FashionClassifier : public Model {
 public:
  explicit FashionClassifier(std::string name = "") : Model("FashionClassifier", std::move(name)) {
    flatten_ = track(layers::Flatten());
    stem_ = track(layers::Dense(256, {.activation = "relu"}));
    block_1_ = track(ResidualBlock(256, 512));
    block_2_ = track(ResidualBlock(256, 512));
    dropout_ = track(layers::Dropout(0.2));
    head_ = track(layers::Dense(10));
  }

  at::Tensor call(const at::Tensor& images, bool training) override {
    at::Tensor x = (*stem_)((*flatten_)(images, training), training);
    x = (*block_2_)((*block_1_)(x, training), training);
    return (*head_)((*dropout_)(x, training), training);
  }

 private:
  std::shared_ptr<layers::Flatten> flatten_;
  std::shared_ptr<layers::Dense> stem_, head_;
  std::shared_ptr<ResidualBlock> block_1_, block_2_;
  std::shared_ptr<layers::Dropout> dropout_;
};

}  // namespace

int main(int argc, char** argv) {
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/10);
    const auto data = examples::load_data(args, {.train = 2000, .test = 1000});

    FashionClassifier model;
    // A subclassed model builds on its first call; one image is enough for summary() to know every shape.
    model(data.x_train.narrow(0, 0, 1));
    model.summary();

    model.compile({
        .optimizer = optimizers::Adam({.learning_rate = 1e-3}),
        .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
        .metrics = {"accuracy"},
    });
    model.fit(data.x_train, data.y_train,
              {.batch_size = args.batch_size, .epochs = args.epochs, .validation_split = 0.1});
    examples::print_test_results(model, data);

    // The weights in Keras' order: each layer's own, then its sub-layers', recursively.
    std::printf("\nWeights of the first residual block:\n");
    for (const Variable& variable : model.get_layer("residual_block")->variables())
      std::printf("  %-28s %s\n", variable.name.c_str(), format_dims(variable.value.sizes()).c_str());

    // get_weights / set_weights: a second instance, built by one call, takes the trained weights.
    FashionClassifier copy("fashion_classifier_copy");
    copy(data.x_test.narrow(0, 0, 1));
    copy.set_weights(model.get_weights());
    const at::Tensor original = model.predict(data.x_test, {.batch_size = 512, .verbose = 0});
    const at::Tensor copied = copy.predict(data.x_test, {.batch_size = 512, .verbose = 0});
    std::printf("\nset_weights(get_weights()) into a new instance: %zu arrays, largest output difference %.3g\n",
                model.get_weights().size(), (original - copied).abs().max().item<double>());
  });
}
