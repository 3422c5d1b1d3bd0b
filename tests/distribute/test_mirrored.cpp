// MirroredStrategy in one process: several replicas on logical CPU devices (the way tf.distribute is tested
// without GPUs), each a copy of the model on its own thread. A run must end with the weights, logs and
// evaluation of one replica trained on the same global batches, and the chief's callbacks must steer the copies.

#include <catch2/catch.hpp>
#include <strata/strata.h>

#include "../support/replica_run.h"

#include <chrono>
#include <map>
#include <string>
#include <vector>

using namespace strata;

namespace {

const datasets::Data& fashion_mnist() {
  static const datasets::Data data = datasets::fashion_mnist::load(STRATA_FASHION_MNIST_DIR);
  return data;
}

using testing::ReplicaRun;
using testing::ReplicaRunOptions;

ReplicaRun train(const distribute::Strategy& strategy, const ReplicaRunOptions& options) {
  return testing::train_replica_run(strategy, fashion_mnist(), options);
}

// The replicas' rounding differs from one replica's (the sums of the batch's halves are added in another order),
// so equality holds to rounding: the multi-process tests measure 2e-6 to 7e-6 on this model.
void check_same(const ReplicaRun& mirrored, const ReplicaRun& single) {
  const testing::ReplicaDifferences differences = testing::replica_differences(mirrored, single);
  CHECK(differences.weights < 1e-4);
  CHECK(differences.logs < 1e-4);  // every epoch's logs and evaluate()'s
  CHECK(differences.predictions < 1e-4);  // predict() splits each batch across the replicas and gathers it
}

const at::Device kCpu(at::kCPU);

}  // namespace

TEST_CASE("MirroredStrategy on two logical CPU devices trains as one replica on the same global batches",
          "[distribute][mirrored]") {
  const distribute::MirroredStrategy strategy({kCpu, kCpu});
  CHECK(strategy.class_name() == "MirroredStrategy");
  CHECK(strategy.num_replicas_in_sync() == 2);
  CHECK(strategy.is_chief());
  CHECK(strategy.local_replicas().size() == 1);
  check_same(train(strategy, {}), train(distribute::OneDeviceStrategy(), {}));
}

TEST_CASE("MirroredStrategy on three replicas splits an uneven last batch as one replica would",
          "[distribute][mirrored]") {
  // 250 samples in batches of 60: the last batch of 10 splits 4/3/3.
  check_same(train(distribute::MirroredStrategy({kCpu, kCpu, kCpu}), {.samples = 250, .batch = 60}),
             train(distribute::OneDeviceStrategy(), {.samples = 250, .batch = 60}));
}

TEST_CASE("MirroredStrategy's replicas read one shuffled dataset in the same order", "[distribute][mirrored]") {
  check_same(train(distribute::MirroredStrategy({kCpu, kCpu}), {.dataset = true}),
             train(distribute::OneDeviceStrategy(), {.dataset = true}));
}

TEST_CASE("under MirroredStrategy the callbacks run once on the model and steer every replica",
          "[distribute][mirrored]") {
  // It acts on the model alone: the copies must follow its learning rate and its stop, or the weights differ.
  class Steering : public Callback {
   public:
    int batches = 0;
    void on_epoch_begin(int epoch, const Logs&) override {
      epoch_ = epoch;
      if (epoch > 0) model()->optimizer().set_learning_rate(model()->optimizer().learning_rate() * 0.5);
    }
    void on_train_batch_end(int64_t batch, const Logs&) override {
      ++batches;
      if (epoch_ == 1 && batch == 1) model()->stop_training = true;
    }

   private:
    int epoch_ = 0;
  };
  auto mirrored_steering = std::make_shared<Steering>();
  auto single_steering = std::make_shared<Steering>();
  const ReplicaRun mirrored =
      train(distribute::MirroredStrategy({kCpu, kCpu}), {.epochs = 3, .callbacks = {mirrored_steering}});
  const ReplicaRun single = train(distribute::OneDeviceStrategy(), {.epochs = 3, .callbacks = {single_steering}});
  // 4 batches in epoch 0, 2 in epoch 1, then stopped; each seen once although two replicas ran it.
  CHECK(mirrored_steering->batches == 6);
  CHECK(single_steering->batches == 6);
  CHECK(mirrored.history.at("loss").size() == 2);
  check_same(mirrored, single);
}

TEST_CASE("MirroredStrategy with Dropout is reproducible from set_random_seed", "[distribute][mirrored]") {
  // The copies' Dropout layers get seeds of their own; drawing from the global generator in thread order instead,
  // they would change the model's masks from run to run.
  const auto& data = fashion_mnist();
  auto run = [&] {
    set_random_seed(21);
    Sequential model({layers::Input({28, 28}), layers::Flatten(), layers::Dense(32, {.activation = "relu"}),
                      layers::Dropout(0.5), layers::Dense(10)});
    model.compile({.optimizer = "sgd",
                   .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                   .strategy = distribute::MirroredStrategy({kCpu, kCpu})});
    model.fit(data.x_train.narrow(0, 0, 512), data.y_train.narrow(0, 0, 512),
              {.batch_size = 64, .epochs = 2, .verbose = 0});
    return model.get_weights();
  };
  const auto first = run();
  const auto second = run();
  for (size_t i = 0; i < first.size(); ++i) CHECK(at::equal(first[i], second[i]));
}

