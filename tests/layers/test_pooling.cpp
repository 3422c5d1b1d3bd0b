// Pooling layers: output shapes against the pooling arithmetic, hand-worked 1-D cases (TF "same" with
// asymmetric padding, -inf padding for max, count-excluding average), N-D outputs against a plain-loop
// reference, global pooling, gradients against central finite differences, configs and errors.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/naming.h>
#include <strata/layers/pooling.h>
#include <strata/layers/registry.h>

#include "../support/tensor_checks.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

using test_support::channels_first_to_last;
using test_support::channels_last_to_first;
using test_support::sequence;
using test_support::values_of;

void check_close(const at::Tensor& actual, const std::vector<double>& expected, double tol = 1e-9) {
  test_support::check_values(actual, expected, tol);
}

// Plain-loop pooling of a channels_last (N, spatial..., C) tensor with TF's padding rules: every output
// position looks at the input positions start..start+k-1 (start = o*s - pad_left) that lie inside the input.
std::vector<double> reference_pool(const at::Tensor& x, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                   bool same, bool max) {
  const int64_t rank = static_cast<int64_t>(k.size());
  const int64_t batch = x.size(0), channels = x.size(rank + 1);
  std::vector<int64_t> in(rank), out(rank), left(rank);
  for (int64_t i = 0; i < rank; ++i) {
    in[i] = x.size(1 + i);
    if (same) {
      out[i] = (in[i] + s[i] - 1) / s[i];
      const int64_t total = std::max<int64_t>((out[i] - 1) * s[i] + k[i] - in[i], 0);
      left[i] = total / 2;
    } else {
      out[i] = (in[i] - k[i]) / s[i] + 1;
      left[i] = 0;
    }
  }
  const std::vector<double> v = values_of(x);
  auto flat_index = [&](int64_t n, const std::vector<int64_t>& pos, int64_t c) {
    int64_t index = n;
    for (int64_t i = 0; i < rank; ++i) index = index * in[i] + pos[i];
    return index * channels + c;
  };
  int64_t out_count = 1;
  for (int64_t o : out) out_count *= o;
  int64_t window_count = 1;
  for (int64_t w : k) window_count *= w;
  std::vector<double> result;
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t flat_out = 0; flat_out < out_count; ++flat_out) {
      std::vector<int64_t> o(rank);
      for (int64_t i = rank - 1, r = flat_out; i >= 0; --i) {
        o[i] = r % out[i];
        r /= out[i];
      }
      for (int64_t c = 0; c < channels; ++c) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t count = 0;
        for (int64_t flat_w = 0; flat_w < window_count; ++flat_w) {
          std::vector<int64_t> pos(rank);
          bool inside = true;
          for (int64_t i = rank - 1, r = flat_w; i >= 0; --i) {
            pos[i] = o[i] * s[i] - left[i] + r % k[i];
            r /= k[i];
            inside = inside && pos[i] >= 0 && pos[i] < in[i];
          }
          if (!inside) continue;
          const double value = v[flat_index(n, pos, c)];
          best = std::max(best, value);
          sum += value;
          ++count;
        }
        result.push_back(max ? best : sum / count);
      }
    }
  }
  return result;
}

