// Communicators: Gloo's collectives among ranks in threads of this process (loopback TCP) against the sums, copies
// and stacks written out from each rank's contribution; rendezvous and dead-peer failures becoming DistributedError
// within the timeout; bad tensors becoming ValueError. NCCL runs only where STRATA_TEST_CUDA=1 says a GPU is there.
#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/distribute/communicator.h>
#include <strata/distribute/distributed_error.h>
#include <strata/distribute/store.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using strata::DistributedError;
using strata::StateError;
using strata::ValueError;
using strata::distribute::Communicator;
using strata::distribute::make_gloo_communicator;
using strata::distribute::make_nccl_communicator;
using strata::distribute::nccl_available;
using std::chrono::milliseconds;

namespace {

using Clock = std::chrono::steady_clock;

constexpr milliseconds kTimeout{2000};

// A store in memory, shared by the ranks' threads, so these tests do not depend on the TCP store.
class MemoryStore : public strata::distribute::Store {
 public:
  void set(const std::string& key, const std::vector<char>& value) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      values_[key] = value;
    }
    changed_.notify_all();
  }

  std::vector<char> get(const std::string& key, milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return values_.count(key) > 0; }))
      throw DistributedError("store " + describe() + ": key '" + key + "' was not set within " +
                             std::to_string(timeout.count()) + " ms");
    return values_.at(key);
  }

  bool check(const std::vector<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& key : keys)
      if (values_.count(key) == 0) return false;
    return true;
  }

  std::string describe() const override { return "memory://test"; }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::vector<char>> values_;
};

