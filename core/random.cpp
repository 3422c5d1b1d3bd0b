#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <strata/core/random.h>

namespace strata {

void set_random_seed(uint64_t seed) { at::manual_seed(seed); }

at::Generator generator_for(std::optional<uint64_t> seed) {
  if (seed) return at::detail::createCPUGenerator(*seed);
  return at::detail::getDefaultCPUGenerator();
}

}  // namespace strata
