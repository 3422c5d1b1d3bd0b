#pragma once
// MirroredStrategy's further replicas in this process: a copy of the model on each further device
// (made from the model's config, as clone_model does, with seeds for its unseeded random layers, and compiled
// from the same compile configuration under that replica's strategy handle), each running
// on its own thread the same fit(), evaluate(), predict(), train_on_batch() or test_on_batch() call the model
// runs as replica 0. The replicas meet in their collectives as separate processes would, so the loops stay
// Model's own. The copies run no callbacks (Strategy::is_model_copy) and follow the chief's learning rate and
// stop_training, and a dataset is read once, by the model, which feeds its batches to the copies
// (models/batch_feed.h).

#include <strata/distribute/strategy.h>
#include <strata/models/batch_feed.h>

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace strata {

class Model;

class LocalReplicas {
 public:
  // Copies `model` (compiled) once per handle in `replicas`; ValueError naming the model when it cannot be copied.
  LocalReplicas(const Model& model, const std::vector<distribute::Strategy>& replicas);
  LocalReplicas(const LocalReplicas&) = delete;
  LocalReplicas& operator=(const LocalReplicas&) = delete;

  // Whether a run() is under way: the model's own call then proceeds as replica 0.
  bool running() const { return running_; }
  // One per copy: what the model's dataset iterators read, for the copy's (models/batch_feed.h).
  const std::vector<std::shared_ptr<BatchFeed>>& feeds() const { return feeds_; }

  // Runs `on_copy(copy)` for each copy on its own thread and `on_model()` on this one and waits for all. The
  // first replica to fail frees the others from waiting for it, and its error is the one rethrown.
  template <class Result>
  Result run(const std::function<Result()>& on_model, const std::function<void(Model&)>& on_copy) {
    start(on_copy);
    std::optional<Result> result;
    try {
      result = on_model();
    } catch (...) {
      fail(0, std::current_exception());
    }
    finish();
    return std::move(*result);
  }

 private:
  void start(const std::function<void(Model&)>& on_copy);
  // Replica `replica` failed: the first failure closes the feeds and aborts the other replicas' collectives.
  void fail(int replica, std::exception_ptr error);
  // Joins the threads, then rethrows the first failure.
  void finish();

  distribute::Strategy strategy_;
  std::vector<std::shared_ptr<Model>> copies_;
  std::vector<std::shared_ptr<BatchFeed>> feeds_;
  std::vector<std::thread> threads_;
  std::mutex failure_mutex_;
  std::exception_ptr first_failure_;
  bool running_ = false;
};

}  // namespace strata
