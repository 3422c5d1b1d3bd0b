// data::augment: the deterministic transforms against hand-worked results and plain ATen, the random ones
// against their formulas, and the per-element seeding's reproducibility under any thread order.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <strata/core/error.h>
#include <strata/data/augment.h>
#include <strata/layers/image_augmentation.h>
#include <strata/layers/preprocessing.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

using Catch::Matchers::Contains;
namespace augment = strata::data::augment;
namespace data = strata::data;
namespace layers = strata::layers;

namespace {

constexpr double kPi = std::numbers::pi;

// A batch of n images h x w x c with distinct values 0, 1, 2, ... in row-major order (float64).
at::Tensor counting_images(int64_t n, int64_t h, int64_t w, int64_t c) {
  return at::arange(n * h * w * c, at::kDouble).view({n, h, w, c});
}

at::Generator generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

bool close(const at::Tensor& a, const at::Tensor& b, double tolerance = 1e-9) {
  return a.sizes() == b.sizes() && at::allclose(a, b, 0.0, tolerance);
}

}  // namespace

TEST_CASE("flips equal at::flip on the width and height axes", "[data][augment]") {
  const at::Tensor batch = counting_images(2, 3, 4, 2);
  CHECK(augment::flip_left_right(batch).equal(at::flip(batch, {2})));
  CHECK(augment::flip_up_down(batch).equal(at::flip(batch, {1})));
  const at::Tensor image = batch[1];
  CHECK(augment::flip_left_right(image).equal(at::flip(image, {1})));
  CHECK(augment::flip_up_down(image).equal(at::flip(image, {0})));
  CHECK_THROWS_WITH(augment::flip_left_right(at::zeros({4, 4})), Contains("flip_left_right") && Contains("[4, 4]"));
}

TEST_CASE("random flips flip each image of a batch by its own draw", "[data][augment]") {
  const at::Tensor batch = counting_images(16, 2, 3, 1);
  auto g = generator(5);
  const at::Tensor out = augment::random_flip_left_right(batch, g);
  int flipped = 0;
  for (int64_t i = 0; i < 16; ++i) {
    const bool same = out[i].equal(batch[i]);
    CHECK((same || out[i].equal(at::flip(batch[i], {1}))));
    flipped += !same;
  }
  CHECK(flipped > 0);
  CHECK(flipped < 16);
  auto g2 = generator(5);
  const at::Tensor up_down = augment::random_flip_up_down(batch, g2);
  for (int64_t i = 0; i < 16; ++i) {
    // Same seed, same draws: the images flipped left-right above are the ones flipped up-down here.
    CHECK(up_down[i].equal(out[i].equal(batch[i]) ? batch[i] : at::flip(batch[i], {0})));
  }
}

TEST_CASE("crop and random_crop return a window of the input", "[data][augment]") {
  const at::Tensor batch = counting_images(6, 5, 7, 2);
  // Window rows 1..3, columns 2..5 of image 0, written out: value = (y * 7 + x) * 2 + channel.
  const at::Tensor window = augment::crop(batch[0], 1, 2, 3, 4);
  REQUIRE(window.sizes() == at::IntArrayRef({3, 4, 2}));
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 4; ++x)
      for (int64_t c = 0; c < 2; ++c)
        CHECK(window[y][x][c].item<double>() == static_cast<double>(((y + 1) * 7 + x + 2) * 2 + c));
  CHECK_THROWS_WITH(augment::crop(batch, 3, 0, 3, 4), Contains("inside the 5x7 image"));

  auto g = generator(11);
  const at::Tensor crops = augment::random_crop(batch, 3, 4, g);
  REQUIRE(crops.sizes() == at::IntArrayRef({6, 3, 4, 2}));
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int64_t i = 0; i < 6; ++i) {
    // The first value tells where the window starts; the whole window must then match.
    const auto first = static_cast<int64_t>(crops[i][0][0][0].item<double>()) - i * 5 * 7 * 2;
    const int64_t top = first / 2 / 7, left = first / 2 % 7;
    INFO("image " << i << " top " << top << " left " << left);
    REQUIRE(top <= 2);
    REQUIRE(left <= 3);
    CHECK(crops[i].equal(batch[i].narrow(0, top, 3).narrow(1, left, 4)));
    offsets.emplace(top, left);
  }
  CHECK(offsets.size() > 1);
  CHECK(augment::random_crop(batch[2], 5, 7, g).equal(batch[2]));  // only one window fits
  CHECK_THROWS_WITH(augment::random_crop(batch, 6, 2, g), Contains("random_crop") && Contains("6x2"));
}

