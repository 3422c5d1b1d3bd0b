// Keras' "writing a training loop from scratch" guide in C++: instead of fit(), the program runs each step
// itself — forward under a GradientTape, loss, gradients with respect to trainable_weights(),
// optimizer.apply(grads, weights) — and keeps its own metrics, on Fashion-MNIST:
//   Input(28, 28) -> Flatten -> Dense(64, relu) -> Dense(64, relu) -> Dense(10)
// The last 10000 training images are held out for validation, as in the guide; the test set is used once,
// at the end. `--smoke` trains on a small subset for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <chrono>

#include "example_cli.h"

namespace {

using namespace strata;

// Accuracy of `model` on (x, y), batch by batch in inference mode; `metric` is reset afterwards.
double accuracy_on(Model& model, const at::Tensor& x, const at::Tensor& y, metrics::PredictionMetric& metric,
                   int64_t batch_size) {
  at::NoGradGuard no_grad;
  for (int64_t begin = 0; begin < x.size(0); begin += batch_size) {
    const int64_t size = std::min(batch_size, x.size(0) - begin);
    metric.update_state(y.narrow(0, begin, size), model(x.narrow(0, begin, size), /*training=*/false));
  }
  const double accuracy = metric.result().item<double>();
  metric.reset_state();
  return accuracy;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/5);
    const auto data = examples::load_data(args, {.train = 3000, .test = 1000});
    const int64_t num_val = data.x_train.size(0) / 6;  // 10000 of the 60000 images
    const int64_t num_train = data.x_train.size(0) - num_val;
    const at::Tensor x_train = data.x_train.narrow(0, 0, num_train),
                     y_train = data.y_train.narrow(0, 0, num_train);
    const at::Tensor x_val = data.x_train.narrow(0, num_train, num_val),
                     y_val = data.y_train.narrow(0, num_train, num_val);

    Sequential model({
        layers::Input({28, 28}),
        layers::Flatten(),
        layers::Dense(64, {.activation = "relu"}),
        layers::Dense(64, {.activation = "relu"}),
        layers::Dense(10),
    });
    optimizers::Adam optimizer({.learning_rate = 1e-3});
    const losses::SparseCategoricalCrossentropy loss_fn({.from_logits = true});
    metrics::Mean train_loss("loss");
    metrics::SparseCategoricalAccuracy train_acc_metric, val_acc_metric;
    const std::vector<at::Tensor> weights = model.trainable_weights();

    for (int epoch = 0; epoch < args.epochs; ++epoch) {
      std::printf("\nStart of epoch %d\n", epoch + 1);
      const auto start = std::chrono::steady_clock::now();
      const at::Tensor order = at::randperm(num_train, at::TensorOptions().dtype(at::kLong));
      int64_t step = 0;
      for (int64_t begin = 0; begin < num_train; begin += args.batch_size, ++step) {
        const at::Tensor index = order.narrow(0, begin, std::min(args.batch_size, num_train - begin));
        const at::Tensor x_batch = x_train.index_select(0, index), y_batch = y_train.index_select(0, index);

        at::Tensor logits, loss;
        std::vector<at::Tensor> grads;
        {
          GradientTape tape;  // records the forward pass for the gradient below
          logits = model(x_batch, /*training=*/true);
          loss = loss_fn(y_batch, logits);
          for (const auto& penalty : model.losses()) loss = loss + penalty;  // regularizers, add_loss()
          grads = tape.gradient(loss, weights);
        }
        optimizer.apply(grads, weights);

        train_loss.update_state(loss.detach());
        train_acc_metric.update_state(y_batch, logits.detach());
        if (step % 100 == 0)
          std::printf("Training loss (for one batch) at step %lld: %.4f (%lld samples seen)\n",
                      static_cast<long long>(step), loss.item<double>(),
                      static_cast<long long>(begin + index.size(0)));
      }
      std::printf("Training loss over epoch: %.4f\n", train_loss.result().item<double>());
      std::printf("Training acc over epoch: %.4f\n", train_acc_metric.result().item<double>());
      train_loss.reset_state();
      train_acc_metric.reset_state();

      std::printf("Validation acc: %.4f\n", accuracy_on(model, x_val, y_val, val_acc_metric, 512));
      const std::chrono::duration<double> taken = std::chrono::steady_clock::now() - start;
      std::printf("Time taken: %.2fs\n", taken.count());
    }
    std::printf("\nTest accuracy: %.4f\n", accuracy_on(model, data.x_test, data.y_test, val_acc_metric, 512));
  });
}
