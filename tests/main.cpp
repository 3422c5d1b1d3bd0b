// The Catch2 entry point. CTest runs two test processes at once on a 2-core runner, so each uses one
// ATen thread: OpenMP threads that outnumber the cores spin-wait on each other and slow steps 20-fold.
// ATen seeds its default generator differently in every process; a fixed seed makes each test's random
// data the same on every run, so a failure reproduces.
#define CATCH_CONFIG_RUNNER
#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  at::set_num_threads(1);
  at::manual_seed(20261125);
  return Catch::Session().run(argc, argv);
}