// Runs body(rank) on `size` threads and rethrows the first exception one of them threw. Every collective in the
// bodies is bounded by the communicators' timeout, so the joins are too. Catch's assertions are not thread-safe:
// bodies record what they see, and the test checks it after the join.
void run_ranks(int size, const std::function<void(int)>& body) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank)
    threads.emplace_back([&, rank] {
      try {
        body(rank);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  for (std::thread& thread : threads) thread.join();
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
}

// Each rank connects its own Gloo communicator through one shared store, then runs body(rank, communicator).
void with_gloo(int size, const std::function<void(int, Communicator&)>& body, milliseconds timeout = kTimeout) {
  MemoryStore store;
  run_ranks(size, [&](int rank) {
    std::unique_ptr<Communicator> communicator = make_gloo_communicator(store, rank, size, timeout, "127.0.0.1");
    body(rank, *communicator);
  });
}

// Waits (bounded) until `flag` is set; false on timeout.
bool wait_for_flag(std::mutex& mutex, std::condition_variable& cv, const bool& flag) {
  std::unique_lock<std::mutex> lock(mutex);
  return cv.wait_for(lock, std::chrono::seconds(5), [&] { return flag; });
}

}  // namespace

TEST_CASE("Gloo all_reduce_sum sums float32, float64 and int64 tensors over 2, 3 and 4 ranks", "[distribute][gloo]") {
  for (int size : {2, 3, 4}) {
    INFO("size " << size);
    std::vector<at::Tensor> floats(size), doubles(size), longs(size);
    std::vector<int> ranks(size, -1), sizes(size, -1);
    with_gloo(size, [&](int rank, Communicator& communicator) {
      ranks[rank] = communicator.rank();
      sizes[rank] = communicator.size();
      // Rank r contributes (r + 1) * (i + 1) at position i; int64 adds r * 2^40 to exercise the high bits.
      at::Tensor f = at::arange(1, 8, at::kFloat).mul_(rank + 1).view({7});
      at::Tensor d = at::arange(1, 13, at::kDouble).mul_(rank + 1).view({3, 4});
      at::Tensor l = at::arange(1, 6, at::kLong).mul_(rank + 1).add_(int64_t{rank} << 40);
      communicator.all_reduce_sum(f);
      communicator.all_reduce_sum(d);
      communicator.all_reduce_sum(l);
      floats[rank] = f;
      doubles[rank] = d;
      longs[rank] = l;
    });
    const int64_t n = size;
    const int64_t triangle = n * (n + 1) / 2;
    const int64_t rank_sum = n * (n - 1) / 2;
    for (int rank = 0; rank < size; ++rank) {
      INFO("rank " << rank);
      CHECK(ranks[rank] == rank);
      CHECK(sizes[rank] == size);
      CHECK(at::equal(floats[rank], at::arange(1, 8, at::kFloat) * triangle));
      CHECK(at::equal(doubles[rank], (at::arange(1, 13, at::kDouble) * triangle).view({3, 4})));
      CHECK(at::equal(longs[rank], at::arange(1, 6, at::kLong) * triangle + (rank_sum << 40)));
    }
  }
}

TEST_CASE("Gloo all_reduce_sum sums a 1 MiB float32 tensor in place", "[distribute][gloo]") {
  constexpr int64_t kElements = (1 << 20) / 4;
  for (int size : {2, 3}) {
    INFO("size " << size);
    std::vector<at::Tensor> results(size);
    std::vector<const void*> pointers(size);
    with_gloo(size, [&](int rank, Communicator& communicator) {
      // Rank r contributes r + 1 + (i mod 1000): the sum is n(n+1)/2 + n (i mod 1000), exact in float32.
      at::Tensor x = at::arange(kElements, at::kLong).remainder(1000).to(at::kFloat).add_(rank + 1);
      pointers[rank] = x.data_ptr();
      communicator.all_reduce_sum(x);
      results[rank] = x;
    });
    const at::Tensor expected =
        at::arange(kElements, at::kLong).remainder(1000).to(at::kFloat).mul(size).add(size * (size + 1) / 2);
    for (int rank = 0; rank < size; ++rank) {
      REQUIRE(results[rank].data_ptr() == pointers[rank]);
      CHECK(at::equal(results[rank], expected));
    }
  }
}

TEST_CASE("Gloo broadcast copies the root's tensor into every rank's, any dtype", "[distribute][gloo]") {
  constexpr int kSize = 3;
  constexpr int kRoot = 1;
  std::vector<at::Tensor> floats(kSize), bytes(kSize);
  with_gloo(kSize, [&](int rank, Communicator& communicator) {
    at::Tensor f = at::full({2, 5}, 10.0 * rank + 0.5, at::kFloat);
    at::Tensor b = at::full({3}, rank == kRoot, at::kBool);
    communicator.broadcast(f, kRoot);
    communicator.broadcast(b, kRoot);
    floats[rank] = f;
    bytes[rank] = b;
  });
  for (int rank = 0; rank < kSize; ++rank) {
    INFO("rank " << rank);
    CHECK(at::equal(floats[rank], at::full({2, 5}, 10.0 * kRoot + 0.5, at::kFloat)));
    CHECK(at::equal(bytes[rank], at::ones({3}, at::kBool)));
  }
}

TEST_CASE("Gloo all_gather stacks every rank's tensor in rank order", "[distribute][gloo]") {
  constexpr int kSize = 3;
  std::vector<at::Tensor> gathered(kSize);
  auto contribution = [](int rank) { return at::arange(6, at::kDouble).view({2, 3}).add(100.0 * rank); };
  with_gloo(kSize, [&](int rank, Communicator& communicator) {
    gathered[rank] = communicator.all_gather(contribution(rank));
  });
  for (int rank = 0; rank < kSize; ++rank) {
    INFO("rank " << rank);
    REQUIRE(gathered[rank].sizes() == at::IntArrayRef({kSize, 2, 3}));
    REQUIRE(gathered[rank].scalar_type() == at::kDouble);
    for (int source = 0; source < kSize; ++source) CHECK(at::equal(gathered[rank][source], contribution(source)));
  }
}

TEST_CASE("Gloo barrier returns only once every rank has entered it", "[distribute][gloo]") {
  constexpr int kSize = 3;
  std::atomic<int> entered{0};
  std::vector<int> seen(kSize, -1);
  with_gloo(kSize, [&](int rank, Communicator& communicator) {
    // The last rank arrives late; nobody may leave before it has arrived.
    if (rank == kSize - 1) std::this_thread::sleep_for(milliseconds(200));
    entered.fetch_add(1);
    communicator.barrier();
    seen[rank] = entered.load();
  });
  for (int rank = 0; rank < kSize; ++rank) CHECK(seen[rank] == kSize);
}

TEST_CASE("Gloo back-to-back collectives of different sizes and kinds stay apart", "[distribute][gloo]") {
  constexpr int kSize = 3;
  constexpr int kSteps = 60;
  const std::vector<int64_t> lengths{1, 4099, 70000, 3, 262144, 17};
  // Step s, rank r: all_reduce of (r + 1) * (s + 1) + i, broadcast from root s mod size, all_gather of r + s.
  std::vector<std::vector<std::string>> mismatches(kSize);
  with_gloo(kSize, [&](int rank, Communicator& communicator) {
    for (int step = 0; step < kSteps; ++step) {
      const int64_t length = lengths[step % lengths.size()];
      const at::Tensor index = at::arange(length, at::kDouble);
      switch (step % 3) {
        case 0: {
          at::Tensor x = index + (rank + 1) * (step + 1);
          communicator.all_reduce_sum(x);
          if (!at::equal(x, index * kSize + kSize * (kSize + 1) / 2 * (step + 1)))
            mismatches[rank].push_back("all_reduce_sum at step " + std::to_string(step));
          break;
        }
        case 1: {
          const int root = step % kSize;
          at::Tensor x = index + 1000.0 * rank + step;
          communicator.broadcast(x, root);
          if (!at::equal(x, index + 1000.0 * root + step))
            mismatches[rank].push_back("broadcast at step " + std::to_string(step));
          break;
        }
        default: {
          const at::Tensor gathered = communicator.all_gather(at::full({length}, double(rank + step), at::kDouble));
          const at::Tensor expected = at::arange(kSize, at::kDouble).add(step).view({kSize, 1}).expand({kSize, length});
          if (!at::equal(gathered, expected)) mismatches[rank].push_back("all_gather at step " + std::to_string(step));
        }
      }
    }
  });
  for (int rank = 0; rank < kSize; ++rank) {
    INFO("rank " << rank);
    CHECK(mismatches[rank].empty());
    for (const std::string& mismatch : mismatches[rank]) FAIL_CHECK(mismatch);
  }
}

TEST_CASE("Gloo rendezvous without the other rank fails within the timeout, naming the store and key",
          "[distribute][gloo]") {
  MemoryStore store;
  const milliseconds timeout{500};
  const Clock::time_point start = Clock::now();
  try {
    make_gloo_communicator(store, 0, 2, timeout, "127.0.0.1");
    FAIL("rendezvous succeeded without rank 1");
  } catch (const DistributedError& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Contains("memory://test"));
    CHECK_THAT(message, Contains("rank 1's address (key 'gloo/1')"));
    CHECK_THAT(message, Contains("rank 0 of 2 waited 0.5 s"));
  }
  const auto elapsed = Clock::now() - start;
  CHECK(elapsed >= timeout);
  CHECK(elapsed < timeout + milliseconds(1500));
}