TEST_CASE("rotate by a quarter turn moves pixels counter-clockwise and fills outside", "[data][augment]") {
  // A square image: a quarter turn counter-clockwise is np.rot90 / at::rot90 over (height, width).
  const at::Tensor square = counting_images(1, 3, 3, 2)[0];
  CHECK(close(augment::rotate(square, kPi / 2), at::rot90(square, 1, {0, 1}), 1e-9));
  CHECK(close(augment::rotate(square, kPi), at::flip(square, {0, 1}), 1e-9));
  CHECK(close(augment::rotate(square, 0.0), square));

  // A 2x4 image turned about its center (1.5, 0.5): output (x, y) reads input (2 - y, x - 1), hand-worked;
  // the columns that read outside the image get fill_value.
  const at::Tensor wide = at::arange(8, at::kDouble).view({2, 4, 1});  // rows [0 1 2 3], [4 5 6 7]
  const at::Tensor expected = at::tensor({-1.0, 2.0, 6.0, -1.0, -1.0, 1.0, 5.0, -1.0}, at::kDouble).view({2, 4, 1});
  const augment::RotationOptions constant{.fill_mode = "constant", .fill_value = -1.0};
  CHECK(close(augment::rotate(wide, kPi / 2, constant), expected, 1e-6));
  // "nearest" extends the edge: the left column reads input column 2 at row -1 -> row 0, the right one row 2 -> 1.
  const at::Tensor nearest = augment::rotate(wide, kPi / 2, {.fill_mode = "nearest"});
  CHECK(close(nearest, at::tensor({2.0, 2.0, 6.0, 6.0, 1.0, 1.0, 5.0, 5.0}, at::kDouble).view({2, 4, 1}), 1e-6));

  // The same resampling as layers::RandomRotation: a layer whose factor range is the single angle pi / 2.
  layers::RandomRotation layer(layers::Factor(0.25, 0.25), {.fill_mode = "constant", .fill_value = -1.0});
  CHECK(close(layer.call(wide, true), augment::rotate(wide, kPi / 2, constant), 1e-9));
  CHECK_THROWS_WITH(augment::rotate(wide, 1.0, {.fill_mode = "mirror"}), Contains("fill_mode") && Contains("mirror"));
  CHECK_THROWS_WITH(augment::rotate(at::zeros({2, 2, 1}, at::kByte), 1.0), Contains("floating"));
}

TEST_CASE("random_rotation draws one angle per image within the factor", "[data][augment]") {
  const at::Tensor image = counting_images(1, 4, 4, 1)[0];
  const at::Tensor batch = image.unsqueeze(0).expand({8, 4, 4, 1}).contiguous();
  auto g = generator(3);
  const at::Tensor out = augment::random_rotation(batch, 0.25, 0.25, g, {.fill_mode = "constant"});
  for (int64_t i = 0; i < 8; ++i) CHECK(close(out[i], at::rot90(image, 1, {0, 1}), 1e-9));
  // Factor 0.1: the angles are one uniform draw per image from [-0.1, 0.1] * 2 pi, taken in order from the
  // generator; a clone of the generator replays them.
  at::Generator replay = g.clone();
  const at::Tensor mixed = augment::random_rotation(batch, 0.1, g, {.fill_mode = "constant"});
  const at::Tensor angles = at::empty({8}, at::kDouble).uniform_(-0.2 * kPi, 0.2 * kPi, replay);
  std::set<double> distinct;
  for (int64_t i = 0; i < 8; ++i) {
    const double angle = angles[i].item<double>();
    CHECK(close(mixed[i], augment::rotate(image, angle, {.fill_mode = "constant"}), 1e-9));
    distinct.insert(angle);
  }
  CHECK(distinct.size() == 8);
  CHECK_FALSE(close(mixed[0], mixed[1], 1e-3));
}

