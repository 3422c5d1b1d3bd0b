#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/ATen.h>
#include <strata/core/random.h>

#include <limits>

namespace strata {

void set_random_seed(uint64_t seed) { at::manual_seed(seed); }

at::Generator generator_for(std::optional<uint64_t> seed) {
  if (seed) return at::detail::createCPUGenerator(*seed);
  return at::detail::getDefaultCPUGenerator();
}

uint64_t draw_seed() {
  return static_cast<uint64_t>(at::randint(std::numeric_limits<int64_t>::max(), {}, at::kLong).item<int64_t>());
}

KeepGlobalRandomState::KeepGlobalRandomState() : state_(at::detail::getDefaultCPUGenerator().get_state()) {}
KeepGlobalRandomState::~KeepGlobalRandomState() {
  at::Generator global = at::detail::getDefaultCPUGenerator();
  global.set_state(state_);
}

uint64_t round_seed(uint64_t seed, uint64_t round) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (round + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace strata