TEST_CASE("Gloo all_reduce_sum fails with a DistributedError when the peer's communicator is gone",
          "[distribute][gloo]") {
  MemoryStore store;
  std::mutex mutex;
  std::condition_variable cv;
  bool peer_gone = false;
  milliseconds elapsed{-1};
  std::string first_error, second_error;
  run_ranks(2, [&](int rank) {
    std::unique_ptr<Communicator> communicator = make_gloo_communicator(store, rank, 2, kTimeout, "127.0.0.1");
    at::Tensor x = at::ones({1000});
    communicator->all_reduce_sum(x);  // both connected and working
    if (rank == 1) {
      communicator.reset();
      std::lock_guard<std::mutex> lock(mutex);
      peer_gone = true;
      cv.notify_all();
      return;
    }
    if (!wait_for_flag(mutex, cv, peer_gone)) throw std::runtime_error("rank 1 never dropped its communicator");
    const Clock::time_point start = Clock::now();
    try {
      communicator->all_reduce_sum(x);
    } catch (const DistributedError& error) {
      first_error = error.what();
    }
    elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    try {
      communicator->barrier();
    } catch (const DistributedError& error) {
      second_error = error.what();
    }
  });
  INFO(first_error);
  CHECK_THAT(first_error, Contains("Gloo all_reduce_sum on rank 0 of 2 failed: "));
  CHECK_THAT(first_error, Contains("a peer process may have died or stopped responding (timeout 2.0 s)"));
  CHECK(elapsed.count() >= 0);
  CHECK(elapsed < kTimeout + milliseconds(1000));
  CHECK_THAT(second_error, Contains("Gloo barrier on rank 0 of 2: the communicator failed earlier"));
}

