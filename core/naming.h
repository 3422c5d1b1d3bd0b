#pragma once
// Keras-style unique object names: the first Dense is "dense", the next "dense_1", and so on.

#include <string>

namespace strata {

// "BatchNormalization" -> "batch_normalization", "Conv2D" -> "conv2d".
std::string to_snake_case(const std::string& class_name);

// Returns `base` the first time it is asked for, then base_1, base_2, ...
std::string unique_name(const std::string& base);

// Forgets every name handed out, as keras.backend.clear_session() does.
void clear_session();

}  // namespace strata
