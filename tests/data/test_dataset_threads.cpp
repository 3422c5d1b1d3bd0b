// The threaded steps (map with num_parallel_calls, prefetch) and cache: outputs against values written out
// from the inputs, concurrency proven by calls that can only finish together, errors at their position,
// early destruction joining promptly, and caches counted against the input's calls. Every pass runs on a
// helper thread with a deadline, so a deadlock fails its test instead of hanging the suite.

#include <strata/core/error.h>
#include <strata/data/dataset.h>

#include "../savedmodel/temp_dir.h"

#include <ATen/ATen.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

using namespace strata;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

// Runs `body` on its own thread and returns its result, or fails the test when it has not returned within
// `limit` (the stuck thread is left behind: it only holds what `body` captured by value).
template <typename Result>
Result within(std::chrono::milliseconds limit, std::function<Result()> body) {
  auto promise = std::make_shared<std::promise<Result>>();
  std::future<Result> future = promise->get_future();
  std::thread([promise, body = std::move(body)]() mutable {
    // `body` (and what it captured) is destroyed before the caller resumes, so an iterator it shared is
    // destroyed by whoever drops the last reference afterwards, not by this thread at some later time.
    try {
      Result result = body();
      body = nullptr;
      promise->set_value(std::move(result));
    } catch (...) {
      body = nullptr;
      promise->set_exception(std::current_exception());
    }
  }).detach();
  if (future.wait_for(limit) != std::future_status::ready)
    FAIL("still running after " << limit.count() << " ms: a deadlock or a thread that was never stopped");
  return future.get();
}

// One pass, until its end or its exception.
struct Pass {
  std::vector<data::Element> elements;
  std::string error;  // empty: the pass ended normally
  bool ended_after_error = false;  // next() after the exception returned nullopt
};

Pass run_pass(const data::Dataset& dataset, std::chrono::milliseconds limit = 20s) {
  return within<Pass>(limit, [dataset] {
    Pass pass;
    auto iterator = dataset.make_iterator();
    try {
      while (auto element = iterator->next()) pass.elements.push_back(std::move(*element));
    } catch (const std::exception& e) {
      pass.error = e.what();
      try {
        pass.ended_after_error = !iterator->next().has_value();
      } catch (const std::exception&) {  // an input that throws again (a generator read past its failure)
      }
    }
    return pass;
  });
}

std::vector<int64_t> firsts(const std::vector<data::Element>& elements) {
  std::vector<int64_t> out;
  for (const auto& element : elements) out.push_back(element.at(0).item<int64_t>());
  return out;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = i;
  return out;
}

// An input that counts the passes started and the elements pulled; it throws at element `fail_at` (if >= 0)
// and signals `pulled_changed` on every pull.
struct CountingInput {
  std::mutex mutex;
  std::condition_variable pulled_changed;
  int64_t passes = 0, pulled = 0;
  int64_t length = 0, fail_at = -1;

  static std::shared_ptr<CountingInput> make(int64_t length, int64_t fail_at = -1) {
    auto input = std::make_shared<CountingInput>();
    input->length = length;
    input->fail_at = fail_at;
    return input;
  }
  int64_t pulls() {
    std::lock_guard lock(mutex);
    return pulled;
  }
  bool wait_for_pulls(int64_t n) {
    std::unique_lock lock(mutex);
    return pulled_changed.wait_for(lock, 10s, [&] { return pulled >= n; });
  }
};

// Element i of a CountingInput dataset: (i as int64, [i, -i] as float32).
data::Dataset counting_dataset(const std::shared_ptr<CountingInput>& state, int64_t cardinality) {
  return data::Dataset::from_generator(
      [state] {
        {
          std::lock_guard lock(state->mutex);
          ++state->passes;
        }
        return [state, i = int64_t{0}]() mutable -> std::optional<data::Element> {
          {
            std::lock_guard lock(state->mutex);
            ++state->pulled;
          }
          state->pulled_changed.notify_all();
          if (i == state->fail_at) throw std::runtime_error("sensor offline at record " + std::to_string(i));
          if (state->length >= 0 && i >= state->length) return std::nullopt;
          const double v = static_cast<double>(i);
          return data::Element{at::scalar_tensor(i++, at::kLong), at::tensor({v, -v}, at::kFloat)};
        };
      },
      cardinality);
}

}  // namespace

