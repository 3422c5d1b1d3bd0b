// The Catch2 entry point; ATen runs on two threads so the suite behaves alike on every 2-core runner.
#define CATCH_CONFIG_RUNNER
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  at::set_num_threads(2);
  return Catch::Session().run(argc, argv);
}
