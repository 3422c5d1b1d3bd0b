#pragma once
// The Fashion-MNIST CNN the benchmarks train (the CNN example's model, compiled with Adam and
// sparse categorical cross-entropy on logits), so every bench times the same network.

#include <strata/strata.h>

namespace strata::bench {

inline Sequential build_fashion_mnist_cnn() {
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
  model.compile({.optimizer = optimizers::Adam({.learning_rate = 1e-3}),
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .metrics = {"accuracy"}});
  return model;
}

}  // namespace strata::bench
