#include <strata/data/worker_pool.h>

#include <ATen/core/grad_mode.h>

namespace strata::data {

WorkerPool::WorkerPool(int64_t num_threads, const std::function<void()>& work, std::function<void()> request_stop)
    : request_stop_(std::move(request_stop)) {
  threads_.reserve(static_cast<size_t>(num_threads));
  try {
    for (int64_t i = 0; i < num_threads; ++i)
      threads_.emplace_back([work] {
        at::NoGradGuard no_grad;
        work();
      });
  } catch (...) {  // the system refused a thread: stop the ones already running before reporting it
    stop_and_join();
    throw;
  }
}

WorkerPool::~WorkerPool() { stop_and_join(); }

void WorkerPool::stop_and_join() {
  request_stop_();
  for (std::thread& thread : threads_)
    if (thread.joinable()) thread.join();
}

int64_t autotune_thread_count() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int64_t>(cores);
}

}  // namespace strata::data
