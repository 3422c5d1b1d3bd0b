#include <strata/models/local_replicas.h>

#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/models/model.h>
#include <strata/savedmodel/compile_config.h>
#include <strata/savedmodel/saving.h>

namespace strata {

namespace {

// Gives every unseeded random object of a model config (Dropout, noise and augmentation layers, initializers) a
// seed of its own, numbered in config order from `base`.
void seed_unseeded(nlohmann::json& config, uint64_t base, uint64_t& next) {
  if (config.is_array()) {
    for (auto& item : config) seed_unseeded(item, base, next);
  } else if (config.is_object()) {
    for (auto& [key, value] : config.items()) {
      if (key == "seed" && value.is_null())
        value = round_seed(base, next++) >> 33;  // 31 bits: a seed any Keras reader takes
      else
        seed_unseeded(value, base, next);
    }
  }
}

}  // namespace

LocalReplicas::LocalReplicas(const Model& model, const std::vector<distribute::Strategy>& replicas)
    : strategy_(model.distribute_strategy()) {
  // The copies' initial weights are replaced by the model's when they join; drawing them must not shift what
  // the model draws next (fit()'s shuffle seed, its Dropout masks).
  const KeepGlobalRandomState keep;
  // The copies' unseeded random layers get seeds of their own from one draw, so they never draw from the global
  // generator, which stays the model's: set_random_seed keeps a run reproducible, and each replica's noise is
  // its own.
  const uint64_t noise_seed = draw_seed();
  for (size_t i = 0; i < replicas.size(); ++i) {
    const distribute::Strategy& replica = replicas[i];
    std::shared_ptr<Model> copy;
    try {
      nlohmann::json config = nlohmann::json::parse(model.to_json());
      uint64_t next = 0;
      seed_unseeded(config, round_seed(noise_seed, i), next);
      copy = models::model_from_config(config);
      CompileOptions options = savedmodel::from_compile_config(savedmodel::to_compile_config(model.compile_options()));
      options.strategy = replica;
      copy->compile(std::move(options));
    } catch (const std::exception& e) {
      throw ValueError(model.describe() + ": MirroredStrategy runs a copy of the model on each of its " +
                       std::to_string(replicas.size() + 1) + " devices, made from the model's config and compile "
                       "configuration, and copying failed: " + e.what());
    }
    feeds_.push_back(std::make_shared<BatchFeed>());
    copy->batch_feed_ = feeds_.back();
    copies_.push_back(std::move(copy));
  }
}

void LocalReplicas::start(const std::function<void(Model&)>& on_copy) {
  running_ = true;
  first_failure_ = nullptr;
  for (const auto& feed : feeds_) feed->reset();
  for (size_t i = 0; i < copies_.size(); ++i)
    threads_.emplace_back([this, i, on_copy] {
      try {
        on_copy(*copies_[i]);
      } catch (...) {
        fail(static_cast<int>(i) + 1, std::current_exception());
      }
    });
}

void LocalReplicas::fail(int replica, std::exception_ptr error) {
  const std::lock_guard<std::mutex> lock(failure_mutex_);
  if (first_failure_) return;  // the others fail because of the first
  first_failure_ = std::move(error);
  for (const auto& feed : feeds_) feed->close();  // a copy waiting for the model's next batch stops
  strategy_.abort_local_replicas(replica);
}

void LocalReplicas::finish() {
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  running_ = false;
  if (first_failure_) std::rethrow_exception(first_failure_);
}

}  // namespace strata