TEST_CASE("parallel map gives the sequential map's elements, in order when deterministic", "[data][threads]") {
  const at::Tensor x = at::arange(40, at::kFloat).reshape({20, 2});
  const auto source = data::Dataset::from_tensor_slices({at::arange(20, at::kLong), x});
  // Uneven work, so that later elements can finish before earlier ones.
  const data::Dataset::MapFunction twice_plus_one = [](data::Element e) {
    const int64_t i = e[0].item<int64_t>();
    at::Tensor y = e[1];
    for (int64_t k = 0; k < (i % 4) * 200; ++k) y = y + 0.0;
    return data::Element{e[0], y * 2 + 1};
  };
  const auto check_values = [&](const std::vector<data::Element>& elements) {
    for (const auto& element : elements) {
      const int64_t i = element[0].item<int64_t>();
      CHECK(element[1].equal(at::tensor({4.0f * i + 1, 4.0f * i + 3})));  // x[i] = (2i, 2i + 1)
    }
  };
  const Pass sequential = run_pass(source.map(twice_plus_one));
  CHECK(sequential.error.empty());
  CHECK(firsts(sequential.elements) == iota(20));
  check_values(sequential.elements);

  for (int64_t threads : {int64_t{1}, int64_t{3}, data::kAutotune}) {
    CAPTURE(threads);
    const auto ordered = source.map(twice_plus_one, {.num_parallel_calls = threads});
    CHECK(ordered.cardinality() == 20);
    const Pass pass = run_pass(ordered);
    CHECK(pass.error.empty());
    CHECK(firsts(pass.elements) == iota(20));
    check_values(pass.elements);
    // A second pass starts over with fresh workers.
    CHECK(firsts(run_pass(ordered).elements) == iota(20));

    const Pass any_order = run_pass(source.map(twice_plus_one, {.num_parallel_calls = threads, .deterministic = false}));
    CHECK(any_order.error.empty());
    std::vector<int64_t> got = firsts(any_order.elements);
    std::sort(got.begin(), got.end());
    CHECK(got == iota(20));
    check_values(any_order.elements);
  }
}

TEST_CASE("parallel map calls the function on N threads at once, without autograd", "[data][threads]") {
  // The first three calls each wait (at most 5 s) until all three have started: only three concurrent
  // workers let every one of them see the others.
  struct Rendezvous {
    std::mutex mutex;
    std::condition_variable arrived_changed;
    int arrived = 0;
    std::vector<bool> met;
    std::set<std::thread::id> threads;
    bool grad_enabled_somewhere = false;
  };
  auto rendezvous = std::make_shared<Rendezvous>();
  const auto mapped = data::Dataset::range(0, 12).map(
      [rendezvous](data::Element e) {
        std::unique_lock lock(rendezvous->mutex);
        rendezvous->grad_enabled_somewhere |= at::GradMode::is_enabled();
        if (e[0].item<int64_t>() < 3) {
          ++rendezvous->arrived;
          rendezvous->arrived_changed.notify_all();
          rendezvous->met.push_back(
              rendezvous->arrived_changed.wait_for(lock, 5s, [&] { return rendezvous->arrived >= 3; }));
          rendezvous->threads.insert(std::this_thread::get_id());
        }
        return e;
      },
      {.num_parallel_calls = 3});
  const Pass pass = run_pass(mapped);
  CHECK(firsts(pass.elements) == iota(12));
  CHECK(rendezvous->met == std::vector<bool>{true, true, true});
  CHECK(rendezvous->threads.size() == 3);
  CHECK(rendezvous->threads.count(std::this_thread::get_id()) == 0);
  CHECK_FALSE(rendezvous->grad_enabled_somewhere);

  // The sequential map runs without autograd too (grad mode is on for this thread).
  bool grad_enabled = true;
  for (const auto& element : data::Dataset::range(0, 1).map([&](data::Element e) {
         grad_enabled = at::GradMode::is_enabled();
         return e;
       }))
    (void)element;
  CHECK(at::GradMode::is_enabled());
  CHECK_FALSE(grad_enabled);
}

