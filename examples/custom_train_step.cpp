// Keras' "customizing what happens in fit()" guide in C++: a GAN whose train_step() (and test_step()) replace
// what fit() does per batch, while fit() keeps its loop, progress bar, callbacks and validation. On
// Fashion-MNIST:
//   generator:     latent (64) -> Dense(256) -> LeakyReLU(0.2) -> Dense(512) -> LeakyReLU(0.2)
//                  -> Dense(784, sigmoid) -> Reshape(28, 28)
//   discriminator: image -> Flatten -> Dense(512) -> LeakyReLU(0.2) -> Dense(256) -> LeakyReLU(0.2) -> Dense(1)
// Each step, as in the guide: the discriminator learns to tell generated images (label 1) from real ones
// (label 0), with a little noise on the labels; then the generator learns to make the discriminator answer
// "real". Two optimizers, and the model's own d_loss/g_loss trackers (track_metric) that fit() reports.
// A GANMonitor callback, as in the guide, shows generated images (as text) when training ends. As a sanity
// check, a small classifier trained on the real images then scores the generated images (an Inception Score
// with that classifier), against real test images and uniform noise. `--smoke` trains on a small subset for
// one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "example_cli.h"

namespace {

using namespace strata;

constexpr int64_t kLatentDim = 64;

class GAN : public Model {
 public:
  GAN() : Model("GAN") {
    discriminator_ = track(Sequential(
        {
            Input({28, 28}),
            layers::Flatten(),
            layers::Dense(512),
            layers::LeakyReLU(0.2),
            layers::Dense(256),
            layers::LeakyReLU(0.2),
            layers::Dense(1),
        },
        "discriminator"));
    generator_ = track(Sequential(
        {
            Input({kLatentDim}),
            layers::Dense(256),
            layers::LeakyReLU(0.2),
            layers::Dense(512),
            layers::LeakyReLU(0.2),
            layers::Dense(28 * 28, {.activation = "sigmoid"}),
            layers::Reshape({28, 28}),
        },
        "generator"));
    d_loss_tracker_ = track_metric(metrics::Mean("d_loss"));
    g_loss_tracker_ = track_metric(metrics::Mean("g_loss"));
  }

  // The guide's compile(d_optimizer, g_optimizer, loss_fn): the base compile() gets no loss, since
  // train_step() computes its own.
  void compile(optimizers::Spec d_optimizer, optimizers::Spec g_optimizer) {
    Model::compile({});
    d_optimizer_ = d_optimizer.ptr();
    g_optimizer_ = g_optimizer.ptr();
  }

  // The discriminator's logit ("how fake"), which is what predict() returns.
  at::Tensor call(const at::Tensor& images, bool training) override { return (*discriminator_)(images, training); }

  void train_step(const Batch& batch) override {
    const at::Tensor& real = batch.x.front();
    const int64_t n = real.size(0);

    // Train the discriminator on generated (1) and real (0) images; the generator is only sampled here.
    at::Tensor generated;
    {
      at::NoGradGuard sampling;
      generated = (*generator_)(at::randn({n, kLatentDim}), true);
    }
    const at::Tensor combined = at::cat({generated, real});
    // The guide's trick, noisy labels; pulled inward (1 - noise, 0 + noise) since the loss checks targets lie
    // in [0, 1].
    const at::Tensor noise = 0.05 * at::rand({2 * n, 1});
    const at::Tensor labels = at::cat({at::ones({n, 1}), at::zeros({n, 1})}) + at::cat({-noise.narrow(0, 0, n), noise.narrow(0, n, n)});
    at::Tensor d_loss;
    {
      GradientTape tape;
      d_loss = loss_fn_(labels, (*discriminator_)(combined, true));
      const auto weights = discriminator_->trainable_weights();
      d_optimizer_->apply(tape.gradient(d_loss, weights), weights);
    }

    // Train the generator to make the discriminator say "real" (0), updating only the generator's weights.
    at::Tensor g_loss;
    {
      GradientTape tape;
      const at::Tensor fooled = (*discriminator_)((*generator_)(at::randn({n, kLatentDim}), true), true);
      g_loss = loss_fn_(at::zeros({n, 1}), fooled);
      const auto weights = generator_->trainable_weights();
      g_optimizer_->apply(tape.gradient(g_loss, weights), weights);
    }

    d_loss_tracker_->update_state(d_loss.detach());
    g_loss_tracker_->update_state(g_loss.detach());
  }

