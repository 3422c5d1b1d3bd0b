// The sequential transformations (filter, padded_batch, unbatch, shuffle, repeat, take, skip, shard,
// concatenate, enumerate, zip): elements against values written out by hand, cardinalities against the
// numbers tf.data 2.15 reports for the same pipelines, and the errors.

#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

using namespace strata;
using Catch::Matchers::Contains;
using data::Dataset;
using data::kInfiniteCardinality;
using data::kUnknownCardinality;

namespace {

// Component `c` of every element of one pass, each an integer scalar.
std::vector<int64_t> scalars(const Dataset& dataset, size_t c = 0) {
  std::vector<int64_t> out;
  for (const auto& element : dataset) out.push_back(element.at(c).item<int64_t>());
  return out;
}

std::vector<int64_t> pass_of(const Dataset& dataset) { return scalars(dataset); }

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), 0);
  return out;
}

bool is_permutation_of_range(std::vector<int64_t> values, int64_t n) {
  std::sort(values.begin(), values.end());
  return values == iota(n);
}

// Variable-length int64 sequences: element i is `lengths[i]` copies of i + 1.
Dataset sequences(std::vector<int64_t> lengths) {
  return Dataset::from_generator([lengths] {
    return [lengths, i = size_t{0}]() mutable -> std::optional<data::Element> {
      if (i == lengths.size()) return std::nullopt;
      const int64_t value = static_cast<int64_t>(i) + 1;
      return data::Element{at::full({lengths[i++]}, value, at::kLong)};
    };
  });
}

at::Tensor longs(std::vector<int64_t> values, std::vector<int64_t> shape) {
  return at::tensor(values, at::kLong).reshape(shape);
}

}  // namespace

TEST_CASE("filter keeps the elements the predicate accepts", "[data][transforms]") {
  const auto even = Dataset::range(0, 10).filter([](const data::Element& e) { return e[0].item<int64_t>() % 2 == 0; });
  CHECK(pass_of(even) == std::vector<int64_t>{0, 2, 4, 6, 8});
  CHECK(pass_of(even) == std::vector<int64_t>{0, 2, 4, 6, 8});  // a second pass starts over
  CHECK(even.cardinality() == kUnknownCardinality);
  CHECK(pass_of(Dataset::range(0, 5).filter([](const data::Element&) { return false; })).empty());
  const auto throwing = Dataset::range(0, 5).filter([](const data::Element& e) -> bool {
    if (e[0].item<int64_t>() == 2) throw std::runtime_error("bad record 2");
    return true;
  });
  auto iterator = throwing.make_iterator();
  CHECK(iterator->next()->at(0).item<int64_t>() == 0);
  CHECK(iterator->next()->at(0).item<int64_t>() == 1);
  CHECK_THROWS_WITH(iterator->next(), Contains("bad record 2"));
  CHECK_THROWS_WITH(Dataset::range(0, 3).filter(nullptr), Contains("expected a predicate"));
}

