#pragma once
// One background thread that runs a replica's collectives in the order they were submitted. Every replica
// submits the same collectives in the same order, so they pair up across processes; gradient buckets go on
// it while backward keeps computing, and collectives the training thread needs at once wait on their future.
// Internal to distribute/.

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace strata::distribute {

class CommThread {
 public:
  CommThread();
  ~CommThread();  // runs what was submitted, then stops
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  // Queues `job`; the future rethrows what it threw.
  std::future<void> submit(std::function<void()> job);
  // Queues `job` and waits for it.
  void run(std::function<void()> job) { submit(std::move(job)).get(); }

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strata::distribute