TEST_CASE("brightness and contrast follow tf.image's formulas", "[data][augment]") {
  const at::Tensor batch = at::rand({4, 3, 5, 2}, generator(1), at::kDouble);
  CHECK(close(augment::adjust_brightness(batch, 0.25), batch + 0.25));

  // adjust_contrast written out per image and channel.
  const at::Tensor contrasted = augment::adjust_contrast(batch, 1.7);
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t c = 0; c < 2; ++c) {
      double mean = 0;
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 5; ++x) mean += batch[n][y][x][c].item<double>() / 15;
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 5; ++x)
          CHECK(contrasted[n][y][x][c].item<double>() ==
                Approx((batch[n][y][x][c].item<double>() - mean) * 1.7 + mean).margin(1e-12));
    }

  auto g = generator(9);
  const at::Tensor brighter = augment::random_brightness(batch, 0.3, g);
  std::set<double> deltas;
  for (int64_t n = 0; n < 4; ++n) {
    const at::Tensor delta = brighter[n] - batch[n];
    const double d = delta.mean().item<double>();
    CHECK(close(delta, at::full_like(delta, d), 1e-12));  // one delta per image
    CHECK(std::abs(d) <= 0.3);
    deltas.insert(d);
  }
  CHECK(deltas.size() == 4);

  const at::Tensor contrasted_random = augment::random_contrast(batch, 0.5, 1.5, g);
  for (int64_t n = 0; n < 4; ++n) {
    const at::Tensor mean = batch[n].mean(at::IntArrayRef{0, 1}, true);
    const at::Tensor centered = batch[n] - mean;
    // One factor per image, the same for every channel, in [0.5, 1.5]; the mean is kept.
    const double factor = ((contrasted_random[n] - mean) * centered).sum().item<double>() / (centered * centered).sum().item<double>();
    CHECK(factor >= 0.5);
    CHECK(factor <= 1.5);
    CHECK(close(contrasted_random[n], centered * factor + mean, 1e-12));
  }
  CHECK_THROWS_WITH(augment::random_contrast(batch, 1.5, 0.5, g), Contains("lower < upper"));
  CHECK_THROWS_WITH(augment::random_brightness(batch, -1, g), Contains("max_delta"));
}

TEST_CASE("seeded map functions are reproducible in any thread order", "[data][augment]") {
  const data::Dataset::MapFunction fn = augment::seeded(42, [](data::Element e, at::Generator& g) {
    e[0] = augment::random_flip_left_right(e[0], g);
    e[0] = augment::random_crop(e[0], 4, 4, g);
    e[0] = augment::random_brightness(e[0], 0.5, g);
    return e;
  });
  const at::Tensor images = counting_images(12, 6, 6, 1);
  auto input = [&](int64_t key) { return data::Element{at::scalar_tensor(key, at::kLong), images[key], at::scalar_tensor(key)}; };

  std::vector<data::Element> sequential;
  for (int64_t i = 0; i < 12; ++i) sequential.push_back(fn(input(i)));
  REQUIRE(sequential[0].size() == 2);  // the key is removed
  CHECK(sequential[5][1].item<double>() == 5.0);

  // Four threads, each taking every fourth element backwards: a different order from the sequential one.
  std::vector<data::Element> parallel(12);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int64_t i = 11 - t; i >= 0; i -= 4) parallel[i] = fn(input(i));
    });
  for (auto& thread : threads) thread.join();
  std::set<double> brightness_draws;
  for (int64_t i = 0; i < 12; ++i) {
    CHECK(parallel[i][0].equal(sequential[i][0]));
    brightness_draws.insert(sequential[i][0].max().item<double>() - std::floor(sequential[i][0].max().item<double>()));
  }
  CHECK(brightness_draws.size() == 12);  // different elements, different draws

  const auto other_seed = augment::seeded(43, [](data::Element e, at::Generator& g) {
    e[0] = augment::random_brightness(e[0], 0.5, g);
    return e;
  });
  const auto same_seed = augment::seeded(42, [](data::Element e, at::Generator& g) {
    e[0] = augment::random_brightness(e[0], 0.5, g);
    return e;
  });
  CHECK(same_seed(input(3))[0].equal(same_seed(input(3))[0]));
  CHECK_FALSE(other_seed(input(3))[0].equal(same_seed(input(3))[0]));
  CHECK_THROWS_WITH(fn({images[0]}), Contains("int64 scalar key"));
}

