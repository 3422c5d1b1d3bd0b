#pragma once
// Reproducibility: one call seeds every random source Strata draws from (initializers, dropout,
// shuffling), as keras.utils.set_random_seed does.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

namespace strata {

void set_random_seed(uint64_t seed);

// A generator for an object that was given its own seed, or the global one when it was not.
at::Generator generator_for(std::optional<uint64_t> seed);

// One number from the global generator, so set_random_seed() fixes whatever is seeded from it (fit()'s
// shuffling, an unseeded Dataset.shuffle).
uint64_t draw_seed();

// Puts the global generator's state back when it ends, so what runs while it lives (initialising MirroredStrategy's
// copies of a model) does not change the draws that follow.
class KeepGlobalRandomState {
 public:
  KeepGlobalRandomState();
  ~KeepGlobalRandomState();
  KeepGlobalRandomState(const KeepGlobalRandomState&) = delete;
  KeepGlobalRandomState& operator=(const KeepGlobalRandomState&) = delete;

 private:
  at::Tensor state_;
};

// The seed of round `round` (an epoch, a pass) of something seeded with `seed`: splitmix64, so neighbouring
// rounds get unrelated streams, and a round's stream depends on (seed, round) alone.
uint64_t round_seed(uint64_t seed, uint64_t round);

}  // namespace strata
