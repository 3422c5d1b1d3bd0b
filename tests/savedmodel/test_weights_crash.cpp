// A process killed while saving leaves the previous complete file: a child saves a ~3M-parameter model over the
// same path again and again, alternating between two weight states, and is SIGKILLed after a random delay.
// The file at the path must then load and equal one of the two states.

#include <ATen/ATen.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/models/sequential.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <random>
#include <sys/wait.h>
#include <thread>

#include "temp_dir.h"

using namespace strata;
using strata::test_support::TempDir;

namespace {

std::shared_ptr<Model> big_model() {
  return std::make_shared<Sequential>(std::vector<LayerRef>{Input({1000}), layers::Dense(1000), layers::Dense(1000),
                                                            layers::Dense(1000)});
}

// Copies values with memcpy: the forked child must not start ATen's thread pool (not fork-safe).
void copy_into(const std::vector<at::Tensor>& targets, const std::vector<at::Tensor>& values) {
  for (size_t i = 0; i < targets.size(); ++i)
    std::memcpy(targets[i].data_ptr(), values[i].data_ptr(), values[i].numel() * values[i].element_size());
}

}  // namespace

TEST_CASE("a save killed mid-write leaves a complete earlier file at the path", "[savedmodel][crash]") {
  TempDir dir;
  auto model = big_model();
  REQUIRE(model->count_params() > 3'000'000);
  const std::vector<at::Tensor> weights = model->weights();
  std::vector<std::vector<at::Tensor>> states;
  for (int s = 0; s < 2; ++s) {
    std::vector<at::Tensor> state;
    for (const auto& w : weights) state.push_back(at::full(w.sizes(), static_cast<double>(s + 1)));
    states.push_back(state);
  }
  std::mt19937 random(11);
  for (const std::string suffix : {".h5", ".weights.h5"}) {
    const std::string path = dir.file("big" + suffix);
    copy_into(weights, states[0]);
    model->save_weights(path);
    for (int round = 0; round < 3; ++round) {
      const pid_t child = ::fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        try {
          for (int i = 0;; ++i) {
            copy_into(weights, states[i % 2]);
            model->save_weights(path);
          }
        } catch (...) {
          ::_exit(1);  // never return into the test runner from the child
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30 + random() % 300));
      ::kill(child, SIGKILL);
      int status = 0;
      ::waitpid(child, &status, 0);
      REQUIRE(WIFSIGNALED(status));

      auto loaded = big_model();
      loaded->load_weights(path);
      const auto first = loaded->weights().front();
      const double value = first.flatten()[0].item<double>();
      INFO(suffix << " round " << round << ": the file holds state " << value);
      REQUIRE((value == 1.0 || value == 2.0));
      for (const auto& w : loaded->weights()) CHECK(at::equal(w, at::full_like(w, value)));
      // A killed save may leave its temporary file; it has a name of its own and never replaces the file.
      for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        const std::string name = entry.path().filename().string();
        if (name.find(".tmp.") != std::string::npos) {
          CHECK(name.front() == '.');
          std::filesystem::remove(entry.path());
        }
      }
    }
  }
}