TEST_CASE("a map function's exception comes out at its element and ends the pass", "[data][threads]") {
  const auto fails_at_5 = [](data::Element e) {
    if (e[0].item<int64_t>() == 5) throw ValueError("cannot decode record 5");
    return e;
  };
  for (int64_t threads : {int64_t{0}, int64_t{1}, int64_t{4}}) {
    CAPTURE(threads);
    const Pass pass = run_pass(data::Dataset::range(0, 20).map(fails_at_5, {.num_parallel_calls = threads}));
    CHECK(firsts(pass.elements) == iota(5));
    CHECK_THAT(pass.error, Contains("cannot decode record 5"));
    CHECK(pass.ended_after_error);
  }
  // In completion order the failure still ends the pass, after some of the other elements.
  const Pass any_order =
      run_pass(data::Dataset::range(0, 20).map(fails_at_5, {.num_parallel_calls = 4, .deterministic = false}));
  CHECK_THAT(any_order.error, Contains("cannot decode record 5"));
  CHECK(any_order.ended_after_error);
  const std::vector<int64_t> got = firsts(any_order.elements);
  CHECK(std::set<int64_t>(got.begin(), got.end()).size() == got.size());
  CHECK(std::count(got.begin(), got.end(), 5) == 0);

  // The original exception type reaches the consumer.
  auto iterator = data::Dataset::range(0, 20).map(fails_at_5, {.num_parallel_calls = 2}).make_iterator();
  CHECK_THROWS_AS(within<int>(10s,
                              [&iterator] {
                                while (iterator->next()) {
                                }
                                return 0;
                              }),
                  ValueError);
}

TEST_CASE("a generator that throws stops map, batch and prefetch with its error, not a hang", "[data][threads]") {
  for (bool deterministic : {true, false}) {
    CAPTURE(deterministic);
    auto input = CountingInput::make(100, 7);
    const auto pipeline = counting_dataset(input, data::kUnknownCardinality)
                              .map([](data::Element e) { return e; },
                                   {.num_parallel_calls = 3, .deterministic = deterministic})
                              .batch(2)
                              .prefetch(2);
    const Pass pass = run_pass(pipeline);
    CHECK_THAT(pass.error, Contains("sensor offline at record 7"));
    CHECK(pass.ended_after_error);
    if (deterministic) {
      REQUIRE(pass.elements.size() == 3);  // (0, 1), (2, 3), (4, 5); 6 was in the batch the error broke
      for (int64_t b = 0; b < 3; ++b) CHECK(pass.elements[b][0].equal(at::tensor({2 * b, 2 * b + 1}, at::kLong)));
    } else {
      CHECK(pass.elements.size() <= 3);  // the error may overtake elements pulled before it
    }
  }
  // The input's error also ends a parallel map alone, at its position.
  auto input = CountingInput::make(100, 4);
  const Pass pass = run_pass(counting_dataset(input, 100).map([](data::Element e) { return e; },
                                                                {.num_parallel_calls = 2}));
  CHECK(firsts(pass.elements) == iota(4));
  CHECK_THAT(pass.error, Contains("sensor offline at record 4"));
}

TEST_CASE("destroying a parallel map's iterator early joins its workers promptly", "[data][threads]") {
  for (bool deterministic : {true, false}) {
    CAPTURE(deterministic);
    // A fast function: the workers fill the window (2 x 4 elements ahead of the consumer) and block there.
    auto input = CountingInput::make(1000);
    const auto mapped = counting_dataset(input, 1000).map([](data::Element e) { return e; },
                                                          {.num_parallel_calls = 4, .deterministic = deterministic});
    auto iterator = std::shared_ptr<data::Iterator>(mapped.make_iterator());
    CHECK(within<int64_t>(10s, [iterator] {
            int64_t taken = 0;
            while (taken < 3 && iterator->next()) ++taken;
            return taken;
          }) == 3);
    CHECK(input->wait_for_pulls(3 + 8));
    const auto start = std::chrono::steady_clock::now();
    within<int>(10s, [iterator = std::move(iterator)]() mutable {
      iterator.reset();
      return 0;
    });
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK(input->pulls() == 3 + 8);  // the window bounded the read-ahead, and no worker outlived the iterator
  }
  // A slow function: stopping waits only for the calls in progress.
  auto input = CountingInput::make(1000);
  const auto slow = counting_dataset(input, 1000).map(
      [](data::Element e) {
        std::this_thread::sleep_for(20ms);  // work, not synchronization
        return e;
      },
      {.num_parallel_calls = 4});
  const auto start = std::chrono::steady_clock::now();
  CHECK(within<int64_t>(10s, [slow] {
          auto iterator = slow.make_iterator();
          int64_t taken = 0;
          while (taken < 3 && iterator->next()) ++taken;
          return taken;  // the iterator is destroyed here, mid-stream
        }) == 3);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(input->pulls() <= 3 + 8);
}

