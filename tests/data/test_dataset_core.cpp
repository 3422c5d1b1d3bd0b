// The Dataset core: tensor slices, range, generators and batch(), checked element by element against the
// tensors they came from.

#include <strata/core/error.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <stdexcept>

using namespace strata;
using Catch::Matchers::Contains;

TEST_CASE("from_tensor_slices yields row i of every tensor", "[data][dataset]") {
  const at::Tensor x = at::arange(12, at::kFloat).reshape({4, 3}), y = at::arange(4, at::kLong);
  const auto dataset = data::Dataset::from_tensor_slices({x, y});
  CHECK(dataset.cardinality() == 4);
  const auto elements = dataset.elements();
  REQUIRE(elements.size() == 4);
  for (int64_t i = 0; i < 4; ++i) {
    CHECK(elements[i][0].equal(x[i]));
    CHECK(elements[i][1].item<int64_t>() == i);
  }
  // A second pass starts over.
  CHECK(dataset.elements().size() == 4);
  CHECK_THROWS_WITH(data::Dataset::from_tensor_slices({x, at::zeros({3})}), Contains("same first dimension"));
  CHECK_THROWS_WITH(data::Dataset::from_tensor_slices({at::scalar_tensor(1.0)}), Contains("a scalar"));
}

TEST_CASE("batch stacks components and keeps or drops the remainder", "[data][dataset]") {
  const at::Tensor x = at::arange(10, at::kFloat).reshape({5, 2});
  const auto dataset = data::Dataset::from_tensor_slices({x, at::arange(5, at::kLong)});
  const auto batches = dataset.batch(2).elements();
  REQUIRE(batches.size() == 3);
  CHECK(dataset.batch(2).cardinality() == 3);
  CHECK(batches[0][0].equal(x.slice(0, 0, 2)));
  CHECK(batches[2][0].equal(x.slice(0, 4, 5)));
  CHECK(batches[2][1].sizes() == at::IntArrayRef{1});
  CHECK(dataset.batch(2, {.drop_remainder = true}).elements().size() == 2);
  CHECK(dataset.batch(2, {.drop_remainder = true}).cardinality() == 2);
  CHECK_THROWS_WITH(dataset.batch(0), Contains("batch_size must be >= 1"));
}

TEST_CASE("range and from_tensors", "[data][dataset]") {
  std::vector<int64_t> got;
  for (const auto& element : data::Dataset::range(3, 10, 3)) got.push_back(element[0].item<int64_t>());
  CHECK(got == std::vector<int64_t>{3, 6, 9});
  CHECK(data::Dataset::range(3, 10, 3).cardinality() == 3);
  CHECK(data::Dataset::range(5, 0, -2).cardinality() == 3);
  CHECK(data::Dataset::range(0, 0).elements().empty());
  const auto one = data::Dataset::from_tensors({at::ones({2, 2})});
  CHECK(one.cardinality() == 1);
  CHECK(one.elements().at(0)[0].sizes() == at::IntArrayRef{2, 2});
}

TEST_CASE("a generator's elements, and its exception, come out of next()", "[data][dataset]") {
  auto counting = data::Dataset::from_generator([] {
    return [i = 0]() mutable -> std::optional<data::Element> {
      if (i == 3) throw std::runtime_error("sensor offline at record 3");
      return data::Element{at::scalar_tensor(i++)};
    };
  });
  CHECK(counting.cardinality() == data::kUnknownCardinality);
  auto iterator = counting.batch(2).make_iterator();
  CHECK(iterator->next()->at(0).sizes() == at::IntArrayRef{2});
  CHECK_THROWS_WITH(iterator->next(), Contains("sensor offline at record 3"));
}

TEST_CASE("batch names the component whose shapes differ", "[data][dataset]") {
  auto ragged = data::Dataset::from_generator([] {
    return [i = 0]() mutable -> std::optional<data::Element> {
      if (i == 2) return std::nullopt;
      return data::Element{at::zeros({++i})};
    };
  });
  CHECK_THROWS_WITH(ragged.batch(2).elements(), Contains("component 0 of element 1 has shape [2]") &&
                                                    Contains("padded_batch"));
}
