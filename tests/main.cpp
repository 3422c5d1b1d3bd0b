// The Catch2 entry point. CTest runs two test processes at once on a 2-core runner, so each uses one
// ATen thread: OpenMP threads that outnumber the cores spin-wait on each other and slow steps 20-fold.
#define CATCH_CONFIG_RUNNER
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  at::set_num_threads(1);
  return Catch::Session().run(argc, argv);
}