TEST_CASE("Gloo all_reduce_sum times out with a DistributedError when the peer stops responding",
          "[distribute][gloo]") {
  MemoryStore store;
  const milliseconds timeout{800};
  std::mutex mutex;
  std::condition_variable cv;
  bool rank0_done = false;
  milliseconds elapsed{-1};
  std::string error_text;
  run_ranks(2, [&](int rank) {
    std::unique_ptr<Communicator> communicator = make_gloo_communicator(store, rank, 2, timeout, "127.0.0.1");
    if (rank == 1) {
      // Alive and connected, but never joins the collective; it waits for rank 0 to give up.
      if (!wait_for_flag(mutex, cv, rank0_done)) throw std::runtime_error("rank 0 never gave up");
      return;
    }
    at::Tensor x = at::ones({1000});
    const Clock::time_point start = Clock::now();
    try {
      communicator->all_reduce_sum(x);
    } catch (const DistributedError& error) {
      error_text = error.what();
    }
    elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    std::lock_guard<std::mutex> lock(mutex);
    rank0_done = true;
    cv.notify_all();
  });
  INFO(error_text);
  CHECK_THAT(error_text, Contains("Gloo all_reduce_sum on rank 0 of 2 failed: "));
  CHECK_THAT(error_text, Contains("(timeout 0.8 s)"));
  CHECK(elapsed >= timeout - milliseconds(50));
  CHECK(elapsed < timeout + milliseconds(1000));
}

TEST_CASE("Gloo collectives reject tensors they cannot take with a ValueError", "[distribute][gloo]") {
  MemoryStore store;
  std::unique_ptr<Communicator> communicator = make_gloo_communicator(store, 0, 1, kTimeout, "127.0.0.1");
  CHECK(communicator->backend() == "gloo");
  CHECK(communicator->size() == 1);
  at::Tensor transposed = at::ones({3, 4}).t();
  CHECK_THROWS_WITH(communicator->all_reduce_sum(transposed),
                    Contains("Gloo all_reduce_sum: expected a contiguous tensor, got shape [4, 3] with strides [1, 4]"));
  at::Tensor ints = at::ones({3}, at::kInt);
  CHECK_THROWS_AS(communicator->all_reduce_sum(ints), ValueError);
  CHECK_THROWS_WITH(communicator->all_reduce_sum(ints),
                    Contains("Gloo all_reduce_sum: expected a tensor of dtype Float, Double, Long, got Int"));
  at::Tensor undefined;
  CHECK_THROWS_WITH(communicator->broadcast(undefined, 0), Contains("Gloo broadcast: expected a tensor, got an undefined one"));
  at::Tensor x = at::ones({3});
  CHECK_THROWS_WITH(communicator->broadcast(x, 1), Contains("Gloo broadcast: root must be a rank in [0, 1), got 1"));
  CHECK_THROWS_WITH(communicator->all_gather(transposed), Contains("Gloo all_gather: expected a contiguous tensor"));
  CHECK_THROWS_WITH(make_gloo_communicator(store, 2, 2, kTimeout, "127.0.0.1"),
                    Contains("make_gloo_communicator: rank must be in [0, 2), got 2"));
  CHECK_THROWS_WITH(make_gloo_communicator(store, 0, 1, milliseconds(0), "127.0.0.1"),
                    Contains("make_gloo_communicator: timeout must be positive, got 0 ms"));
  // A single rank: the collectives are identities, all_gather adds the leading dimension.
  communicator->all_reduce_sum(x);
  CHECK(at::equal(x, at::ones({3})));
  CHECK(at::equal(communicator->all_gather(x), at::ones({1, 3})));
}