TEST_CASE("take and skip", "[data][transforms]") {
  const auto r = Dataset::range(0, 10);
  CHECK(pass_of(r.take(3)) == std::vector<int64_t>{0, 1, 2});
  CHECK(pass_of(r.take(0)).empty());
  CHECK(pass_of(r.take(20)) == iota(10));
  CHECK(pass_of(r.take(-1)) == iota(10));
  CHECK(pass_of(r.skip(7)) == std::vector<int64_t>{7, 8, 9});
  CHECK(pass_of(r.skip(0)) == iota(10));
  CHECK(pass_of(r.skip(20)).empty());
  CHECK(pass_of(r.skip(-1)).empty());
  CHECK(pass_of(r.skip(2).take(3)) == std::vector<int64_t>{2, 3, 4});

  // take() stops pulling at its count, so it ends an endless generator.
  int pulled = 0;
  const auto endless = Dataset::from_generator([&pulled] {
    return [&pulled]() -> std::optional<data::Element> {
      return data::Element{at::scalar_tensor(static_cast<int64_t>(pulled++), at::kLong)};
    };
  }, kInfiniteCardinality);
  CHECK(pass_of(endless.take(4)) == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(pulled == 4);
}

TEST_CASE("shard picks every num_shards-th element from index", "[data][transforms]") {
  const auto r = Dataset::range(0, 10);
  CHECK(pass_of(r.shard(3, 1)) == std::vector<int64_t>{1, 4, 7});
  CHECK(pass_of(r.shard(3, 0)) == std::vector<int64_t>{0, 3, 6, 9});
  CHECK(pass_of(r.shard(3, 2)) == std::vector<int64_t>{2, 5, 8});
  CHECK(pass_of(r.shard(1, 0)) == iota(10));
  CHECK(pass_of(r.shard(20, 15)).empty());
  CHECK_THROWS_AS(r.shard(3, 3), ValueError);
  CHECK_THROWS_WITH(r.shard(3, 3), Contains("index must be in [0, 2]") && Contains("got 3"));
  CHECK_THROWS_WITH(r.shard(3, -1), Contains("got -1"));
  CHECK_THROWS_WITH(r.shard(0, 0), Contains("num_shards must be >= 1, got 0"));
}

TEST_CASE("repeat passes over the input count times or forever", "[data][transforms]") {
  const auto r = Dataset::range(0, 3);
  CHECK(pass_of(r.repeat(2)) == std::vector<int64_t>{0, 1, 2, 0, 1, 2});
  CHECK(pass_of(r.repeat(1)) == iota(3));
  CHECK(pass_of(r.repeat(0)).empty());
  CHECK(pass_of(r.repeat().take(7)) == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0});
  CHECK(pass_of(r.repeat(-1).skip(5).take(3)) == std::vector<int64_t>{2, 0, 1});

  // An input whose pass yields nothing ends repeat(-1) as in tf.data. The input throws after a few passes,
  // so a repeat that kept asking fails here instead of hanging the suite.
  int passes = 0;
  const auto empty_after_first = Dataset::from_generator([&passes] {
    if (++passes > 5) throw std::runtime_error("repeat kept starting passes");
    return [n = passes == 1 ? 2 : 0, i = 0]() mutable -> std::optional<data::Element> {
      if (i == n) return std::nullopt;
      return data::Element{at::scalar_tensor(static_cast<int64_t>(i++), at::kLong)};
    };
  });
  CHECK(pass_of(empty_after_first.repeat()) == std::vector<int64_t>{0, 1});
  CHECK(passes == 2);
  CHECK(pass_of(Dataset::range(0, 0).repeat()).empty());
  const auto none_kept = Dataset::range(0, 4).filter([](const data::Element&) { return false; });
  CHECK(pass_of(none_kept.repeat()).empty());
}

TEST_CASE("concatenate yields the first dataset then the second", "[data][transforms]") {
  const auto joined = Dataset::range(0, 3).concatenate(Dataset::range(10, 12));
  CHECK(pass_of(joined) == std::vector<int64_t>{0, 1, 2, 10, 11});
  CHECK(pass_of(joined) == std::vector<int64_t>{0, 1, 2, 10, 11});
  CHECK(pass_of(Dataset::range(0, 0).concatenate(Dataset::range(0, 2))) == std::vector<int64_t>{0, 1});

  const auto pairs = Dataset::from_tensor_slices({at::zeros({2, 3}), at::arange(2, at::kLong)});
  CHECK_THROWS_AS(pairs.concatenate(Dataset::range(0, 3)).elements(), ShapeError);
  CHECK_THROWS_WITH(pairs.concatenate(Dataset::range(0, 3)).elements(),
                    Contains("element 0 of the second dataset (range(0, 3, 1)) has 1 components") &&
                        Contains("the first dataset (from_tensor_slices) has 2"));
  CHECK_THROWS_WITH(Dataset::range(0, 2).concatenate(Dataset::from_tensor_slices({at::zeros({2})})).elements(),
                    Contains("dtype Float in component 0") && Contains("(range(0, 2, 1)) has Long"));
}

TEST_CASE("enumerate prepends an int64 counter", "[data][transforms]") {
  const at::Tensor x = at::arange(6, at::kFloat).reshape({3, 2});
  const auto numbered = Dataset::from_tensor_slices({x}).enumerate(5);
  const auto elements = numbered.elements();
  REQUIRE(elements.size() == 3);
  for (int64_t i = 0; i < 3; ++i) {
    REQUIRE(elements[i].size() == 2);
    CHECK(elements[i][0].dim() == 0);
    CHECK(elements[i][0].scalar_type() == at::kLong);
    CHECK(elements[i][0].item<int64_t>() == 5 + i);
    CHECK(elements[i][1].equal(x[i]));
  }
  CHECK(scalars(Dataset::range(10, 13).enumerate()) == std::vector<int64_t>{0, 1, 2});
  CHECK(scalars(Dataset::range(10, 13).enumerate(), 1) == std::vector<int64_t>{10, 11, 12});
}

