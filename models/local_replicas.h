#pragma once
// MirroredStrategy's further replicas in this process: a copy of the model on each further device
// (clone_model, compiled from the same compile configuration under that replica's strategy handle), each running
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

  // Runs `on_copy(copy)` for each copy on its own thread and `on_model()` on this one, waits for all, then
  // rethrows the first failure (the model's own before the copies').
  template <class Result>
  Result run(const std::function<Result()>& on_model, const std::function<void(Model&)>& on_copy) {
    start(on_copy);
    std::optional<Result> result;
    std::exception_ptr failure;
    try {
      result = on_model();
    } catch (...) {
      failure = std::current_exception();
      for (const auto& feed : feeds_) feed->close();  // a copy waiting for the next batch stops
    }
    const std::exception_ptr copy_failure = finish();
    if (failure) std::rethrow_exception(failure);
    if (copy_failure) std::rethrow_exception(copy_failure);
    return std::move(*result);
  }

 private:
  void start(const std::function<void(Model&)>& on_copy);
  // Joins the threads; the first copy's failure, if any.
  std::exception_ptr finish();

  std::vector<std::shared_ptr<Model>> copies_;
  std::vector<std::shared_ptr<BatchFeed>> feeds_;
  std::vector<std::thread> threads_;
  std::vector<std::exception_ptr> failures_;
  bool running_ = false;
};

}  // namespace strata