  // Validation: the same two losses on held-out real images, without updating anything.
  void test_step(const Batch& batch) override {
    const at::Tensor& real = batch.x.front();
    const int64_t n = real.size(0);
    const at::Tensor generated = (*generator_)(at::randn({n, kLatentDim}), false);
    const at::Tensor labels = at::cat({at::ones({n, 1}), at::zeros({n, 1})});
    d_loss_tracker_->update_state(loss_fn_(labels, (*discriminator_)(at::cat({generated, real}), false)));
    g_loss_tracker_->update_state(loss_fn_(at::zeros({n, 1}), (*discriminator_)(generated, false)));
  }

  at::Tensor generate(const at::Tensor& latent) {
    at::NoGradGuard no_grad;
    return (*generator_)(latent, false);
  }

 private:
  std::shared_ptr<Sequential> discriminator_, generator_;
  std::shared_ptr<optimizers::Optimizer> d_optimizer_, g_optimizer_;
  const losses::BinaryCrossentropy loss_fn_{{.from_logits = true}};
  std::shared_ptr<metrics::Mean> d_loss_tracker_, g_loss_tracker_;
};

// Prints images of (n, 28, 28) in [0, 1] side by side as text, one character per 2 x 2 pixels.
void print_images(const at::Tensor& images) {
  const char* shades = " .:-=+*#%@";
  const at::Tensor small = at::avg_pool2d(images.unsqueeze(1), 2).squeeze(1).contiguous();  // (n, 14, 14)
  const auto pixels = small.accessor<float, 3>();
  for (int64_t row = 0; row < small.size(1); ++row) {
    std::string line;
    for (int64_t image = 0; image < small.size(0); ++image) {
      for (int64_t col = 0; col < small.size(2); ++col) {
        const int shade = std::clamp(static_cast<int>(pixels[image][row][col] * 10), 0, 9);
        line += std::string(2, shades[shade]);
      }
      line += "  ";
    }
    std::printf("  %s\n", line.c_str());
  }
}

// The guide's GANMonitor: shows what the generator makes from a fixed set of latent vectors.
class GANMonitor : public Callback {
 public:
  GANMonitor(GAN& gan, int64_t count) : gan_(gan), latent_(at::randn({count, kLatentDim})) {}

  void on_train_end(const Logs& logs) override {
    std::printf("\nGenerated images after training:\n");
    print_images(gan_.generate(latent_));
  }

 private:
  GAN& gan_;
  at::Tensor latent_;
};

// What a classifier of the real classes makes of `images`: the Inception Score computed with it,
// exp(mean KL(p(class | image) || p(class))), which is near 1 when every image gets the same answer or no
// confident answer and 10 when the images are confidently and evenly spread over the 10 classes; and how many
// classes the confident answers (probability above 0.9) cover.
void report_recognition(const char* what, Sequential& classifier, const at::Tensor& images) {
  const at::Tensor p = at::softmax(classifier.predict(images, {.batch_size = 512, .verbose = 0}), 1);
  const at::Tensor marginal = p.mean(0, /*keepdim=*/true);
  const double score = at::exp((p * (at::log(p + 1e-12) - at::log(marginal + 1e-12))).sum(1).mean()).item<double>();
  const auto [confidence, classes] = p.max(1);
  const at::Tensor confident = confidence.gt(0.9);
  const int64_t covered = at::bincount(classes.masked_select(confident), {}, 10).gt(0).sum().item<int64_t>();
  std::printf("  %-18s inception score %5.2f, confident on %5.1f%% covering %2lld of 10 classes, mean pixel %.3f\n",
              what, score, 100.0 * confident.to(at::kFloat).mean().item<double>(), static_cast<long long>(covered),
              images.mean().item<double>());
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/15);
    const auto data = examples::load_data(args, {.train = 2000, .test = 1000});

    GAN gan;
    gan.compile(optimizers::Adam({.learning_rate = 3e-4}), optimizers::Adam({.learning_rate = 3e-4}));
    GANMonitor monitor(gan, 4);
    // No targets: the images are the whole data set. Validation runs test_step() on the test images.
    gan.fit(data.x_train, {},
            {.batch_size = args.batch_size,
             .epochs = args.epochs,
             .callbacks = {monitor},
             .validation_data = {data.x_test}});

    std::printf("\nA classifier trained on the real images, shown:\n");
    Sequential classifier({Input({28, 28}), layers::Flatten(), layers::Dense(128, {.activation = "relu"}),
                           layers::Dense(10)});
    classifier.compile({.optimizer = "adam",
                        .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                        .metrics = {"accuracy"}});
    classifier.fit(data.x_train, data.y_train, {.batch_size = 128, .epochs = 3, .verbose = 0});
    const int64_t count = data.x_test.size(0);
    report_recognition("real test images:", classifier, data.x_test);
    report_recognition("generated images:", classifier, gan.generate(at::randn({count, kLatentDim})));
    report_recognition("uniform noise:", classifier, at::rand({count, 28, 28}));
  });
}