TEST_CASE("zip concatenates the components and ends with the shortest", "[data][transforms]") {
  const at::Tensor x = at::arange(8, at::kFloat).reshape({4, 2});
  const auto pairs = Dataset::from_tensor_slices({x, at::arange(4, at::kLong)});
  const auto zipped = Dataset::zip({Dataset::range(100, 103), pairs});
  const auto elements = zipped.elements();
  REQUIRE(elements.size() == 3);
  for (int64_t i = 0; i < 3; ++i) {
    REQUIRE(elements[i].size() == 3);
    CHECK(elements[i][0].item<int64_t>() == 100 + i);
    CHECK(elements[i][1].equal(x[i]));
    CHECK(elements[i][2].item<int64_t>() == i);
  }
  CHECK(scalars(Dataset::zip({Dataset::range(0, 3).repeat(), Dataset::range(0, 5)}), 1) == iota(5));
  CHECK(scalars(Dataset::zip({Dataset::range(0, 2)})) == iota(2));
  CHECK_THROWS_WITH(Dataset::zip({}), Contains("at least one dataset"));
}

TEST_CASE("unbatch splits every component along the first dimension", "[data][transforms]") {
  const at::Tensor x = at::arange(6, at::kFloat).reshape({3, 2}), y = at::tensor({7, 8, 9}, at::kLong);
  const auto rows = Dataset::from_tensors({x, y}).unbatch().elements();
  REQUIRE(rows.size() == 3);
  for (int64_t i = 0; i < 3; ++i) {
    CHECK(rows[i][0].equal(x[i]));
    CHECK(rows[i][1].item<int64_t>() == 7 + i);
  }
  CHECK(pass_of(Dataset::range(0, 10).batch(4).unbatch()) == iota(10));
  // A batch with no rows contributes nothing.
  CHECK(pass_of(sequences({2, 0, 1}).unbatch()) == std::vector<int64_t>{1, 1, 3});

  CHECK_THROWS_AS(Dataset::from_tensors({at::zeros({3}), at::zeros({2})}).unbatch().elements(), ShapeError);
  CHECK_THROWS_WITH(Dataset::from_tensors({at::zeros({3}), at::zeros({2, 4})}).unbatch().elements(),
                    Contains("unbatch(): element 0 of the input") && Contains("component 0 of shape [3]") &&
                        Contains("component 1 of shape [2, 4]"));
  CHECK_THROWS_WITH(Dataset::range(0, 3).unbatch().elements(), Contains("a scalar in component 0"));
}

TEST_CASE("padded_batch pads each component to the longest in the batch", "[data][transforms]") {
  // Lengths 1, 3, 2: element i holds i + 1.
  const auto batches = sequences({1, 3, 2}).padded_batch(2).elements();
  REQUIRE(batches.size() == 2);
  CHECK(batches[0][0].equal(longs({1, 0, 0, 2, 2, 2}, {2, 3})));
  CHECK(batches[1][0].equal(longs({3, 3}, {1, 2})));
  CHECK(sequences({1, 3, 2}).padded_batch(2, {.drop_remainder = true}).elements().size() == 1);

  // A fixed length and a padding value; -1 keeps "longest" for a dimension.
  const auto fixed = sequences({1, 3}).padded_batch(2, {.padded_shapes = {{5}}, .padding_values = {-1}}).elements();
  REQUIRE(fixed.size() == 1);
  CHECK(fixed[0][0].equal(longs({1, -1, -1, -1, -1, 2, 2, 2, -1, -1}, {2, 5})));
  CHECK(fixed[0][0].scalar_type() == at::kLong);

  // Two components, rank 2 ragged in both dimensions, and a scalar label; padded_shapes {-1, 3} fixes one.
  const at::Tensor a = at::ones({1, 2}), b = at::full({2, 1}, 2.0);
  const auto two = Dataset::from_generator([a, b] {
    return [a, b, i = 0]() mutable -> std::optional<data::Element> {
      if (i == 2) return std::nullopt;
      const at::Tensor label = at::scalar_tensor(static_cast<int64_t>(i), at::kLong);
      return data::Element{i++ == 0 ? a : b, label};
    };
  });
  const auto padded = two.padded_batch(2, {.padding_values = {0.5, -7}}).elements().at(0);
  CHECK(padded[0].allclose(at::tensor({1.0f, 1.0f, 0.5f, 0.5f, 2.0f, 0.5f, 2.0f, 0.5f}).reshape({2, 2, 2})));
  CHECK(padded[1].equal(longs({0, 1}, {2})));
  const auto wide = two.padded_batch(2, {.padded_shapes = {{-1, 3}, {}}}).elements().at(0);
  CHECK(wide[0].sizes() == at::IntArrayRef{2, 2, 3});
  CHECK(wide[0][1].equal(at::tensor({2.0f, 0.0f, 0.0f, 2.0f, 0.0f, 0.0f}).reshape({2, 3})));

  CHECK(sequences({1, 2, 3, 4, 5}).padded_batch(2).cardinality() == kUnknownCardinality);
  CHECK(Dataset::range(0, 10).padded_batch(3).cardinality() == 4);
  CHECK(Dataset::range(0, 10).padded_batch(3, {.drop_remainder = true}).cardinality() == 3);
  CHECK(Dataset::range(0, 10).padded_batch(3).elements().at(3)[0].equal(longs({9}, {1})));
}