// Central finite differences of sum(layer(x) * weights) against autograd, in float64.
void check_gradient(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& x0, double tol) {
  test_support::check_input_gradient(f, x0, 1e-6, 1e-5, tol);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Shapes

TEST_CASE("pooling output shapes follow floor((in - k) / s) + 1 for valid and ceil(in / s) for same",
          "[pooling][shapes]") {
  struct Case {
    std::function<std::shared_ptr<Layer>()> make;
    Shape input;
    Shape expected;
  };
  const std::vector<Case> cases = {
      // default pool 2, strides 2: 28 -> (28 - 2) / 2 + 1 = 14
      {[] { return std::make_shared<layers::MaxPooling2D>(); }, {kNone, 28, 28, 3}, {kNone, 14, 14, 3}},
      // pool 3 stride 2 valid: (28 - 3) / 2 + 1 = 12 + 1 = 13 (floor of 12.5 is 12)
      {[] { return std::make_shared<layers::MaxPooling2D>(std::vector<int64_t>{3}, layers::PoolingOptions{.strides = {2}}); },
       {kNone, 28, 28, 1}, {kNone, 13, 13, 1}},
      // same, stride 2: ceil(27 / 2) = 14, ceil(28 / 2) = 14
      {[] { return std::make_shared<layers::AveragePooling2D>(std::vector<int64_t>{3, 3}, layers::PoolingOptions{.strides = {2, 2}, .padding = "same"}); },
       {kNone, 27, 28, 2}, {kNone, 14, 14, 2}},
      // 1D pool 3, stride 1, same: ceil(10 / 1) = 10
      {[] { return std::make_shared<layers::MaxPooling1D>(std::vector<int64_t>{3}, layers::PoolingOptions{.strides = {1}, .padding = "same"}); },
       {kNone, 10, 4}, {kNone, 10, 4}},
      // 1D default: (9 - 2) / 2 + 1 = 3 + 1 = 4
      {[] { return std::make_shared<layers::AveragePooling1D>(); }, {kNone, 9, 5}, {kNone, 4, 5}},
      // pool (2, 3), strides (1, 2) valid: h = (5 - 2) / 1 + 1 = 4, w = (7 - 3) / 2 + 1 = 3
      {[] { return std::make_shared<layers::MaxPooling2D>(std::vector<int64_t>{2, 3}, layers::PoolingOptions{.strides = {1, 2}}); },
       {kNone, 5, 7, 1}, {kNone, 4, 3, 1}},
      // 3D default: (4, 6, 8) / 2 = (2, 3, 4)
      {[] { return std::make_shared<layers::AveragePooling3D>(); }, {kNone, 4, 6, 8, 2}, {kNone, 2, 3, 4, 2}},
      // 3D same with strides (1, 2, 3): (ceil(3/1), ceil(5/2), ceil(7/3)) = (3, 3, 3)
      {[] { return std::make_shared<layers::MaxPooling3D>(std::vector<int64_t>{2}, layers::PoolingOptions{.strides = {1, 2, 3}, .padding = "SAME"}); },
       {kNone, 3, 5, 7, 1}, {kNone, 3, 3, 3, 1}},
      // channels_first keeps axis 1 as channels: (None, 3, 8, 6) -> (None, 3, 4, 3)
      {[] { return std::make_shared<layers::MaxPooling2D>(std::vector<int64_t>{}, layers::PoolingOptions{.data_format = "channels_first"}); },
       {kNone, 3, 8, 6}, {kNone, 3, 4, 3}},
  };
  for (const auto& c : cases) {
    auto layer = c.make();
    INFO(layer->describe() << " on " << format_shape(c.input));
    CHECK(layer->compute_output_shape(c.input) == c.expected);
    // The tensor the layer returns has the same shape (batch 2 in place of None).
    Shape concrete = c.input;
    concrete[0] = 2;
    const at::Tensor out = (*layer)(at::randn(concrete));
    Shape got = shape_of(out);
    got[0] = kNone;
    CHECK(got == c.expected);
  }
  // An unknown spatial size stays unknown.
  CHECK(layers::MaxPooling2D().compute_output_shape({kNone, kNone, 8, 3}) == Shape{kNone, kNone, 4, 3});
}

// ---------------------------------------------------------------------------------------------------------------
// Hand-worked 1-D cases

TEST_CASE("MaxPooling1D hand-worked: valid, same with right padding, and -inf as the pad value",
          "[pooling][max]") {
  // x = [1, 3, 2, 5, 4], pool 2, stride 2, valid: windows [1 3] [2 5] -> [3, 5]; the 4 is dropped.
  check_close(layers::MaxPooling1D()(sequence({1, 3, 2, 5, 4})), {3, 5});
  // same: out = ceil(5 / 2) = 3, total pad = (3 - 1) * 2 + 2 - 5 = 1, left 0, right 1:
  // windows [1 3] [2 5] [4 pad] -> [3, 5, 4].
  layers::MaxPooling1D same({2}, {.padding = "same"});
  check_close(same(sequence({1, 3, 2, 5, 4})), {3, 5, 4});
  // All negative: a zero pad would win the last window; TF pads with -inf, so it is -4.
  check_close(same(sequence({-1, -3, -2, -5, -4})), {-1, -2, -4});
  // pool 4, stride 1, same on 5: total = 4 * 1 + 4 - 5 = 3, left 1, right 2; window i covers i-1 .. i+2:
  // [p -1 -3 -2] [-1 -3 -2 -5] [-3 -2 -5 -4] [-2 -5 -4 p] [-5 -4 p p] -> [-1, -1, -2, -2, -4]
  layers::MaxPooling1D wide({4}, {.strides = {1}, .padding = "same"});
  check_close(wide(sequence({-1, -3, -2, -5, -4})), {-1, -1, -2, -2, -4});
}

TEST_CASE("AveragePooling1D hand-worked: same averages over the valid elements only", "[pooling][average]") {
  // valid, pool 2 stride 2: [1.5, 3.5]
  check_close(layers::AveragePooling1D()(sequence({1, 2, 3, 4, 5})), {1.5, 3.5});
  // same, pool 2 stride 2: windows [1 2] [3 4] [5 pad] -> [1.5, 3.5, 5] (5 / 1, not 5 / 2 = 2.5)
  check_close(layers::AveragePooling1D({2}, {.padding = "same"})(sequence({1, 2, 3, 4, 5})), {1.5, 3.5, 5});
  // pool 4, stride 1, same: left 1, right 2 (see the max case):
  // [p 1 2 3] -> 6/3 = 2; [1 2 3 4] -> 10/4 = 2.5; [2 3 4 5] -> 14/4 = 3.5; [3 4 5 p] -> 12/3 = 4; [4 5 p p] -> 9/2 = 4.5
  layers::AveragePooling1D wide({4}, {.strides = {1}, .padding = "same"});
  check_close(wide(sequence({1, 2, 3, 4, 5})), {2, 2.5, 3.5, 4, 4.5});
  // Two channels are pooled independently: channel 1 = 10 * channel 0.
  at::Tensor two = at::stack({sequence({1, 2, 3, 4, 5}).squeeze(-1), 10 * sequence({1, 2, 3, 4, 5}).squeeze(-1)}, -1);
  check_close(wide(two), {2, 20, 2.5, 25, 3.5, 35, 4, 40, 4.5, 45});
}

// ---------------------------------------------------------------------------------------------------------------
// N-D against plain loops

TEST_CASE("2-D and 3-D pooling match a plain-loop reference, valid and same", "[pooling][reference]") {
  at::manual_seed(3);
  const at::Tensor x2 = at::randn({2, 5, 7, 3}, at::kDouble);
  for (const std::string padding : {"valid", "same"}) {
    INFO("padding " << padding);
    layers::PoolingOptions options{.strides = {2, 3}, .padding = padding};
    const bool same = padding == "same";
    check_close(layers::MaxPooling2D({3, 2}, options)(x2), reference_pool(x2, {3, 2}, {2, 3}, same, true));
    check_close(layers::AveragePooling2D({3, 2}, options)(x2), reference_pool(x2, {3, 2}, {2, 3}, same, false));
    // Overlapping windows with padding on both sides: pool 3, stride 1 (same pads 1 left, 1 right).
    layers::PoolingOptions overlap{.strides = {1}, .padding = padding};
    check_close(layers::AveragePooling2D({3}, overlap)(x2), reference_pool(x2, {3, 3}, {1, 1}, same, false));
  }
  const at::Tensor x3 = at::randn({1, 3, 4, 5, 2}, at::kDouble);
  for (const std::string padding : {"valid", "same"}) {
    INFO("padding " << padding);
    layers::PoolingOptions options{.strides = {1, 2, 2}, .padding = padding};
    const bool same = padding == "same";
    check_close(layers::MaxPooling3D({2, 2, 3}, options)(x3), reference_pool(x3, {2, 2, 3}, {1, 2, 2}, same, true));
    check_close(layers::AveragePooling3D({2, 2, 3}, options)(x3),
                reference_pool(x3, {2, 2, 3}, {1, 2, 2}, same, false));
  }
  // channels_first gives the channels_last result transposed.
  const at::Tensor cf = layers::MaxPooling2D({3, 2}, {.strides = {2, 3}, .padding = "same", .data_format = "channels_first"})(
      x2.permute({0, 3, 1, 2}).contiguous());
  check_close(cf.permute({0, 2, 3, 1}), reference_pool(x2, {3, 2}, {2, 3}, true, true));
}

TEST_CASE("pooling keeps a float32 input float32 and returns a contiguous channels_last tensor", "[pooling]") {
  const at::Tensor out = layers::MaxPooling2D()(at::randn({2, 4, 4, 3}));
  CHECK(out.scalar_type() == at::kFloat);
  CHECK(out.is_contiguous());
  CHECK(out.sizes() == at::IntArrayRef({2, 2, 2, 3}));
}

// ---------------------------------------------------------------------------------------------------------------
// Global pooling

TEST_CASE("global pooling reduces every spatial axis, with and without keepdims", "[pooling][global]") {
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 3, 4, 5}, at::kDouble);
  const std::vector<double> v = values_of(x);
  std::vector<double> max_ref, mean_ref;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 5; ++c) {
      double best = -1e300, sum = 0;
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t w = 0; w < 4; ++w) {
          const double value = v[((n * 3 + h) * 4 + w) * 5 + c];
          best = std::max(best, value);
          sum += value;
        }
      max_ref.push_back(best);
      mean_ref.push_back(sum / 12);
    }
  layers::GlobalMaxPooling2D gmax;
  layers::GlobalAveragePooling2D gavg;
  check_close(gmax(x), max_ref);
  check_close(gavg(x), mean_ref);
  CHECK(gmax(x).sizes() == at::IntArrayRef({2, 5}));
  CHECK(gmax.compute_output_shape({kNone, 3, 4, 5}) == Shape{kNone, 5});
  layers::GlobalAveragePooling2D kept({.keepdims = true});
  CHECK(kept(x).sizes() == at::IntArrayRef({2, 1, 1, 5}));
  CHECK(kept.compute_output_shape({kNone, 3, 4, 5}) == Shape{kNone, 1, 1, 5});
  check_close(kept(x), mean_ref);
  // channels_first: channels on axis 1.
  layers::GlobalMaxPooling2D first({.data_format = "channels_first"});
  check_close(first(x.permute({0, 3, 1, 2})), max_ref);
  CHECK(first.compute_output_shape({kNone, 5, 3, 4}) == Shape{kNone, 5});
  // 1-D and 3-D: (None, 7, 4) -> (None, 4); (None, 2, 3, 4, 6) -> (None, 6).
  CHECK(layers::GlobalAveragePooling1D().compute_output_shape({kNone, 7, 4}) == Shape{kNone, 4});
  CHECK(layers::GlobalMaxPooling3D().compute_output_shape({kNone, 2, 3, 4, 6}) == Shape{kNone, 6});
  const at::Tensor seq = sequence({1, 5, -2, 4});
  check_close(layers::GlobalMaxPooling1D()(seq), {5});
  check_close(layers::GlobalAveragePooling1D()(seq), {2});  // (1 + 5 - 2 + 4) / 4 = 8 / 4
  check_close(layers::GlobalAveragePooling3D()(at::ones({1, 2, 2, 2, 3})), {1, 1, 1});
}