TEST_CASE("element_keys numbers elements afresh on every pass", "[data][augment]") {
  std::optional<data::Dataset> keyed = augment::element_keys(data::Dataset::range(10, 13));
  CHECK(keyed->cardinality() == 3);
  const auto first = keyed->elements();
  auto second_pass = keyed->make_iterator();
  keyed.reset();  // the pass keeps what it reads alive
  REQUIRE(first.size() == 3);
  for (int64_t i = 0; i < 3; ++i) {
    CHECK(first[i][0].item<int64_t>() == i);
    CHECK(first[i][1].item<int64_t>() == 10 + i);
    const auto element = second_pass->next();
    REQUIRE(element.has_value());
    CHECK((*element)[0].item<int64_t>() == (int64_t{1} << 40) + i);
  }
  CHECK_FALSE(second_pass->next().has_value());
  // Two passes through the same seeded function therefore draw differently, and a rebuilt pipeline repeats them.
  auto draw = augment::seeded(1, [](data::Element e, at::Generator& g) {
    e[0] = at::empty({8}, at::kDouble).uniform_(0, 1, g);
    return e;
  });
  const data::Dataset ds = augment::element_keys(data::Dataset::range(0, 2));
  const auto pass0 = draw(ds.elements()[0]), pass1 = draw(ds.elements()[0]);
  CHECK_FALSE(pass0[0].equal(pass1[0]));
  CHECK(draw(augment::element_keys(data::Dataset::range(0, 2)).elements()[0])[0].equal(pass0[0]));
}

TEST_CASE("preprocessing layers can run inside a map function", "[data][augment]") {
  // Rescaling then a seeded RandomFlip, as a MapFunction calls them with training=true.
  layers::Rescaling rescale(1.0 / 255);
  layers::RandomFlip flip("horizontal", {.seed = 7});
  const data::Dataset::MapFunction fn = [&](data::Element e) {
    e[0] = flip.call(rescale.call(e[0], true), true);
    return e;
  };
  const at::Tensor images = counting_images(10, 2, 3, 1);
  int flipped = 0;
  for (int64_t i = 0; i < 10; ++i) {
    const at::Tensor out = fn({images[i]})[0];
    const at::Tensor scaled = images[i] / 255;
    const bool same = close(out, scaled, 1e-7);
    CHECK((same || close(out, at::flip(scaled, {1}), 1e-7)));
    flipped += !same;
  }
  CHECK(flipped > 0);
  CHECK(flipped < 10);
  // With its own seed the layer repeats its draws run to run, when called in the same order.
  layers::RandomFlip again("horizontal", {.seed = 7});
  layers::RandomFlip first("horizontal", {.seed = 7});
  for (int64_t i = 0; i < 5; ++i) CHECK(again.call(images[i], true).equal(first.call(images[i], true)));
}

TEST_CASE("a parallel map of seeded augmentation gives the sequential pass's images", "[data][augment]") {
  const at::Tensor images = at::rand({12, 6, 6, 1}), labels = at::arange(12, at::kLong);
  auto pipeline = [&](int64_t threads) {
    return augment::element_keys(data::Dataset::from_tensor_slices({images, labels}))
        .map(augment::seeded(42,
                             [](data::Element e, at::Generator& g) {
                               e[0] = augment::random_flip_left_right(e[0], g);
                               e[0] = augment::random_crop(e[0], 4, 4, g);
                               return e;
                             }),
             {.num_parallel_calls = threads})
        .batch(5);
  };
  const auto sequential = pipeline(0).elements();
  const auto parallel = pipeline(4).elements();
  REQUIRE(sequential.size() == 3);
  REQUIRE(parallel.size() == 3);
  for (size_t b = 0; b < 3; ++b) {
    CHECK(parallel[b][0].equal(sequential[b][0]));
    CHECK(parallel[b][1].equal(sequential[b][1]));
  }
  CHECK(sequential[0][0].sizes() == at::IntArrayRef{5, 4, 4, 1});
}