TEST_CASE("prefetch keeps the order, forwards errors and stops its thread early", "[data][threads]") {
  for (int64_t buffer : {int64_t{0}, int64_t{1}, int64_t{3}, data::kAutotune}) {
    CAPTURE(buffer);
    const auto prefetched = data::Dataset::range(0, 50).prefetch(buffer);
    CHECK(prefetched.cardinality() == 50);
    const Pass pass = run_pass(prefetched);
    CHECK(pass.error.empty());
    CHECK(firsts(pass.elements) == iota(50));

    auto failing = CountingInput::make(100, 7);
    const Pass failed = run_pass(counting_dataset(failing, 100).prefetch(buffer));
    CHECK(firsts(failed.elements) == iota(7));
    CHECK_THAT(failed.error, Contains("sensor offline at record 7"));
    if (buffer != 0) CHECK(failed.ended_after_error);  // prefetch(0) is the generator itself, which may retry
  }
  CHECK_THROWS_WITH(data::Dataset::range(0, 3).prefetch(-2), Contains("buffer_size must be >= 0 or kAutotune"));

  // An endless input: the thread fills 4 slots and waits; destroying the iterator stops it.
  auto endless = CountingInput::make(-1);
  const auto prefetched = counting_dataset(endless, data::kInfiniteCardinality).prefetch(4);
  CHECK(prefetched.cardinality() == data::kInfiniteCardinality);
  auto iterator = std::shared_ptr<data::Iterator>(prefetched.make_iterator());
  CHECK(within<int64_t>(10s, [iterator] { return iterator->next()->at(0).item<int64_t>(); }) == 0);
  CHECK(endless->wait_for_pulls(1 + 4));
  within<int>(10s, [iterator = std::move(iterator)]() mutable {
    iterator.reset();
    return 0;
  });
  CHECK(endless->pulls() == 1 + 4);
}

TEST_CASE("map rejects bad options", "[data][threads]") {
  const auto range = data::Dataset::range(0, 3);
  CHECK_THROWS_WITH(range.map(nullptr), Contains("expected a function"));
  CHECK_THROWS_WITH(range.map([](data::Element e) { return e; }, {.num_parallel_calls = -3}),
                    Contains("num_parallel_calls must be >= 0 or kAutotune"));
}

TEST_CASE("cache() replays the first complete pass from memory without reading the input", "[data][threads]") {
  auto input = CountingInput::make(5);
  const auto cached = counting_dataset(input, 5).map([](data::Element e) { return data::Element{e[0] * 10}; }).cache();
  CHECK(cached.cardinality() == 5);

  // A pass stopped after two elements caches nothing.
  {
    auto iterator = cached.make_iterator();
    CHECK(iterator->next()->at(0).item<int64_t>() == 0);
    CHECK(iterator->next()->at(0).item<int64_t>() == 10);
  }
  CHECK(firsts(cached.elements()) == std::vector<int64_t>{0, 10, 20, 30, 40});
  CHECK(input->passes == 2);
  const int64_t pulls = input->pulls();
  // Later passes, even after the Dataset handle is gone, replay the record.
  auto iterator = data::Dataset(cached).make_iterator();
  std::vector<int64_t> replayed;
  while (auto element = iterator->next()) replayed.push_back(element->at(0).item<int64_t>());
  CHECK(replayed == std::vector<int64_t>{0, 10, 20, 30, 40});
  CHECK(firsts(cached.elements()) == replayed);
  CHECK(input->passes == 2);
  CHECK(input->pulls() == pulls);

  // A pass that fails caches nothing either: the next pass reads the input again.
  auto flaky = CountingInput::make(4, 2);
  const auto flaky_cached = counting_dataset(flaky, 4).cache();
  CHECK_THROWS_WITH(flaky_cached.elements(), Contains("sensor offline at record 2"));
  flaky->fail_at = -1;
  CHECK(firsts(flaky_cached.elements()) == iota(4));
  CHECK(firsts(flaky_cached.elements()) == iota(4));
  CHECK(flaky->passes == 2);
}

