#pragma once
// Reproducibility: one call seeds every random source Strata draws from (initializers, dropout,
// shuffling), as keras.utils.set_random_seed does.

#include <ATen/core/Generator.h>

#include <cstdint>
#include <optional>

namespace strata {

void set_random_seed(uint64_t seed);

// A generator for an object that was given its own seed, or the global one when it was not.
at::Generator generator_for(std::optional<uint64_t> seed);

}  // namespace strata
