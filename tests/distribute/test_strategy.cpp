// The strategy's parts that need no second process: gradient buckets (with a stand-in all-reduce), the
// default strategy, scopes, and what compile() picks.

#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <strata/distribute/gradient_buckets.h>
#include <strata/strata.h>

#include <future>
#include <vector>

using namespace strata;
using distribute::GradientBuckets;

namespace {

// A two-layer network written with plain ATen ops: backward reaches w2/b2 before w1/b1.
struct Net {
  at::Tensor w1 = at::randn({4, 8}, at::kFloat).requires_grad_();
  at::Tensor b1 = at::randn({8}, at::kFloat).requires_grad_();
  at::Tensor w2 = at::randn({8, 3}, at::kFloat).requires_grad_();
  at::Tensor b2 = at::randn({3}, at::kFloat).requires_grad_();
  std::vector<at::Tensor> variables() const { return {w1, b1, w2, b2}; }
  at::Tensor loss(const at::Tensor& x) const { return (at::relu(x.matmul(w1) + b1).matmul(w2) + b2).pow(2).mean(); }
  void zero() const {
    for (auto v : variables()) v.mutable_grad().reset();
  }
};

}  // namespace

TEST_CASE("gradient buckets start their all-reduce during backward, in bucket order", "[distribute][buckets]") {
  at::manual_seed(1);
  Net net;
  const at::Tensor x = at::randn({5, 4});
  std::vector<size_t> started_sizes;
  bool backward_returned = false;
  std::vector<bool> started_after_backward;
  // Stands in for two identical replicas: the sum doubles every value.
  GradientBuckets buckets(net.variables(), /*bytes_per_pack=*/16, [&](at::Tensor flat) {
    started_sizes.push_back(static_cast<size_t>(flat.numel()));
    started_after_backward.push_back(backward_returned);
    flat.mul_(2);
    std::promise<void> done;
    done.set_value();
    return done.get_future();
  });
  // Reverse order, closed at >= 16 bytes: {b2 (3), w2 (24)}, {b1 (8)}, {w1 (32)}.
  REQUIRE(buckets.bucket_count() == 3);

  net.zero();
  buckets.arm();
  net.loss(x).backward();
  backward_returned = true;
  std::vector<at::Tensor> grads;
  for (const auto& v : net.variables()) grads.push_back(v.grad());
  std::vector<at::Tensor> reduced = grads;
  buckets.finish(reduced);

  CHECK(started_sizes == std::vector<size_t>{27, 8, 32});
  // Every bucket went out while backward was still running: communication overlaps computation.
  CHECK(started_after_backward == std::vector<bool>{false, false, false});
  for (size_t i = 0; i < grads.size(); ++i) CHECK(at::allclose(reduced[i], grads[i] * 2));
}

TEST_CASE("gradient buckets pack the given gradients when no hook delivered them, zeros for missing ones",
          "[distribute][buckets]") {
  at::manual_seed(2);
  Net net;
  int starts = 0;
  GradientBuckets buckets(net.variables(), 1 << 20, [&](at::Tensor flat) {
    ++starts;
    flat.mul_(3);
    std::promise<void> done;
    done.set_value();
    return done.get_future();
  });
  CHECK(buckets.bucket_count() == 1);
  // Not armed: backward's hooks leave the buckets alone; finish packs what it is given.
  net.zero();
  net.loss(at::randn({5, 4})).backward();
  CHECK(starts == 0);
  std::vector<at::Tensor> grads = {net.w1.grad(), at::Tensor(), net.w2.grad(), net.b2.grad()};
  const std::vector<at::Tensor> given = grads;
  buckets.finish(grads);
  CHECK(starts == 1);
  CHECK(at::allclose(grads[0], given[0] * 3));
  CHECK(at::equal(grads[1], at::zeros({8})));
  CHECK(at::allclose(grads[3], given[3] * 3));
  CHECK(buckets.covers(net.variables()));
  CHECK_FALSE(buckets.covers({net.w1, net.b1}));
}

TEST_CASE("a gradient arriving after its bucket was sent is an error, not a silent loss", "[distribute][buckets]") {
  at::manual_seed(3);
  Net net;
  GradientBuckets buckets(net.variables(), 4, [](at::Tensor) {
    std::promise<void> done;
    done.set_value();
    return done.get_future();
  });
  const at::Tensor x = at::randn({5, 4});
  net.zero();
  buckets.arm();
  net.loss(x).backward();
  CHECK_THROWS_WITH(net.loss(x).backward(), Catch::Contains("after its bucket's all-reduce had started"));
  buckets.discard();
}

TEST_CASE("the default strategy has one replica and changes nothing", "[distribute][strategy]") {
  const distribute::Strategy strategy = distribute::current_strategy();
  CHECK(strategy.class_name() == "OneDeviceStrategy");
  CHECK(strategy.num_replicas_in_sync() == 1);
  CHECK(strategy.is_chief());
  CHECK(strategy.replica_rows(7) == std::pair<int64_t, int64_t>{0, 7});
  const Batch batch{{at::arange(6).view({3, 2})}, {at::arange(3)}, {}};
  const Batch share = strategy.replica_batch(batch);
  CHECK(share.x[0].is_same(batch.x[0]));
  const at::Tensor loss = at::tensor(2.5);
  CHECK(strategy.replica_objective(loss).is_same(loss));
  std::vector<at::Tensor> tensors = {at::ones({2})};
  strategy.all_reduce_sum(tensors);
  CHECK(at::equal(tensors[0], at::ones({2})));
}

TEST_CASE("compile() takes the strategy of an open scope, or the one it is given", "[distribute][strategy]") {
  // Without a cluster in the environment, MultiWorkerMirroredStrategy is one worker (as tf's without TF_CONFIG).
  const distribute::MultiWorkerMirroredStrategy strategy({}, distribute::ClusterSpec{});
  CHECK(strategy.num_replicas_in_sync() == 1);
  Sequential scoped({layers::Input({3}), layers::Dense(2)});
  {
    auto scope = strategy.scope();
    CHECK(distribute::current_strategy().class_name() == "MultiWorkerMirroredStrategy");
    scoped.compile({.optimizer = "sgd", .loss = "mse"});
  }
  CHECK(distribute::current_strategy().class_name() == "OneDeviceStrategy");
  CHECK(scoped.distribute_strategy().class_name() == "MultiWorkerMirroredStrategy");

  Sequential given({layers::Input({3}), layers::Dense(2)});
  given.compile({.optimizer = "sgd", .loss = "mse", .strategy = strategy});
  CHECK(given.distribute_strategy().class_name() == "MultiWorkerMirroredStrategy");
  Sequential plain({layers::Input({3}), layers::Dense(2)});
  plain.compile({.optimizer = "sgd", .loss = "mse"});
  CHECK(plain.distribute_strategy().class_name() == "OneDeviceStrategy");
}

TEST_CASE("BatchNormalization's synchronized option round-trips and is inert with one replica",
          "[distribute][strategy][normalization]") {
  layers::BatchNormalization synced({.synchronized = true});
  layers::BatchNormalization plain;
  const at::Tensor x = at::randn({6, 4});
  synced(x);
  plain(x);
  plain.set_weights(synced.get_weights());
  CHECK(at::allclose(synced.call(x, true), plain.call(x, true)));
  CHECK(synced.get_config()["synchronized"] == true);
  CHECK(layers::BatchNormalization::from_config(synced.get_config()).options().synchronized);
}