TEST_CASE("padded_batch errors name the component, the element and the shapes", "[data][transforms]") {
  CHECK_THROWS_AS(sequences({1, 3}).padded_batch(2, {.padded_shapes = {{2}}}).elements(), ShapeError);
  CHECK_THROWS_WITH(sequences({1, 1, 2, 3}).padded_batch(2, {.padded_shapes = {{2}}}).elements(),
                    Contains("padded_batch(2): component 0 of element 3 has shape [3], larger than its padded shape [2]"));
  CHECK_THROWS_WITH(sequences({1, 3}).padded_batch(2, {.padded_shapes = {{2, 2}}}).elements(),
                    Contains("padded_shapes[0] = [2, 2] has rank 2 but component 0 of element 0 has shape [1]"));
  CHECK_THROWS_WITH(sequences({1, 3}).padded_batch(2, {.padded_shapes = {{2}, {}}}).elements(),
                    Contains("padded_shapes has 2 entries but the elements have 1 components"));
  CHECK_THROWS_WITH(sequences({1, 3}).padded_batch(2, {.padding_values = {1, 2}}).elements(),
                    Contains("padding_values has 2 entries"));
  const auto mixed_rank = Dataset::from_generator([] {
    return [i = 0]() mutable -> std::optional<data::Element> {
      if (i == 2) return std::nullopt;
      return data::Element{i++ == 0 ? at::zeros({2}) : at::zeros({2, 2})};
    };
  });
  CHECK_THROWS_WITH(mixed_rank.padded_batch(2).elements(),
                    Contains("component 0 of element 1 has shape [2, 2] but of element 0 has shape [2]") &&
                        Contains("same rank"));
  CHECK_THROWS_WITH(Dataset::range(0, 3).padded_batch(0), Contains("batch_size must be >= 1, got 0"));
  CHECK_THROWS_WITH(Dataset::range(0, 3).padded_batch(2, {.padded_shapes = {{-2}}}), Contains("below -1"));
}

