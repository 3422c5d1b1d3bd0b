// Training on a GPU (OneDeviceStrategy on CUDA, MultiWorkerMirroredStrategy choosing the local GPU, MirroredStrategy
// over the visible GPUs): the same fit on the GPU and on the CPU, or on two GPUs and on one, ends with the same
// weights and logs. Runs where STRATA_TEST_CUDA=1 says there is a GPU
// (the lead's GPU check); elsewhere it reports itself skipped.

#include <ATen/ATen.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <catch2/catch.hpp>
#include <strata/strata.h>

#include <cstdlib>
#include <string>

using namespace strata;

namespace {

bool gpu_test_enabled() {
  const char* value = std::getenv("STRATA_TEST_CUDA");
  return value != nullptr && std::string(value) == "1";
}

struct Trained {
  std::vector<at::Tensor> weights;
  callbacks::History history;
  Logs evaluation;
  at::Tensor predictions;
  bool weights_on_gpu = false;
};

// `for_replicas`: synchronized BatchNormalization and no Dropout, so several replicas compute what one does.
Trained train_on(const distribute::Strategy& strategy, const at::Tensor& x, const at::Tensor& y,
                 bool for_replicas = false) {
  set_random_seed(11);
  Sequential model({
      layers::Input({12, 12}),
      layers::Reshape({12, 12, 1}),
      layers::Conv2D(4, 3),
      layers::BatchNormalization({.synchronized = for_replicas}),
      layers::Activation("tanh"),
      layers::Flatten(),
      layers::Dropout(for_replicas ? 0.0 : 0.2),
      layers::Dense(3),
  });
  // A small plain SGD step keeps the two runs' rounding differences (cuDNN's sums against the CPU's) small.
  model.compile({.optimizer = optimizers::SGD({.learning_rate = 0.01}),
                 .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                 .metrics = {"accuracy"},
                 .strategy = strategy});
  Trained out;
  out.history = model.fit(x, y, {.batch_size = 32, .epochs = 2, .verbose = 0, .validation_data = {x, y}});
  out.weights_on_gpu = model.get_weights().front().is_cuda();
  out.evaluation = model.evaluate(x, y, {.verbose = 0});
  out.predictions = model.predict(x, {.verbose = 0});
  for (const auto& w : model.get_weights()) out.weights.push_back(w.to(at::kCPU));
  return out;
}

}  // namespace

TEST_CASE("fit on a GPU ends with the CPU run's weights, logs and predictions", "[distribute][gpu]") {
  if (!gpu_test_enabled()) {
    WARN("no GPU (set STRATA_TEST_CUDA=1 where there is one); GPU training test skipped");
    return;
  }
  at::manual_seed(5);
  const at::Tensor x = at::rand({160, 12, 12});
  const at::Tensor y = (x.mean({1, 2}) * 30).to(at::kLong).remainder(3);
  const Trained gpu = train_on(distribute::OneDeviceStrategy(at::Device("cuda:0")), x, y);
  const Trained cpu = train_on(distribute::OneDeviceStrategy(), x, y);
  CHECK(gpu.weights_on_gpu);
  CHECK_FALSE(cpu.weights_on_gpu);
  for (size_t i = 0; i < cpu.weights.size(); ++i) CHECK(at::allclose(gpu.weights[i], cpu.weights[i], 1e-3, 1e-4));
  for (const auto& [key, values] : cpu.history.history)
    for (size_t e = 0; e < values.size(); ++e) CHECK(gpu.history.history.at(key)[e] == Approx(values[e]).margin(1e-4));
  CHECK(gpu.evaluation.at("loss") == Approx(cpu.evaluation.at("loss")).margin(1e-4));
  CHECK(gpu.predictions.is_cpu());
  CHECK(at::allclose(gpu.predictions, cpu.predictions, 1e-3, 1e-4));
}

TEST_CASE("MultiWorkerMirroredStrategy computes on the local GPU when there is one", "[distribute][gpu]") {
  if (!gpu_test_enabled()) {
    WARN("no GPU (set STRATA_TEST_CUDA=1 where there is one); GPU placement test skipped");
    return;
  }
  const distribute::MultiWorkerMirroredStrategy on_gpu({}, distribute::ClusterSpec{});
  CHECK(on_gpu.device() == at::Device("cuda:0"));
  const distribute::MultiWorkerMirroredStrategy ring({.implementation = distribute::CommunicationImplementation::kRing},
                                                     distribute::ClusterSpec{});
  CHECK(ring.device().is_cpu());
}

TEST_CASE("without a GPU, strategies compute on the CPU and kNccl is refused", "[distribute][gpu]") {
  if (at::hasCUDA()) return;  // the GPU cases above cover a machine with a GPU
  const distribute::MultiWorkerMirroredStrategy strategy({}, distribute::ClusterSpec{});
  CHECK(strategy.device().is_cpu());
  CHECK_THROWS_WITH(distribute::MultiWorkerMirroredStrategy({.implementation = distribute::CommunicationImplementation::kNccl},
                                                            distribute::ClusterSpec{}),
                    Catch::Contains("kNccl needs CUDA devices, and this process sees none"));
}

TEST_CASE("MirroredStrategy takes every visible GPU, and two GPUs train as one on the same global batches",
          "[distribute][gpu]") {
  if (!gpu_test_enabled()) {
    WARN("no GPU (set STRATA_TEST_CUDA=1 where there is one); MirroredStrategy GPU test skipped");
    return;
  }
  const int gpus = at::detail::getCUDAHooks().getNumGPUs();
  const distribute::MirroredStrategy all;
  REQUIRE(all.num_replicas_in_sync() == gpus);
  for (int i = 0; i < gpus; ++i) CHECK(all.devices()[static_cast<size_t>(i)] == at::Device(at::kCUDA, i));
  if (gpus < 2) {
    WARN("one GPU: MirroredStrategy has one replica; the two-GPU comparison is skipped");
    return;
  }
  at::manual_seed(5);
  const at::Tensor x = at::rand({160, 12, 12});
  const at::Tensor y = (x.mean({1, 2}) * 30).to(at::kLong).remainder(3);
  const Trained two = train_on(distribute::MirroredStrategy({at::Device("cuda:0"), at::Device("cuda:1")}), x, y, true);
  const Trained one = train_on(distribute::OneDeviceStrategy(at::Device("cuda:0")), x, y, true);
  CHECK(two.weights_on_gpu);
  for (size_t i = 0; i < one.weights.size(); ++i) CHECK(at::allclose(two.weights[i], one.weights[i], 1e-3, 1e-4));
  for (const auto& [key, values] : one.history.history)
    for (size_t e = 0; e < values.size(); ++e) CHECK(two.history.history.at(key)[e] == Approx(values[e]).margin(1e-4));
  CHECK(at::allclose(two.predictions, one.predictions, 1e-3, 1e-4));
}