// ---------------------------------------------------------------------------------------------------------------
// Gradients

TEST_CASE("pooling gradients match central finite differences", "[pooling][gradient]") {
  at::manual_seed(11);
  const at::Tensor x = at::randn({1, 4, 5, 2}, at::kDouble);
  layers::MaxPooling2D max_same({3, 2}, {.strides = {2, 2}, .padding = "same"});
  layers::AveragePooling2D avg_same({2, 3}, {.strides = {1, 2}, .padding = "same"});
  layers::AveragePooling2D avg_valid({2, 2}, {.strides = {1, 1}});
  layers::GlobalMaxPooling2D gmax;
  layers::GlobalAveragePooling2D gavg;
  check_gradient([&](const at::Tensor& t) { return max_same(t); }, x, 1e-6);
  check_gradient([&](const at::Tensor& t) { return avg_same(t); }, x, 1e-6);
  check_gradient([&](const at::Tensor& t) { return avg_valid(t); }, x, 1e-6);
  check_gradient([&](const at::Tensor& t) { return gmax(t); }, x, 1e-6);
  check_gradient([&](const at::Tensor& t) { return gavg(t); }, x, 1e-6);
  layers::AveragePooling1D avg1({4}, {.strides = {1}, .padding = "same"});
  check_gradient([&](const at::Tensor& t) { return avg1(t); }, at::randn({1, 5, 2}, at::kDouble), 1e-6);
}

