// prefetch(): one background thread pulls from the input into a bounded queue while the consumer works on
// earlier elements. kAutotune buffers kAutotuneBufferSize elements (tf.data tunes the size at run time; a
// fixed 2 already overlaps producing batch i+1 with training on batch i, and elements are usually whole
// batches, so a deeper buffer mostly costs memory). buffer_size 0 prefetches nothing: the step passes the
// input's iterator through, as in tf.data.
#include <strata/core/error.h>
#include <strata/data/dataset.h>
#include <strata/data/worker_pool.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>

namespace strata::data {
namespace {

constexpr int64_t kAutotuneBufferSize = 2;

class PrefetchIterator : public Iterator {
 public:
  PrefetchIterator(std::unique_ptr<Iterator> input, int64_t capacity)
      : input_(std::move(input)), capacity_(capacity), pool_(1, [this] { fill(); }, [this] { request_stop(); }) {}

  std::optional<Element> next() override {
    std::unique_lock lock(mutex_);
    if (finished_) return std::nullopt;
    filled_.wait(lock, [this] { return !queue_.empty(); });
    Slot slot = std::move(queue_.front());
    queue_.pop_front();
    finished_ = !slot.element.has_value();  // the end, or the input's exception: either way the pass is over
    lock.unlock();
    space_.notify_one();
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(slot.element);
  }

 private:
  // An element, or the end of the input (no element), with the exception that ended it if any.
  struct Slot {
    std::optional<Element> element;
    std::exception_ptr error;
  };

  void request_stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
  }

  void fill() {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [this] { return stop_ || static_cast<int64_t>(queue_.size()) < capacity_; });
        if (stop_) return;
      }
      Slot slot;
      try {
        slot.element = input_->next();
      } catch (...) {
        slot.error = std::current_exception();
      }
      const bool last = !slot.element.has_value();
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(slot));
      }
      filled_.notify_one();
      if (last) return;
    }
  }

  std::unique_ptr<Iterator> input_;  // used only by the background thread until it is joined
  const int64_t capacity_;

  std::mutex mutex_;  // guards everything below
  std::condition_variable space_;   // the thread waits here for room in the queue
  std::condition_variable filled_;  // next() waits here for a slot
  std::deque<Slot> queue_;
  bool stop_ = false;
  bool finished_ = false;

  WorkerPool pool_;  // last: joined before the state above is destroyed
};

class PrefetchNode : public DatasetNode {
 public:
  PrefetchNode(Dataset input, int64_t buffer_size) : input_(std::move(input)), buffer_size_(buffer_size) {
    if (buffer_size_ < 0 && buffer_size_ != kAutotune)
      throw ValueError("Dataset.prefetch: buffer_size must be >= 0 or kAutotune (-1), got " +
                       std::to_string(buffer_size_));
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    std::unique_ptr<Iterator> input = input_.make_iterator();
    if (buffer_size_ == 0) return input;
    return std::make_unique<PrefetchIterator>(std::move(input),
                                              buffer_size_ == kAutotune ? kAutotuneBufferSize : buffer_size_);
  }

  int64_t cardinality() const override { return input_.cardinality(); }

  std::string describe() const override {
    return "prefetch(" + (buffer_size_ == kAutotune ? std::string("AUTOTUNE") : std::to_string(buffer_size_)) + ")";
  }

 private:
  Dataset input_;
  int64_t buffer_size_;
};

}  // namespace

Dataset Dataset::prefetch(int64_t buffer_size) const {
  return Dataset(std::make_shared<PrefetchNode>(*this, buffer_size));
}

}  // namespace strata::data
