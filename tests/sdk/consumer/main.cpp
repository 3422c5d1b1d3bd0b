// Fits y = 3x - 1 with the installed SDK and prints the loss before and after, which the test checks.
#include <ATen/ATen.h>

#include <cstdio>
#include <strata/strata.h>

int main() {
  using namespace strata;
  set_random_seed(0);
  at::Tensor x = at::linspace(-1.0, 1.0, 64).unsqueeze(1);
  at::Tensor y = x * 3.0 - 1.0;

  Sequential model({layers::Input({1}), layers::Dense(1)});
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}), .loss = "mse"});
  const double before = model.evaluate(x, y, {.verbose = 0}).at("loss");
  model.fit(x, y, {.batch_size = 16, .epochs = 30, .verbose = 0});
  const double after = model.evaluate(x, y, {.verbose = 0}).at("loss");
  std::printf("consumer: trained, loss %.4f -> %.4f\n", before, after);
  return after < before * 0.01 ? 0 : 1;
}