TEST_CASE("cache(filename) writes the file once, and a second Dataset reads it instead of its input", "[data][threads]") {
  test_support::TempDir dir;
  const std::string path = dir.file("train.cache");
  // Components of several dtypes and ranks, computed from i.
  const auto element_of = [](int64_t i) {
    return data::Element{at::arange(6, at::kFloat).reshape({2, 3}) + static_cast<double>(i),
                         at::scalar_tensor(i, at::kLong), (at::arange(2, at::kLong) + i) % 2 == 0,
                         at::full({1, 2, 2}, i, at::kByte), at::empty({0, 3}, at::kDouble)};
  };
  auto passes = std::make_shared<int>(0);
  const auto source = data::Dataset::from_generator(
      [element_of, passes] {
        ++*passes;
        return [element_of, i = int64_t{0}]() mutable -> std::optional<data::Element> {
          if (i == 4) return std::nullopt;
          return element_of(i++);
        };
      },
      4);
  const auto cached = source.cache(path);
  CHECK(cached.cardinality() == 4);
  const auto files_in_dir = [&] {
    int64_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++n;
    return n;
  };

  {  // A partial pass leaves no file, and no temporary file either.
    auto iterator = cached.make_iterator();
    CHECK(iterator->next().has_value());
    CHECK(files_in_dir() == 1);  // the partial file while the pass runs
  }
  CHECK(files_in_dir() == 0);

  const auto check_elements = [&](const std::vector<data::Element>& elements) {
    REQUIRE(elements.size() == 4);
    for (int64_t i = 0; i < 4; ++i) {
      const data::Element expected = element_of(i);
      REQUIRE(elements[i].size() == expected.size());
      for (size_t c = 0; c < expected.size(); ++c) {
        CAPTURE(i, c);
        CHECK(elements[i][c].scalar_type() == expected[c].scalar_type());
        CHECK(elements[i][c].sizes() == expected[c].sizes());
        CHECK(elements[i][c].equal(expected[c]));
      }
    }
  };
  check_elements(cached.elements());
  CHECK(std::filesystem::exists(path));
  CHECK(files_in_dir() == 1);
  CHECK(*passes == 2);
  check_elements(cached.elements());
  CHECK(*passes == 2);

  // "A second process": another Dataset naming the file never touches its own input.
  const auto unread = data::Dataset::from_generator(
      []() -> data::Dataset::Generator { throw std::logic_error("the input of a filled cache was read"); }, 4);
  check_elements(unread.cache(path).elements());
  CHECK(unread.cache(path).cardinality() == 4);

  // A failing first pass writes nothing.
  auto flaky = CountingInput::make(4, 2);
  const std::string flaky_path = dir.file("flaky.cache");
  CHECK_THROWS_WITH(counting_dataset(flaky, 4).cache(flaky_path).elements(), Contains("sensor offline at record 2"));
  CHECK_FALSE(std::filesystem::exists(flaky_path));
  CHECK(files_in_dir() == 1);

  // A directory that does not exist.
  const std::string nowhere = dir.file("missing/train.cache");
  CHECK_THROWS_AS(source.cache(nowhere).elements(), IOError);
  CHECK_THROWS_WITH(source.cache(nowhere).elements(), Contains(nowhere));
}

TEST_CASE("a corrupt or truncated cache file is an IOError naming it", "[data][threads]") {
  test_support::TempDir dir;
  const auto source = data::Dataset::from_tensor_slices({at::arange(12, at::kFloat).reshape({4, 3})});
  const std::string good = dir.file("good.cache");
  REQUIRE(source.cache(good).elements().size() == 4);
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto write = [&](const std::string& name, const std::string& content) {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  };

  const std::string garbage = write("garbage.cache", "this is not a cache file at all");
  CHECK_THROWS_AS(source.cache(garbage).elements(), IOError);
  CHECK_THROWS_WITH(source.cache(garbage).elements(), Contains(garbage) && Contains("not a Strata dataset cache"));

  for (size_t cut : {size_t{5}, bytes.size() / 2, bytes.size() - 10}) {  // the last leaves magic + half the version
    CAPTURE(cut);
    const std::string truncated = write("truncated.cache", bytes.substr(0, bytes.size() - cut));
    CHECK_THROWS_AS(source.cache(truncated).elements(), IOError);
    CHECK_THROWS_WITH(source.cache(truncated).elements(), Contains(truncated) && Contains("truncated or corrupt"));
  }
  const std::string trailing = write("trailing.cache", bytes + "x");
  CHECK_THROWS_WITH(source.cache(trailing).elements(), Contains(trailing) && Contains("bytes follow the end record"));
  // The reference file itself still reads back.
  CHECK(source.cache(good).elements().at(3)[0].equal(at::tensor({9.0f, 10.0f, 11.0f})));
}