// A measurement, not a check, so hidden and outside "[distribute]": ./strata_tests "[gloo_bench]" prints the mean time
// of a 1 MiB all-reduce on loopback.
TEST_CASE("Gloo all_reduce_sum of 1 MiB on 2 ranks: time per call", "[.][gloo_bench]") {
  constexpr int kCalls = 200;
  std::vector<double> microseconds(2);
  with_gloo(2, [&](int rank, Communicator& communicator) {
    at::Tensor x = at::ones({(1 << 20) / 4});
    for (int i = 0; i < 10; ++i) communicator.all_reduce_sum(x);
    communicator.barrier();
    const Clock::time_point start = Clock::now();
    for (int i = 0; i < kCalls; ++i) communicator.all_reduce_sum(x);
    microseconds[rank] = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / kCalls;
  });
  WARN("1 MiB float32 all_reduce_sum over 2 ranks (Gloo, loopback): " << microseconds[0] << " us per call");
}

// ---- NCCL ----

namespace {

bool cuda_test_enabled() {
  const char* value = std::getenv("STRATA_TEST_CUDA");
  return value != nullptr && std::string(value) == "1";
}

int cuda_test_devices() {
  const char* value = std::getenv("STRATA_TEST_CUDA_DEVICES");
  return value != nullptr ? std::atoi(value) : 1;
}

}  // namespace

TEST_CASE("make_nccl_communicator in a build without NCCL is a StateError", "[distribute][nccl]") {
  if (nccl_available()) {
    SUCCEED("this build has NCCL");
    return;
  }
  MemoryStore store;
  CHECK_THROWS_AS(make_nccl_communicator(store, 0, 1, 0, kTimeout), StateError);
  CHECK_THROWS_WITH(make_nccl_communicator(store, 0, 1, 0, kTimeout),
                    Contains("this build of Strata has no NCCL: configure with CUDA and NCCL present"));
}

TEST_CASE("NCCL collectives on one GPU", "[distribute][nccl]") {
  if (!nccl_available() || !cuda_test_enabled()) {
    WARN("no GPU (set STRATA_TEST_CUDA=1 where there is one); NCCL tests skipped");
    return;
  }
  MemoryStore store;
  std::unique_ptr<Communicator> communicator = make_nccl_communicator(store, 0, 1, 0, kTimeout);
  CHECK(communicator->backend() == "nccl");
  const auto cuda = at::TensorOptions().device(at::kCUDA, 0);
  // Queued on the default stream just before: the collective must see it, and the multiply after must see the
  // collective's result.
  at::Tensor x = at::ones({1000}, cuda.dtype(at::kFloat)).mul_(3);
  communicator->all_reduce_sum(x);
  at::Tensor y = x * 2;
  CHECK(at::equal(y.cpu(), at::full({1000}, 6.0f)));
  // A long queue of kernels on the default stream before an out-of-place collective: the gathered copy must see
  // their result, not the memory before it.
  at::Tensor product = at::zeros({2048, 2048}, cuda);
  const at::Tensor identity = at::eye(2048, cuda);
  for (int i = 0; i < 20; ++i) product = product.matmul(identity).add_(1);
  const at::Tensor late = communicator->all_gather(product.view({-1}).narrow(0, 0, 10));
  CHECK(at::equal(late.cpu(), at::full({1, 10}, 20.0f)));
  at::Tensor half = at::ones({8}, cuda.dtype(at::kHalf));
  communicator->all_reduce_sum(half);
  CHECK(at::equal(half.cpu(), at::ones({8}, at::kHalf)));
  at::Tensor d = at::arange(12, cuda.dtype(at::kDouble)).view({3, 4});
  communicator->all_reduce_sum(d);
  CHECK(at::equal(d.cpu(), at::arange(12, at::kDouble).view({3, 4})));
  at::Tensor l = at::arange(5, cuda.dtype(at::kLong)).add_(int64_t{1} << 40);
  communicator->broadcast(l, 0);
  CHECK(at::equal(l.cpu(), at::arange(5, at::kLong).add_(int64_t{1} << 40)));
  const at::Tensor gathered = communicator->all_gather(at::arange(6, cuda.dtype(at::kFloat)).view({2, 3}));
  CHECK(gathered.device() == at::Device(at::kCUDA, 0));
  CHECK(at::equal(gathered.cpu(), at::arange(6, at::kFloat).view({1, 2, 3})));
  communicator->barrier();
  at::Tensor cpu = at::ones({3});
  CHECK_THROWS_WITH(communicator->all_reduce_sum(cpu), Contains("NCCL all_reduce_sum: expected a tensor on cuda:0, got one on cpu"));
  at::Tensor ints = at::ones({3}, cuda.dtype(at::kInt));
  CHECK_THROWS_WITH(communicator->all_reduce_sum(ints), Contains("NCCL all_reduce_sum: expected a tensor of dtype Float"));
}

