#include <strata/models/local_replicas.h>

#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/models/model.h>
#include <strata/savedmodel/compile_config.h>
#include <strata/savedmodel/saving.h>

namespace strata {

LocalReplicas::LocalReplicas(const Model& model, const std::vector<distribute::Strategy>& replicas) {
  // The copies' initial weights are replaced by the model's when they join; drawing them must not shift what
  // the model draws next (fit()'s shuffle seed).
  const KeepGlobalRandomState keep;
  for (const auto& replica : replicas) {
    std::shared_ptr<Model> copy;
    try {
      copy = models::clone_model(model);
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
  failures_.assign(copies_.size(), nullptr);
  for (const auto& feed : feeds_) feed->reset();
  for (size_t i = 0; i < copies_.size(); ++i)
    threads_.emplace_back([this, i, on_copy] {
      try {
        on_copy(*copies_[i]);
      } catch (...) {
        failures_[i] = std::current_exception();
      }
    });
}

std::exception_ptr LocalReplicas::finish() {
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  running_ = false;
  for (const auto& failure : failures_)
    if (failure) return failure;
  return nullptr;
}

}  // namespace strata