TEST_CASE("MirroredStrategy's train_on_batch and test_on_batch run on every replica", "[distribute][mirrored]") {
  const auto& data = fashion_mnist();
  const at::Tensor x = data.x_train.narrow(0, 0, 64), y = data.y_train.narrow(0, 0, 64);
  auto run = [&](const distribute::Strategy& strategy) {
    set_random_seed(11);
    Sequential model = testing::replica_check_model();
    model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.1}),
                   .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                   .strategy = strategy});
    model.train_on_batch(x, y);
    const Logs second = model.train_on_batch(x, y);
    const Logs tested = model.test_on_batch(x, y);
    return std::make_tuple(second.at("loss"), tested.at("loss"), model.get_weights());
  };
  const auto [mirrored_train, mirrored_test, mirrored_weights] = run(distribute::MirroredStrategy({kCpu, kCpu}));
  const auto [single_train, single_test, single_weights] = run(distribute::OneDeviceStrategy());
  CHECK(mirrored_train == Approx(single_train).margin(1e-5));
  CHECK(mirrored_test == Approx(single_test).margin(1e-5));
  for (size_t i = 0; i < single_weights.size(); ++i)
    CHECK((mirrored_weights[i] - single_weights[i]).abs().max().item<double>() < 1e-5);
}

TEST_CASE("MirroredStrategy's predict gathers every replica's share, also when a batch has fewer rows than replicas",
          "[distribute][mirrored]") {
  const auto& data = fashion_mnist();
  const at::Tensor x = data.x_test.narrow(0, 0, 7);
  set_random_seed(5);
  Sequential model = testing::replica_check_model();
  model.compile({.optimizer = "sgd", .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .strategy = distribute::MirroredStrategy({kCpu, kCpu, kCpu})});
  // Batches of 5 and 2 rows: 2/2/1, then 1/1/0 (the third replica's share is empty).
  const at::Tensor mirrored = model.predict(x, {.batch_size = 5, .verbose = 0});
  const at::Tensor single = model.predict_on_batch(x);  // the model alone, no split
  REQUIRE(mirrored.sizes() == single.sizes());
  CHECK((mirrored - single).abs().max().item<double>() < 1e-5);
}

TEST_CASE("a failure on one MirroredStrategy replica ends the call at once with that error, not after the timeout",
          "[distribute][mirrored]") {
  // The model's callback fails after its third batch, while its copy is already waiting in the next collective.
  class Failing : public Callback {
   public:
    void on_train_batch_end(int64_t batch, const Logs&) override {
      if (batch == 2) throw IOError("checkpoint directory is gone");
    }
  };
  set_random_seed(3);
  Sequential model = testing::replica_check_model();
  model.compile({.optimizer = "sgd",
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .strategy = distribute::MirroredStrategy({kCpu, kCpu}, {.timeout_seconds = 120})});
  const auto& data = fashion_mnist();
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(model.fit(data.x_train.narrow(0, 0, 512), data.y_train.narrow(0, 0, 512),
                            {.batch_size = 64, .verbose = 0, .callbacks = {std::make_shared<Failing>()}}),
                  IOError);
  // Well under the 120 s the copy would otherwise wait for the model.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
}

TEST_CASE("MirroredStrategy's default devices and the errors for bad lists", "[distribute][mirrored]") {
  if (!at::hasCUDA()) {
    // tf.distribute's default without GPUs: one replica on the CPU.
    const distribute::MirroredStrategy strategy;
    CHECK(strategy.num_replicas_in_sync() == 1);
    CHECK(strategy.device() == kCpu);
    CHECK(strategy.devices() == std::vector<at::Device>{kCpu});
    CHECK(strategy.class_name() == "MirroredStrategy");
    CHECK_THROWS_WITH(distribute::MirroredStrategy({at::Device("cuda:0")}),
                      Catch::Contains("device 0 (cuda:0) is not one of the 0 visible GPUs"));
  }
  CHECK_THROWS_WITH(distribute::MirroredStrategy({kCpu, at::Device("cuda:0")}),
                    Catch::Contains("device 1 (cuda:0) is not of the first device's type (cpu)"));
  const distribute::CommunicationOptions nccl{.implementation = distribute::CommunicationImplementation::kNccl};
  CHECK_THROWS_WITH(distribute::MirroredStrategy({kCpu}, nccl), Catch::Contains("kNccl needs CUDA devices"));
}

TEST_CASE("MirroredStrategy names a model it cannot copy onto its further devices", "[distribute][mirrored]") {
  // Not registered, so no config can bring it back.
  class Unregistered : public Model {
   public:
    Unregistered() : Model("Unregistered") { dense_ = track(layers::Dense(2)); }
    at::Tensor call(const at::Tensor& inputs, bool training) override { return (*dense_)(inputs, training); }

   private:
    std::shared_ptr<layers::Dense> dense_;
  };
  Unregistered model;
  model.compile({.optimizer = "sgd", .loss = "mse", .strategy = distribute::MirroredStrategy({kCpu, kCpu})});
  CHECK_THROWS_WITH(model.fit(at::ones({4, 3}), at::ones({4, 2}), {.verbose = 0}),
                    Catch::Contains("MirroredStrategy runs a copy of the model on each of its 2 devices"));
}
