#pragma once
// WorkerPool: the background threads of map(num_parallel_calls) and prefetch(), owned by one Iterator.
//
// Every thread runs `work` once; `work` is a loop over a state the owner guards with its own mutex and
// returns when that state says stop (or when there is nothing left to do). The destructor calls
// `request_stop` (which sets that flag and wakes every condition variable the loops wait on), then joins
// every thread, so an Iterator destroyed mid-pass neither leaks a thread nor leaves one touching freed
// state: declare the pool as the owner's LAST member, so it is destroyed (joined) before the state it uses.
//
// Threads run with autograd off (grad mode is thread-local in ATen; pipeline work never builds a graph).
// They leave ATen's intra-op thread count alone: N map workers each running a parallel ATen op can use
// N x at::get_num_threads() cores, which the user bounds with at::set_num_threads if it matters.
// `work` must not throw: the loops catch what user code throws and hand it to the consumer.

#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace strata::data {

class WorkerPool {
 public:
  WorkerPool(int64_t num_threads, const std::function<void()>& work, std::function<void()> request_stop);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

 private:
  void stop_and_join();

  std::function<void()> request_stop_;
  std::vector<std::thread> threads_;
};

// The thread count kAutotune stands for: one per core (at least 1).
int64_t autotune_thread_count();

}  // namespace strata::data
