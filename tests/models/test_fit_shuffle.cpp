// fit()'s shuffled order: epoch e's permutation depends only on a seed drawn when fit() starts and on e, so a
// fit() resumed at initial_epoch after the same set_random_seed sees the batches the uninterrupted run saw.

#include <ATen/ATen.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/models/sequential.h>

#include <catch2/catch.hpp>

using namespace strata;

namespace {

// Records the first input of every training batch it sees.
class Recorder : public Sequential {
 public:
  Recorder() : Sequential({layers::Input({1}), layers::Dense(1)}) {}
  void train_step(const Batch& batch) override {
    seen.push_back(batch.x.front().clone());
    Sequential::train_step(batch);
  }
  std::vector<at::Tensor> seen;
};

// Sample i's single feature is i, so a batch shows which samples it holds.
const at::Tensor kX = at::arange(10, at::kFloat).reshape({10, 1});
const at::Tensor kY = at::arange(10, at::kFloat).reshape({10, 1}) * 0.1;

std::shared_ptr<Recorder> compiled() {
  set_random_seed(3);
  auto model = std::make_shared<Recorder>();
  model->compile({.optimizer = "sgd", .loss = "mse"});
  return model;
}

void check_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(at::equal(a[i], b[i]));
}

}  // namespace

TEST_CASE("fit resumed at initial_epoch shuffles the remaining epochs as the uninterrupted run",
          "[models][fit][shuffle][serialization]") {
  auto whole = compiled();
  set_random_seed(42);
  whole->fit(kX, kY, {.batch_size = 4, .epochs = 4, .verbose = 0});
  REQUIRE(whole->seen.size() == 12);  // 3 batches per epoch

  auto resumed = compiled();
  set_random_seed(42);
  resumed->fit(kX, kY, {.batch_size = 4, .epochs = 2, .verbose = 0});
  set_random_seed(42);
  resumed->fit(kX, kY, {.batch_size = 4, .epochs = 4, .verbose = 0, .initial_epoch = 2});
  check_same(resumed->seen, whole->seen);
  check_same(resumed->get_weights(), whole->get_weights());

  // Epochs are shuffled differently from each other, and another seed gives another order.
  CHECK_FALSE(at::equal(at::cat({whole->seen[0], whole->seen[1]}), at::cat({whole->seen[3], whole->seen[4]})));
  auto other = compiled();
  set_random_seed(43);
  other->fit(kX, kY, {.batch_size = 4, .epochs = 1, .verbose = 0});
  CHECK_FALSE(at::equal(at::cat({other->seen[0], other->seen[1]}), at::cat({whole->seen[0], whole->seen[1]})));
}

TEST_CASE("each epoch of a shuffled fit sees every sample once", "[models][fit][shuffle]") {
  auto model = compiled();
  model->fit(kX, kY, {.batch_size = 4, .epochs = 2, .verbose = 0});
  for (size_t epoch = 0; epoch < 2; ++epoch) {
    const at::Tensor all = at::cat({model->seen[3 * epoch], model->seen[3 * epoch + 1], model->seen[3 * epoch + 2]});
    CHECK(at::equal(std::get<0>(all.reshape({-1}).sort()), kX.reshape({-1})));
  }
}
