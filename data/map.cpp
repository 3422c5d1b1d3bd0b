// map(): applies a user function to every element, on the consuming thread (num_parallel_calls = 0) or on a
// pool of worker threads that the iterator owns.
//
// The parallel iterator: workers take turns pulling from the input (which is not thread-safe) under
// `input_mutex_`, numbering the elements in input order, then call the function concurrently and file the
// outcome under its number (deterministic) or its completion rank (deterministic = false). At most
// `window_` = 2 x threads elements are pulled but not yet handed out, which bounds memory and lets a slow
// element hold back at most that many behind it. Whatever the function or the input throws is filed like
// an element; next() rethrows it when its turn comes and the pass ends there.
#include <strata/core/error.h>
#include <strata/data/dataset.h>
#include <strata/data/worker_pool.h>

#include <ATen/core/grad_mode.h>

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>

namespace strata::data {
namespace {

using SharedFunction = std::shared_ptr<const Dataset::MapFunction>;

class SequentialMapIterator : public Iterator {
 public:
  SequentialMapIterator(std::unique_ptr<Iterator> input, SharedFunction function)
      : input_(std::move(input)), function_(std::move(function)) {}

  std::optional<Element> next() override {
    if (done_) return std::nullopt;
    at::NoGradGuard no_grad;  // as on the workers: map functions build no autograd graph
    try {
      std::optional<Element> element = input_->next();
      if (!element) {
        done_ = true;
        return std::nullopt;
      }
      return (*function_)(std::move(*element));
    } catch (...) {
      done_ = true;
      throw;
    }
  }

 private:
  std::unique_ptr<Iterator> input_;
  SharedFunction function_;
  bool done_ = false;
};

class ParallelMapIterator : public Iterator {
 public:
  ParallelMapIterator(std::unique_ptr<Iterator> input, SharedFunction function, int64_t num_threads,
                      bool deterministic)
      : input_(std::move(input)),
        function_(std::move(function)),
        deterministic_(deterministic),
        window_(2 * num_threads),
        pool_(num_threads, [this] { work(); }, [this] { request_stop(); }) {}

  std::optional<Element> next() override {
    std::unique_lock lock(mutex_);
    while (!finished_) {
      if (!ready_.empty() && (!deterministic_ || ready_.begin()->first == delivered_)) {
        Outcome outcome = std::move(ready_.begin()->second);
        ready_.erase(ready_.begin());
        ++delivered_;
        if (outcome.error) {
          finished_ = stop_ = true;
          space_.notify_all();
          lock.unlock();
          std::rethrow_exception(outcome.error);
        }
        space_.notify_one();
        return std::move(outcome.element);
      }
      if (input_done_ && delivered_ == issued_) finished_ = true;
      else ready_changed_.wait(lock);
    }
    return std::nullopt;
  }

 private:
  struct Outcome {
    Element element;
    std::exception_ptr error;
  };

  void request_stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    ready_changed_.notify_all();
  }

  void work() {
    while (true) {
      int64_t index = 0;
      std::optional<Element> element;
      {
        std::lock_guard pulling(input_mutex_);
        std::unique_lock lock(mutex_);
        space_.wait(lock, [this] { return stop_ || input_done_ || issued_ - delivered_ < window_; });
        if (stop_ || input_done_) return;
        index = issued_++;
        lock.unlock();
        std::exception_ptr error;
        try {
          element = input_->next();
        } catch (...) {
          error = std::current_exception();
        }
        if (!element) {  // the input is over, or failed: that failure is the pass' last outcome
          lock.lock();
          input_done_ = true;
          if (error) file(index, {{}, error});
          else --issued_;
          lock.unlock();
          space_.notify_all();
          ready_changed_.notify_all();
          return;
        }
      }
      Outcome outcome;
      try {
        outcome.element = (*function_)(std::move(*element));
      } catch (...) {
        outcome.error = std::current_exception();
      }
      {
        std::lock_guard lock(mutex_);
        file(index, std::move(outcome));
      }
      ready_changed_.notify_one();
    }
  }

  // Called with mutex_ held. Without determinism the key is the completion rank, so next() takes the
  // earliest finished outcome.
  void file(int64_t index, Outcome outcome) {
    ready_.emplace(deterministic_ ? index : completed_, std::move(outcome));
    ++completed_;
  }

  std::unique_ptr<Iterator> input_;
  SharedFunction function_;
  const bool deterministic_;
  const int64_t window_;

  std::mutex input_mutex_;  // one worker pulls from the input at a time; taken before mutex_
  std::mutex mutex_;        // guards everything below
  std::condition_variable space_;          // workers wait here for room in the window
  std::condition_variable ready_changed_;  // next() waits here for an outcome or the end
  std::map<int64_t, Outcome> ready_;
  int64_t issued_ = 0;     // elements pulled from the input (numbered 0, 1, ...)
  int64_t delivered_ = 0;  // outcomes handed out by next()
  int64_t completed_ = 0;  // outcomes filed
  bool input_done_ = false;
  bool stop_ = false;
  bool finished_ = false;

  WorkerPool pool_;  // last: joined before the state above is destroyed
};

class MapNode : public DatasetNode {
 public:
  MapNode(Dataset input, Dataset::MapFunction function, MapOptions options)
      : input_(std::move(input)), options_(options) {
    if (!function) throw ValueError("Dataset.map: expected a function, got an empty std::function");
    if (options_.num_parallel_calls < 0 && options_.num_parallel_calls != kAutotune)
      throw ValueError("Dataset.map: num_parallel_calls must be >= 0 or kAutotune (-1), got " +
                       std::to_string(options_.num_parallel_calls));
    function_ = std::make_shared<const Dataset::MapFunction>(std::move(function));
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    std::unique_ptr<Iterator> input = input_.make_iterator();
    if (options_.num_parallel_calls == 0) return std::make_unique<SequentialMapIterator>(std::move(input), function_);
    const int64_t threads =
        options_.num_parallel_calls == kAutotune ? autotune_thread_count() : options_.num_parallel_calls;
    return std::make_unique<ParallelMapIterator>(std::move(input), function_, threads, options_.deterministic);
  }

  int64_t cardinality() const override { return input_.cardinality(); }

  std::string describe() const override {
    if (options_.num_parallel_calls == 0) return "map";
    return "map(num_parallel_calls=" +
           (options_.num_parallel_calls == kAutotune ? std::string("AUTOTUNE")
                                                     : std::to_string(options_.num_parallel_calls)) +
           (options_.deterministic ? "" : ", deterministic=false") + ")";
  }

 private:
  Dataset input_;
  SharedFunction function_;
  MapOptions options_;
};

}  // namespace

Dataset Dataset::map(MapFunction function, MapOptions options) const {
  return Dataset(std::make_shared<MapNode>(*this, std::move(function), options));
}

}  // namespace strata::data
