#pragma once
// Models for the weights-file tests, built like the Keras scripts that the layout facts were taken from (Keras 3.15
// and tf.keras 2.15 save_weights on the same architectures), with every weight set to distinct random values.

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <strata/core/naming.h>
#include <strata/layers/attention.h>
#include <strata/layers/convolutional.h>
#include <strata/layers/dense.h>
#include <strata/layers/embedding.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/normalization.h>
#include <strata/layers/recurrent.h>
#include <strata/layers/reshaping.h>
#include <strata/layers/wrappers.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>

#include <memory>

namespace strata::test_support {

inline void randomize(Model& model, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto w : model.weights()) w.copy_(at::rand(w.sizes(), gen) + 0.5);  // positive: valid BN variances
}

// Input (6, 4) -> LSTM -> GRU -> SimpleRNN -> Bidirectional(LSTM) -> TimeDistributed(Dense) -> MultiHeadAttention
// -> LayerNormalization -> nested Sequential [Dense, BatchNormalization] -> Dense(2).
inline std::shared_ptr<Model> recurrent_zoo() {
  auto input = Input({6, 4});
  auto x = layers::LSTM(3, {.return_sequences = true})(input);
  x = layers::GRU(3, {.return_sequences = true})(x);
  x = layers::SimpleRNN(3, {.return_sequences = true})(x);
  x = layers::Bidirectional(layers::LSTM(2, {.return_sequences = true}))(x);
  x = layers::TimeDistributed(layers::Dense(4))(x);
  x = layers::MultiHeadAttention(2, 3)({x, x}).front();
  x = layers::LayerNormalization()(x);
  x = Sequential({layers::Dense(5), layers::BatchNormalization()})(x);
  x = layers::Dense(2)(x);
  return std::make_shared<Model>(input, x);
}

// Sequential: Conv2D -> BatchNormalization -> Flatten -> Dense, on (8, 8, 3) images.
inline std::shared_ptr<Model> conv_stack() {
  return std::make_shared<Sequential>(std::vector<LayerRef>{Input({8, 8, 3}), layers::Conv2D(2, 3),
                                                            layers::BatchNormalization(), layers::Flatten(),
                                                            layers::Dense(3)});
}

// Sequential: Embedding(10, 4) -> Dense(3) -> Dense(2) on int32 token ids of length 5.
inline std::shared_ptr<Model> embedding_stack() {
  return std::make_shared<Sequential>(std::vector<LayerRef>{Input({5}, {.dtype = "int32"}), layers::Embedding(10, 4),
                                                            layers::Dense(3), layers::Dense(2)});
}

}  // namespace strata::test_support