// ---------------------------------------------------------------------------------------------------------------
// Config

TEST_CASE("pooling get_config holds Keras' keys and round-trips through serialize and deserialize",
          "[pooling][config]") {
  clear_session();
  layers::MaxPooling2D pool({3, 3}, {.strides = {2, 1}, .padding = "same"});
  CHECK(pool.name() == "max_pooling2d");
  CHECK(pool.class_name() == "MaxPooling2D");
  const nlohmann::json config = pool.get_config();
  CHECK(config.at("pool_size") == nlohmann::json::array({3, 3}));
  CHECK(config.at("strides") == nlohmann::json::array({2, 1}));
  CHECK(config.at("padding") == "same");
  CHECK(config.at("data_format") == "channels_last");
  CHECK(config.at("trainable") == true);
  // strides default to pool_size; a single value means every axis.
  CHECK(layers::AveragePooling3D({3}).get_config().at("strides") == nlohmann::json::array({3, 3, 3}));
  CHECK(layers::AveragePooling1D().get_config().at("pool_size") == nlohmann::json::array({2}));

  const std::vector<std::shared_ptr<Layer>> originals = {
      std::make_shared<layers::MaxPooling2D>(std::vector<int64_t>{3, 3}, layers::PoolingOptions{.strides = {2, 1}, .padding = "same"}),
      std::make_shared<layers::MaxPooling1D>(),
      std::make_shared<layers::MaxPooling3D>(std::vector<int64_t>{1, 2, 2}),
      std::make_shared<layers::AveragePooling1D>(std::vector<int64_t>{3}, layers::PoolingOptions{.strides = {1}}),
      std::make_shared<layers::AveragePooling2D>(std::vector<int64_t>{}, layers::PoolingOptions{.data_format = "channels_first"}),
      std::make_shared<layers::AveragePooling3D>(),
      std::make_shared<layers::GlobalMaxPooling1D>(),
      std::make_shared<layers::GlobalMaxPooling2D>(layers::GlobalPoolingOptions{.keepdims = true}),
      std::make_shared<layers::GlobalMaxPooling3D>(),
      std::make_shared<layers::GlobalAveragePooling1D>(layers::GlobalPoolingOptions{.data_format = "channels_first"}),
      std::make_shared<layers::GlobalAveragePooling2D>(),
      std::make_shared<layers::GlobalAveragePooling3D>(),
  };
  for (const auto& original : originals) {
    INFO(original->describe());
    const auto restored = layers::deserialize(layers::serialize(*original));
    CHECK(restored->class_name() == original->class_name());
    CHECK(restored->get_config() == original->get_config());
  }
  // The restored layer computes what the original does.
  const at::Tensor x = at::randn({2, 5, 5, 2});
  const auto restored = layers::deserialize(layers::serialize(pool));
  CHECK(at::equal((*restored)(x), pool(x)));
  // Keras writes an int pool_size and null strides too.
  const auto from_keras = layers::deserialize(
      {{"class_name", "AveragePooling2D"},
       {"config", {{"name", "avg"}, {"pool_size", 3}, {"strides", nullptr}, {"padding", "valid"}, {"data_format", "channels_last"}}}});
  CHECK(from_keras->get_config().at("strides") == nlohmann::json::array({3, 3}));
  CHECK(from_keras->name() == "avg");
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

TEST_CASE("bad pooling arguments throw a ValueError naming the layer", "[pooling][errors]") {
  CHECK_THROWS_AS(layers::MaxPooling2D({0, 2}), ValueError);
  CHECK_THROWS_WITH(layers::MaxPooling2D({0, 2}, {.name = "pool_a"}), Contains("pool_a") && Contains("pool_size"));
  CHECK_THROWS_AS(layers::AveragePooling1D({2}, {.strides = {-1}}), ValueError);
  CHECK_THROWS_WITH(layers::AveragePooling1D({2}, {.strides = {0}, .name = "pool_b"}),
                    Contains("AveragePooling1D 'pool_b'") && Contains("strides"));
  CHECK_THROWS_WITH(layers::MaxPooling3D({2}, {.padding = "full", .name = "pool_c"}),
                    Contains("pool_c") && Contains("\"full\""));
  CHECK_THROWS_AS(layers::MaxPooling2D({2, 2, 2}), ValueError);  // three values for two axes
  CHECK_THROWS_AS(layers::MaxPooling2D({2}, {.strides = {1, 1, 1}}), ValueError);
  CHECK_THROWS_AS(layers::MaxPooling2D({2}, {.data_format = "NHWC"}), ValueError);
  CHECK_THROWS_AS(layers::GlobalAveragePooling2D({.data_format = "nchw"}), ValueError);
}

TEST_CASE("pooling rejects a wrong rank, a pool larger than a valid input, and integer inputs",
          "[pooling][errors]") {
  layers::MaxPooling1D pool1({2}, {.name = "pool_rank"});
  CHECK_THROWS_AS(pool1(at::zeros({2, 4, 4, 1})), ShapeError);
  CHECK_THROWS_WITH(pool1(at::zeros({2, 4, 4, 1})), Contains("pool_rank"));
  layers::MaxPooling2D big({5, 5}, {.name = "pool_big"});
  CHECK_THROWS_AS(big(at::zeros({1, 4, 8, 1})), ShapeError);
  CHECK_THROWS_WITH(big(at::zeros({1, 4, 8, 1})), Contains("pool_big") && Contains("(5, 5)"));
  CHECK_THROWS_AS(big.compute_output_shape({kNone, 4, 8, 1}), ShapeError);
  // With "same" the same pool fits: ceil(4 / 5) = 1, ceil(8 / 5) = 2.
  CHECK(layers::MaxPooling2D({5, 5}, {.padding = "same"})(at::zeros({1, 4, 8, 1})).sizes() ==
        at::IntArrayRef({1, 1, 2, 1}));
  CHECK_THROWS_AS(layers::AveragePooling2D()(at::zeros({1, 4, 4, 1}, at::kLong)), ValueError);
  CHECK_THROWS_AS(layers::GlobalMaxPooling2D()(at::zeros({1, 4, 4})), ShapeError);
}

// ---------------------------------------------------------------------------------------------------------------
// data_format "channels_first": every layer against its channels_last self on the permuted input.

namespace {

using PoolFactory = std::function<std::shared_ptr<Layer>(const std::string& data_format)>;

// make("channels_first") on x equals make("channels_last") on x permuted to channels-last, permuted back; the
// channels_first compute_output_shape (unknown batch) matches the output and the config keeps data_format.
void check_channels_first_matches_last(const PoolFactory& make, const at::Tensor& x_first,
                                       bool permute_back = true) {
  const auto last = make("channels_last");
  const auto first = make("channels_first");
  INFO(first->describe() << " on " << format_dims(x_first.sizes()));
  const at::Tensor from_last = (*last)(channels_first_to_last(x_first));
  const at::Tensor expected = permute_back ? channels_last_to_first(from_last) : from_last;
  const at::Tensor actual = (*first)(x_first);
  REQUIRE(actual.sizes() == expected.sizes());
  check_close(actual, values_of(expected));
  Shape input_shape(x_first.sizes().begin(), x_first.sizes().end());
  input_shape[0] = kNone;
  Shape output_shape(actual.sizes().begin(), actual.sizes().end());
  output_shape[0] = kNone;
  CHECK(first->compute_output_shape(input_shape) == output_shape);
  CHECK(first->get_config().at("data_format") == "channels_first");
}

template <class P>
PoolFactory pool_factory(std::vector<int64_t> pool_size, layers::PoolingOptions options) {
  return [=](const std::string& data_format) {
    layers::PoolingOptions o = options;
    o.data_format = data_format;
    return std::make_shared<P>(pool_size, o);
  };
}

template <class P>
PoolFactory global_factory(bool keepdims) {
  return [=](const std::string& data_format) {
    return std::make_shared<P>(
        layers::GlobalPoolingOptions{.data_format = data_format, .keepdims = keepdims});
  };
}

}  // namespace

TEST_CASE("channels_first pooling equals channels_last pooling on the permuted input",
          "[pooling][channels_first]") {
  at::manual_seed(21);
  const std::vector<std::pair<PoolFactory, std::vector<int64_t>>> cases = {
      {pool_factory<layers::MaxPooling1D>({3}, {.strides = {2}}), {2, 3, 9}},
      {pool_factory<layers::MaxPooling1D>({2}, {.padding = "same"}), {2, 3, 7}},
      {pool_factory<layers::AveragePooling1D>({4}, {.strides = {1}, .padding = "same"}), {2, 2, 6}},
      {pool_factory<layers::AveragePooling1D>({3}, {.strides = {2}}), {1, 4, 8}},
      {pool_factory<layers::MaxPooling2D>({3, 2}, {.strides = {2, 3}, .padding = "same"}), {2, 3, 8, 7}},
      {pool_factory<layers::MaxPooling2D>({}, {}), {2, 2, 6, 5}},
      {pool_factory<layers::AveragePooling2D>({2, 3}, {.strides = {1, 2}, .padding = "same"}), {2, 3, 5, 7}},
      {pool_factory<layers::AveragePooling2D>({3, 3}, {.strides = {2, 1}}), {1, 2, 7, 6}},
      {pool_factory<layers::MaxPooling3D>({2, 3, 2}, {.strides = {1, 2, 2}, .padding = "same"}),
       {1, 2, 4, 5, 3}},
      {pool_factory<layers::AveragePooling3D>({2}, {.padding = "same"}), {2, 3, 3, 5, 4}},
      {pool_factory<layers::AveragePooling3D>({2, 1, 3}, {.strides = {1}}), {1, 2, 4, 3, 5}},
  };
  for (const auto& [make, shape] : cases)
    check_channels_first_matches_last(make, at::randn(shape, at::kDouble));
}

TEST_CASE("channels_first global pooling reduces axes 2.. and keeps axis 1 as channels",
          "[pooling][channels_first]") {
  at::manual_seed(22);
  for (bool keepdims : {false, true}) {
    INFO("keepdims " << keepdims);
    // Without keepdims both formats give (batch, channels): no permutation back.
    const bool back = keepdims;
    check_channels_first_matches_last(global_factory<layers::GlobalMaxPooling1D>(keepdims),
                                      at::randn({2, 3, 5}, at::kDouble), back);
    check_channels_first_matches_last(global_factory<layers::GlobalAveragePooling1D>(keepdims),
                                      at::randn({2, 3, 5}, at::kDouble), back);
    check_channels_first_matches_last(global_factory<layers::GlobalMaxPooling2D>(keepdims),
                                      at::randn({2, 3, 4, 5}, at::kDouble), back);
    check_channels_first_matches_last(global_factory<layers::GlobalAveragePooling2D>(keepdims),
                                      at::randn({2, 3, 4, 5}, at::kDouble), back);
    check_channels_first_matches_last(global_factory<layers::GlobalMaxPooling3D>(keepdims),
                                      at::randn({2, 3, 2, 4, 3}, at::kDouble), back);
    check_channels_first_matches_last(global_factory<layers::GlobalAveragePooling3D>(keepdims),
                                      at::randn({2, 3, 2, 4, 3}, at::kDouble), back);
  }
  CHECK(layers::GlobalAveragePooling2D({.data_format = "channels_first"})
            .compute_output_shape({kNone, 3, 4, 5}) == Shape{kNone, 3});
  CHECK(layers::GlobalMaxPooling3D({.data_format = "channels_first", .keepdims = true})
            .compute_output_shape({kNone, 3, 4, 5, 6}) == Shape{kNone, 3, 1, 1, 1});
}

TEST_CASE("channels_first GlobalAveragePooling1D averages only the unmasked timesteps",
          "[pooling][channels_first]") {
  at::manual_seed(23);
  const at::Tensor x = at::randn({2, 3, 5}, at::kDouble);  // (batch, channels, steps)
  const at::Tensor mask =
      at::tensor(std::vector<int64_t>{1, 1, 0, 1, 0, 1, 0, 0, 0, 0}).reshape({2, 5}).to(at::kBool);
  // By hand: sample 0 keeps steps 0, 1, 3; sample 1 keeps step 0.
  const at::Tensor expected =
      at::stack({(x[0].select(1, 0) + x[0].select(1, 1) + x[0].select(1, 3)) / 3, x[1].select(1, 0)});
  for (bool keepdims : {false, true}) {
    INFO("keepdims " << keepdims);
    layers::GlobalAveragePooling1D first({.data_format = "channels_first", .keepdims = keepdims});
    layers::GlobalAveragePooling1D last({.keepdims = keepdims});
    const at::Tensor y_first = first.apply({x}, {mask}, false).front();
    const at::Tensor y_last = last.apply({channels_first_to_last(x)}, {mask}, false).front();
    CHECK(y_first.sizes() == (keepdims ? at::IntArrayRef{2, 3, 1} : at::IntArrayRef{2, 3}));
    check_close(y_first, values_of(expected));
    check_close(y_first, values_of(keepdims ? channels_last_to_first(y_last) : y_last));
    // Without the mask every step counts, which differs here.
    CHECK_FALSE(at::allclose(first(x).reshape({2, 3}), expected));
  }
  layers::GlobalAveragePooling1D first({.data_format = "channels_first", .name = "gap_mask"});
  CHECK_THROWS_WITH(first.apply({x}, {mask.narrow(1, 0, 3)}, false),
                    Contains("gap_mask") && Contains("mask of shape [2, 5]"));
}

TEST_CASE("channels_first pooling shapes, configs and errors", "[pooling][channels_first]") {
  const std::string cf = "channels_first";
  CHECK(layers::MaxPooling2D({3, 2}, {.strides = {2, 3}, .padding = "same", .data_format = cf})
            .compute_output_shape({kNone, 3, 8, 6}) == Shape{kNone, 3, 4, 2});
  CHECK(layers::AveragePooling1D({3}, {.strides = {2}, .data_format = cf})
            .compute_output_shape({kNone, 4, 9}) == Shape{kNone, 4, 4});
  CHECK(layers::MaxPooling3D({2}, {.data_format = cf}).compute_output_shape({kNone, 5, 4, kNone, 7}) ==
        Shape{kNone, 5, 2, kNone, 3});
  // The spatial axes are 2..: a valid 5x5 pool fits (1, 1, 8, 8) channels_first but not (1, 8, 8, 1).
  layers::MaxPooling2D big({5, 5}, {.data_format = cf, .name = "cf_big"});
  CHECK(big(at::zeros({1, 1, 8, 8})).sizes() == at::IntArrayRef{1, 1, 1, 1});
  CHECK_THROWS_WITH(big(at::zeros({1, 8, 8, 1})), Contains("cf_big") && Contains("(5, 5)"));
  CHECK_THROWS_AS(layers::MaxPooling2D({5, 5})(at::zeros({1, 1, 8, 8})), ShapeError);
  // A wrong rank names the layer.
  layers::AveragePooling2D rank({2}, {.data_format = cf, .name = "cf_rank"});
  CHECK_THROWS_AS(rank(at::zeros({1, 3, 8})), ShapeError);
  CHECK_THROWS_WITH(rank(at::zeros({1, 3, 8})), Contains("cf_rank") && Contains("[1, 3, 8]"));
  CHECK_THROWS_WITH(rank.compute_output_shape({kNone, 3, 8}), Contains("cf_rank") && Contains("rank 4"));
  layers::GlobalMaxPooling3D global({.data_format = cf, .name = "cf_global"});
  CHECK_THROWS_WITH(global(at::zeros({1, 3, 8, 8})), Contains("cf_global") && Contains("[1, 3, 8, 8]"));
  // Unknown formats are still refused, naming both accepted values.
  CHECK_THROWS_WITH(layers::MaxPooling1D({2}, {.data_format = "channels_middle", .name = "bad_fmt"}),
                    Contains("bad_fmt") && Contains("channels_first") && Contains("\"channels_middle\""));
  CHECK_THROWS_WITH(layers::GlobalAveragePooling3D({.data_format = "NCDHW", .name = "bad_global"}),
                    Contains("bad_global") && Contains("\"NCDHW\""));

  // Configs keep data_format and the restored layer computes the same.
  at::manual_seed(24);
  const std::vector<std::pair<std::shared_ptr<Layer>, std::vector<int64_t>>> cases = {
      {std::make_shared<layers::MaxPooling1D>(std::vector<int64_t>{3},
                                              layers::PoolingOptions{.strides = {2}, .data_format = cf}),
       {2, 3, 7}},
      {std::make_shared<layers::AveragePooling2D>(
           std::vector<int64_t>{2, 3}, layers::PoolingOptions{.padding = "same", .data_format = cf}),
       {2, 3, 5, 7}},
      {std::make_shared<layers::MaxPooling3D>(std::vector<int64_t>{2},
                                              layers::PoolingOptions{.data_format = cf}),
       {1, 2, 4, 4, 4}},
      {std::make_shared<layers::GlobalMaxPooling2D>(
           layers::GlobalPoolingOptions{.data_format = cf, .keepdims = true}),
       {2, 3, 4, 5}},
      {std::make_shared<layers::GlobalAveragePooling3D>(layers::GlobalPoolingOptions{.data_format = cf}),
       {2, 3, 2, 3, 4}},
  };
  for (const auto& [original, shape] : cases) {
    INFO(original->describe());
    CHECK(original->get_config().at("data_format") == cf);
    const auto restored = layers::deserialize(layers::serialize(*original));
    CHECK(restored->get_config() == original->get_config());
    const at::Tensor x = at::randn(shape, at::kDouble);
    CHECK(at::equal((*restored)(x), (*original)(x)));
  }
}

TEST_CASE("channels_first pooling gradients match central finite differences", "[pooling][channels_first]") {
  at::manual_seed(25);
  const at::Tensor x = at::randn({1, 2, 4, 5}, at::kDouble);
  layers::AveragePooling2D avg_same({2, 3},
                                    {.strides = {1, 2}, .padding = "same", .data_format = "channels_first"});
  layers::MaxPooling2D max_same({3, 2},
                                {.strides = {2, 2}, .padding = "same", .data_format = "channels_first"});
  layers::GlobalAveragePooling2D gavg({.data_format = "channels_first", .keepdims = true});
  check_gradient([&](const at::Tensor& t) { return avg_same(t); }, x, 1e-6);
  check_gradient([&](const at::Tensor& t) { return max_same(t); }, x, 1e-6);
  check_gradient([&](const at::Tensor& t) { return gavg(t); }, x, 1e-6);
}