TEST_CASE("shuffle: a fixed seed repeats, passes reshuffle, the buffer bounds how far elements move",
          "[data][transforms]") {
  const auto a = Dataset::range(0, 10).shuffle(10, {.seed = 1});
  const auto b = Dataset::range(0, 10).shuffle(10, {.seed = 1});
  const auto a0 = pass_of(a), a1 = pass_of(a);
  CHECK(is_permutation_of_range(a0, 10));
  CHECK(is_permutation_of_range(a1, 10));
  CHECK(a0 != iota(10));
  CHECK(a0 != a1);  // reshuffle_each_iteration: pass 1 uses (seed, 1)
  CHECK(pass_of(b) == a0);
  CHECK(pass_of(b) == a1);
  CHECK(pass_of(Dataset::range(0, 10).shuffle(10, {.seed = 2})) != a0);

  // Without reshuffling every pass is pass 0's order.
  const auto fixed = Dataset::range(0, 10).shuffle(10, {.seed = 1, .reshuffle_each_iteration = false});
  CHECK(pass_of(fixed) == a0);
  CHECK(pass_of(fixed) == a0);

  // shuffle().repeat(): each repetition is a fresh pass of the shuffle, so a fresh order.
  const auto twice = pass_of(Dataset::range(0, 10).shuffle(10, {.seed = 1}).repeat(2));
  REQUIRE(twice.size() == 20);
  CHECK(std::vector<int64_t>(twice.begin(), twice.begin() + 10) == a0);
  CHECK(std::vector<int64_t>(twice.begin() + 10, twice.end()) == a1);

  // A buffer of 1 keeps the order; a buffer of b emits position i from the first i + b elements.
  CHECK(pass_of(Dataset::range(0, 10).shuffle(1, {.seed = 3})) == iota(10));
  std::map<int64_t, int> first_values;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const auto order = pass_of(Dataset::range(0, 10).shuffle(2, {.seed = seed}));
    REQUIRE(is_permutation_of_range(order, 10));
    for (size_t i = 0; i < order.size(); ++i) CHECK(order[i] <= static_cast<int64_t>(i) + 1);
    ++first_values[order[0]];
  }
  CHECK(first_values.size() == 2);

  // A chain repeats exactly for a seed.
  const auto batched = [] { return Dataset::range(0, 10).shuffle(4, {.seed = 1}).batch(3); };
  std::vector<at::Tensor> first, second;
  for (const auto& batch : batched()) first.push_back(batch[0]);
  for (const auto& batch : batched()) second.push_back(batch[0]);
  REQUIRE(first.size() == 4);
  REQUIRE(second.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(first[i].equal(second[i]));
  CHECK(first[3].size(0) == 1);
  CHECK(is_permutation_of_range(scalars(batched().unbatch()), 10));

  CHECK(Dataset::range(0, 10).shuffle(3).cardinality() == 10);
  CHECK_THROWS_WITH(Dataset::range(0, 3).shuffle(0), Contains("buffer_size must be >= 1, got 0"));
}

TEST_CASE("shuffle with a full buffer gives every permutation uniformly", "[data][transforms]") {
  std::map<std::vector<int64_t>, int> permutations;
  for (uint64_t seed = 0; seed < 1200; ++seed) ++permutations[pass_of(Dataset::range(0, 3).shuffle(3, {.seed = seed}))];
  CHECK(permutations.size() == 6);
  for (const auto& [order, count] : permutations) {
    INFO("permutation starting " << order[0] << order[1] << order[2]);
    CHECK(count > 120);  // expected 200, standard deviation about 13
    CHECK(count < 280);
  }
  // Where each of 5 values lands over many passes of one dataset (reshuffled each pass).
  const auto five = Dataset::range(0, 5).shuffle(8, {.seed = 11});
  int lands[5][5] = {};
  for (int pass = 0; pass < 1000; ++pass) {
    const auto order = pass_of(five);
    for (int position = 0; position < 5; ++position) ++lands[order[position]][position];
  }
  for (int value = 0; value < 5; ++value)
    for (int position = 0; position < 5; ++position) {
      INFO("value " << value << " at position " << position);
      CHECK(lands[value][position] > 140);  // expected 200, standard deviation about 13
      CHECK(lands[value][position] < 260);
    }
}

TEST_CASE("an unseeded shuffle draws its seed from set_random_seed's generator when it is made",
          "[data][transforms]") {
  set_random_seed(7);
  const auto a = Dataset::range(0, 10).shuffle(10);
  at::rand({3});  // later draws do not change a's order
  const auto a0 = pass_of(a), a1 = pass_of(a);
  set_random_seed(7);
  const auto b = Dataset::range(0, 10).shuffle(10);
  CHECK(pass_of(b) == a0);
  CHECK(pass_of(b) == a1);
  CHECK(pass_of(Dataset::range(0, 10).shuffle(10)) != a0);  // the next draw gives another seed
}

