#pragma once
// Dataset: tf.data's input pipeline. A Dataset is an immutable, cheaply copied handle on a chain of steps
// (sources, then transformations); every pass over it (a range-for, fit()'s epoch) makes a fresh Iterator
// that pulls elements through the chain one at a time. An element is a tuple of tensors, e.g. (image, label)
// or (x, y, sample_weight); fit() reads the first tensors as the model's inputs, the next as its targets and
// any after those as sample weights (see models/model.h).
//
//   auto train = data::Dataset::from_tensor_slices({x_train, y_train})
//                    .shuffle(10000, {.seed = 42}).batch(128).prefetch(data::kAutotune);
//   model.fit(train, {.epochs = 5});
//
// Iteration is deterministic for fixed seeds (parallel map keeps the input order) unless a step is told
// otherwise (`deterministic = false`). Errors thrown inside a user function or a reader come out of the
// Iterator's next() on the consuming thread; background threads stop when their iterator is destroyed.
// Each transformation lives in its own source file (data/<name>.cpp); this header is the whole API.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::data {

using Element = std::vector<at::Tensor>;

inline constexpr int64_t kInfiniteCardinality = -1;  // tf.data.INFINITE_CARDINALITY
inline constexpr int64_t kUnknownCardinality = -2;   // tf.data.UNKNOWN_CARDINALITY
inline constexpr int64_t kAutotune = -1;             // tf.data.AUTOTUNE: as many threads/buffers as cores

// One pass over a dataset. Not thread-safe: one consumer. next() returns nullopt once the pass is over
// (and again on every later call).
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual std::optional<Element> next() = 0;
};

// One step of a pipeline. Shared between the Datasets built on it; make_iterator() must be callable from
// any thread and start an independent pass each time.
class DatasetNode {
 public:
  virtual ~DatasetNode() = default;
  virtual std::unique_ptr<Iterator> make_iterator() const = 0;
  // Number of elements, or kInfiniteCardinality / kUnknownCardinality.
  virtual int64_t cardinality() const = 0;
  // The step as the user wrote it ("batch(32)"), for error messages.
  virtual std::string describe() const = 0;
};

struct BatchOptions {
  bool drop_remainder = false;
};

struct PaddedBatchOptions {
  // Per component: the padded shape without the batch dimension, -1 for "the longest in the batch".
  // Empty: every dimension of every component pads to the longest in the batch.
  std::vector<std::vector<int64_t>> padded_shapes = {};
  // Per component: the padding value (empty: 0 everywhere).
  std::vector<double> padding_values = {};
  bool drop_remainder = false;
};

struct ShuffleOptions {
  // Without a seed, shuffle() draws one from the global generator (set_random_seed) when it is called.
  std::optional<uint64_t> seed = std::nullopt;
  // A new order on every pass (pass k uses (seed, k)); false repeats the first pass' order.
  bool reshuffle_each_iteration = true;
};

struct MapOptions {
  // 0 (default): map on the consuming thread; N >= 1: a pool of N worker threads; kAutotune: one per core.
  int64_t num_parallel_calls = 0;
  // true: elements come out in input order; false lets a fast element overtake a slow one.
  bool deterministic = true;
};

class Dataset {
 public:
  using MapFunction = std::function<Element(Element)>;  // called concurrently with num_parallel_calls
  using Predicate = std::function<bool(const Element&)>;
  using Generator = std::function<std::optional<Element>()>;  // nullopt ends the pass

  explicit Dataset(std::shared_ptr<const DatasetNode> node);

  // ----- sources (data/sources.cpp)
  // Slices every tensor along its first dimension (all must have the same length): element i is
  // {t[i] for t in tensors}. The tensors are kept as they are (no copy).
  static Dataset from_tensor_slices(Element tensors);
  // One element: the tensors themselves.
  static Dataset from_tensors(Element tensors);
  // int64 scalars start, start + step, ... below stop (above it for a negative step).
  static Dataset range(int64_t start, int64_t stop, int64_t step = 1);
  // Every pass calls make_generator() for a fresh generator and pulls from it until nullopt; an exception it
  // throws ends iteration with that exception. `cardinality` is what cardinality() reports.
  static Dataset from_generator(std::function<Generator()> make_generator,
                                int64_t cardinality = kUnknownCardinality);

  // ----- transformations; each returns a new Dataset and leaves this one unchanged
  Dataset map(MapFunction function, MapOptions options = {}) const;             // data/map.cpp
  Dataset filter(Predicate predicate) const;                                    // data/filter.cpp
  Dataset batch(int64_t batch_size, BatchOptions options = {}) const;           // data/batch.cpp
  Dataset padded_batch(int64_t batch_size, PaddedBatchOptions options = {}) const;  // data/padded_batch.cpp
  Dataset unbatch() const;                                                      // data/unbatch.cpp
  Dataset shuffle(int64_t buffer_size, ShuffleOptions options = {}) const;      // data/shuffle.cpp
  Dataset repeat(int64_t count = -1) const;  // -1: forever                     // data/repeat.cpp
  Dataset take(int64_t count) const;         // -1: all                         // data/take_skip.cpp
  Dataset skip(int64_t count) const;         // -1: all                         // data/take_skip.cpp
  Dataset shard(int64_t num_shards, int64_t index) const;  // every num_shards-th element from index
  // "" caches in memory during the first complete pass; a path writes the elements to that file during the
  // first complete pass and later passes (and later processes) read the file instead of the input.
  // A pass that stops early caches nothing. The file format is described at the top of data/cache.cpp.
  Dataset cache(const std::string& filename = "") const;                        // data/cache.cpp
  // Produces up to buffer_size elements ahead on a background thread (kAutotune: a small default).
  Dataset prefetch(int64_t buffer_size) const;                                  // data/prefetch.cpp
  Dataset concatenate(const Dataset& other) const;                              // data/concatenate.cpp
  // Prepends an int64 scalar counter (start, start + 1, ...) to every element.
  Dataset enumerate(int64_t start = 0) const;                                   // data/enumerate.cpp
  // Element i is the concatenation of element i of each dataset; ends with the shortest.
  static Dataset zip(const std::vector<Dataset>& datasets);                     // data/zip.cpp

  // ----- inspection and iteration (data/dataset.cpp)
  int64_t cardinality() const { return node_->cardinality(); }
  std::unique_ptr<Iterator> make_iterator() const { return node_->make_iterator(); }
  // Every element of one pass (throws for an infinite dataset).
  std::vector<Element> elements() const;
  const std::shared_ptr<const DatasetNode>& node() const { return node_; }

  // Range-for over one pass: for (const data::Element& element : dataset) { ... }
  class Cursor {
   public:
    explicit Cursor(std::unique_ptr<Iterator> iterator);
    const Element& operator*() const { return *current_; }
    Cursor& operator++();
    bool operator!=(std::nullptr_t) const { return current_.has_value(); }

   private:
    std::unique_ptr<Iterator> iterator_;
    std::optional<Element> current_;
  };
  Cursor begin() const { return Cursor(make_iterator()); }
  std::nullptr_t end() const { return nullptr; }

 private:
  std::shared_ptr<const DatasetNode> node_;
};

}  // namespace strata::data
