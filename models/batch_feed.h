#pragma once
// MirroredStrategy reads a dataset once: the model's iterators hand every batch, and each pass's end, to a feed
// per copy of the model, and the copies' iterators read their feed in the same order. (Reading the dataset on
// every replica would not do: a shuffle numbers its passes in the dataset itself, so each replica's pass would
// get its own order.)

#include <strata/distribute/distributed_error.h>
#include <strata/models/model_data.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace strata {

class BatchFeed {
 public:
  // A batch, or the end of a pass (nullopt) with whether the dataset ran out (EpochIterator::ran_out).
  struct Item {
    std::optional<Batch> batch;
    bool ran_out = false;
  };

  void push(Item item) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }

  // The next item, waiting for the model's iterator to read it; DistributedError once the model's call failed.
  Item pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty())
      throw DistributedError("MirroredStrategy: the model (replica 0) stopped before reading its next "
                                         "batch, so its copies stop too");
    Item item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  // Starts a call afresh, or ends it with the model's failure.
  void reset() {
    const std::lock_guard<std::mutex> lock(mutex_);
    items_.clear();
    closed_ = false;
  }
  void close() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Item> items_;
  bool closed_ = false;
};

}  // namespace strata