TEST_CASE("iterators keep their inputs alive after the Dataset handle is gone", "[data][transforms]") {
  std::unique_ptr<data::Iterator> iterator;
  {
    const auto pipeline = Dataset::zip({Dataset::range(0, 4).shuffle(4, {.seed = 5}).repeat(2).skip(1),
                                        Dataset::range(0, 100).concatenate(Dataset::range(0, 3)).enumerate()})
                              .filter([](const data::Element&) { return true; })
                              .take(6)
                              .shard(2, 0)
                              .padded_batch(2)
                              .unbatch();
    iterator = pipeline.make_iterator();
  }
  std::vector<int64_t> counters;
  while (auto element = iterator->next()) counters.push_back(element->at(1).item<int64_t>());
  CHECK(counters == std::vector<int64_t>{0, 2, 4});
}

TEST_CASE("cardinalities follow tf.data's rules", "[data][transforms]") {
  const auto r = Dataset::range(0, 10);
  const auto infinite = r.repeat();
  const auto unknown = r.filter([](const data::Element&) { return true; });
  const auto empty = Dataset::range(0, 0);
  // The expected numbers are what tf.data 2.15's cardinality() returns for the same pipelines.
  CHECK(infinite.cardinality() == kInfiniteCardinality);
  CHECK(r.take(3).cardinality() == 3);
  CHECK(r.take(20).cardinality() == 10);
  CHECK(r.take(-1).cardinality() == 10);
  CHECK(infinite.take(4).cardinality() == 4);
  CHECK(infinite.take(-1).cardinality() == kInfiniteCardinality);
  CHECK(unknown.take(3).cardinality() == kUnknownCardinality);
  CHECK(unknown.take(0).cardinality() == kUnknownCardinality);

  CHECK(r.skip(3).cardinality() == 7);
  CHECK(r.skip(20).cardinality() == 0);
  CHECK(r.skip(-1).cardinality() == 0);
  CHECK(infinite.skip(4).cardinality() == kInfiniteCardinality);
  CHECK(unknown.skip(3).cardinality() == kUnknownCardinality);

  CHECK(r.shard(3, 0).cardinality() == 4);
  CHECK(r.shard(3, 1).cardinality() == 3);
  CHECK(r.shard(3, 2).cardinality() == 3);
  CHECK(infinite.shard(3, 1).cardinality() == kInfiniteCardinality);
  CHECK(unknown.shard(3, 1).cardinality() == kUnknownCardinality);

  CHECK(r.repeat(3).cardinality() == 30);
  CHECK(r.repeat(0).cardinality() == 0);
  CHECK(empty.repeat().cardinality() == 0);
  CHECK(empty.repeat(3).cardinality() == 0);
  CHECK(unknown.repeat().cardinality() == kInfiniteCardinality);
  CHECK(unknown.repeat(0).cardinality() == 0);
  CHECK(unknown.repeat(2).cardinality() == kUnknownCardinality);
  CHECK(infinite.repeat(2).cardinality() == kInfiniteCardinality);
  CHECK(infinite.repeat(0).cardinality() == 0);

  CHECK(r.concatenate(r).cardinality() == 20);
  CHECK(r.concatenate(infinite).cardinality() == kInfiniteCardinality);
  CHECK(unknown.concatenate(infinite).cardinality() == kInfiniteCardinality);
  CHECK(r.concatenate(unknown).cardinality() == kUnknownCardinality);

  CHECK(Dataset::zip({r, infinite}).cardinality() == 10);
  CHECK(Dataset::zip({r.take(3), r}).cardinality() == 3);
  CHECK(Dataset::zip({r, unknown}).cardinality() == kUnknownCardinality);
  CHECK(Dataset::zip({infinite, infinite}).cardinality() == kInfiniteCardinality);
  CHECK(Dataset::zip({infinite, unknown}).cardinality() == kUnknownCardinality);

  CHECK(r.enumerate().cardinality() == 10);
  CHECK(unknown.enumerate().cardinality() == kUnknownCardinality);
  CHECK(infinite.enumerate().cardinality() == kInfiniteCardinality);  // tf: INT64_MAX - start

  CHECK(r.batch(2).unbatch().cardinality() == kUnknownCardinality);
  CHECK(infinite.batch(2).unbatch().cardinality() == kInfiniteCardinality);
  CHECK(unknown.batch(2).unbatch().cardinality() == kUnknownCardinality);

  CHECK(infinite.padded_batch(3).cardinality() == kInfiniteCardinality);
  CHECK(infinite.shuffle(3).cardinality() == kInfiniteCardinality);
  CHECK(unknown.shuffle(3).cardinality() == kUnknownCardinality);
}