TEST_CASE("NCCL rendezvous and initialisation without the other rank fail within the timeout", "[distribute][nccl]") {
  if (!nccl_available() || !cuda_test_enabled()) {
    WARN("no GPU (set STRATA_TEST_CUDA=1 where there is one); NCCL tests skipped");
    return;
  }
  MemoryStore store;
  const Clock::time_point start = Clock::now();
  CHECK_THROWS_WITH(make_nccl_communicator(store, 1, 2, 0, milliseconds(500)),
                    Contains("rank 0's NCCL unique id (key 'nccl_unique_id') in store memory://test"));
  CHECK(Clock::now() - start < milliseconds(2000));
  // Rank 0 of 2 publishes the id, but nobody joins: the non-blocking initialisation (NCCL >= 2.14) gives up within
  // the timeout.
  const Clock::time_point init_start = Clock::now();
  CHECK_THROWS_AS(make_nccl_communicator(store, 0, 2, 0, milliseconds(1000)), DistributedError);
  CHECK(Clock::now() - init_start < milliseconds(4000));
}

TEST_CASE("NCCL all_reduce_sum, broadcast and all_gather across two GPUs", "[distribute][nccl]") {
  if (!nccl_available() || !cuda_test_enabled() || cuda_test_devices() < 2) {
    WARN("fewer than 2 GPUs (set STRATA_TEST_CUDA=1 STRATA_TEST_CUDA_DEVICES=2 where there are); skipped");
    return;
  }
  MemoryStore store;
  std::vector<at::Tensor> sums(2), broadcasts(2), gathered(2);
  run_ranks(2, [&](int rank) {
    std::unique_ptr<Communicator> communicator = make_nccl_communicator(store, rank, 2, rank, milliseconds(20000));
    const auto cuda = at::TensorOptions().device(at::kCUDA, rank);
    // Rank r contributes (r + 1) (i + 1): the sum is 3 (i + 1).
    at::Tensor x = at::arange(1, 1001, cuda.dtype(at::kFloat)).mul_(rank + 1);
    communicator->all_reduce_sum(x);
    sums[rank] = x.cpu();
    at::Tensor b = at::full({4}, 10.0 * rank, cuda.dtype(at::kDouble));
    communicator->broadcast(b, 1);
    broadcasts[rank] = b.cpu();
    gathered[rank] = communicator->all_gather(at::full({2}, int64_t{rank}, cuda.dtype(at::kLong))).cpu();
    communicator->barrier();
  });
  for (int rank = 0; rank < 2; ++rank) {
    INFO("rank " << rank);
    CHECK(at::equal(sums[rank], at::arange(1, 1001, at::kFloat).mul(3)));
    CHECK(at::equal(broadcasts[rank], at::full({4}, 10.0, at::kDouble)));
    CHECK(at::equal(gathered[rank], at::tensor({0, 0, 1, 1}, at::kLong).view({2, 2})));
  }
}
