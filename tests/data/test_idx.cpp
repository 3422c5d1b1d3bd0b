#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/data/fashion_mnist.h>
#include <strata/data/idx.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using strata::data::read_idx;
using strata::data::write_idx;
namespace fashion_mnist = strata::datasets::fashion_mnist;

namespace {

// A fresh directory per test, removed afterwards, so parallel test runs never share files.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("strata_test_idx_" + std::to_string(::getpid()) + "_" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Header bytes: magic, type code, rank, then each size as a big-endian uint32.
std::vector<std::uint8_t> idx_header(std::uint8_t type_code, std::initializer_list<std::uint32_t> dims) {
  std::vector<std::uint8_t> bytes{0, 0, type_code, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t dim : dims) {
    bytes.push_back(static_cast<std::uint8_t>(dim >> 24));
    bytes.push_back(static_cast<std::uint8_t>(dim >> 16));
    bytes.push_back(static_cast<std::uint8_t>(dim >> 8));
    bytes.push_back(static_cast<std::uint8_t>(dim));
  }
  return bytes;
}

std::vector<std::uint8_t> concat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Returns the IOError's message, or a marker the CHECK_THAT will show when nothing was thrown.
template <typename Function>
std::string io_error_message(Function&& function) {
  try {
    function();
  } catch (const strata::IOError& error) {
    return error.what();
  }
  return "<no strata::IOError thrown>";
}

void check_round_trip(const at::Tensor& original, const std::string& path, bool gzip) {
  write_idx(path, original, gzip);
  CHECK_FALSE(fs::exists(path + ".tmp"));
  at::Tensor loaded = read_idx(path);
  CHECK(loaded.scalar_type() == original.scalar_type());
  CHECK(loaded.sizes() == original.sizes());
  CHECK(at::equal(loaded, original));
}

}  // namespace

TEST_CASE("write_idx/read_idx round-trip uint8 and float32", "[data][idx]") {
  TempDir dir;
  at::Tensor bytes = at::tensor({0, 1, 127, 128, 254, 255}, at::kByte).reshape({2, 3});
  at::Tensor floats =
      at::tensor({0.0f, -1.5f, 3.25f, 1e-20f, -7e30f, 0.1f, 42.0f, -0.0f, 1.0f, 2.0f, 3.0f, 4.0f}, at::kFloat)
          .reshape({2, 2, 3});

  for (bool gzip : {false, true}) {
    DYNAMIC_SECTION("gzip=" << gzip) {
      check_round_trip(bytes, dir.file("bytes.idx"), gzip);
      check_round_trip(floats, dir.file("floats.idx"), gzip);

      // The writer must produce the encoding it was asked for; the reader detects either.
      auto written = read_bytes(dir.file("bytes.idx"));
      REQUIRE(written.size() >= 4);
      if (gzip) {
        CHECK(written[0] == 0x1F);
        CHECK(written[1] == 0x8B);
      } else {
        CHECK(written == concat(idx_header(0x08, {2, 3}), {0, 1, 127, 128, 254, 255}));
      }
    }
  }
}

TEST_CASE("write_idx/read_idx round-trip the other element types", "[data][idx]") {
  TempDir dir;
  check_round_trip(at::tensor({-128, -1, 0, 127}, at::kChar), dir.file("int8.idx"), true);
  check_round_trip(at::tensor({-32768, -2, 258, 32767}, at::kShort), dir.file("int16.idx"), true);
  check_round_trip(at::tensor({INT32_MIN, -2, 65536, INT32_MAX}, at::kInt), dir.file("int32.idx"), false);
  check_round_trip(at::tensor({-1.0e300, 0.5, 3.0}, at::kDouble), dir.file("float64.idx"), false);
  // A non-contiguous view is written in logical order.
  at::Tensor transposed = at::arange(6, at::kInt).reshape({2, 3}).t();
  check_round_trip(transposed, dir.file("transposed.idx"), true);
  // Zero-sized dimensions are legal.
  check_round_trip(at::empty({0, 28}, at::kByte), dir.file("empty.idx"), false);
}

TEST_CASE("write_idx rejects dtypes IDX cannot store", "[data][idx]") {
  TempDir dir;
  CHECK_THROWS_AS(write_idx(dir.file("long.idx"), at::zeros({2}, at::kLong), false), strata::ValueError);
  CHECK_THROWS_AS(write_idx(dir.file("undefined.idx"), at::Tensor(), false), strata::ValueError);
}

TEST_CASE("read_idx decodes hand-written big-endian bytes", "[data][idx]") {
  TempDir dir;

  SECTION("uint8 matrix") {
    std::string path = dir.file("u8.idx");
    write_bytes(path, concat(idx_header(0x08, {2, 2}), {0x00, 0x7F, 0x80, 0xFF}));
    at::Tensor t = read_idx(path);
    REQUIRE(t.scalar_type() == at::kByte);
    REQUIRE(t.sizes() == at::IntArrayRef({2, 2}));
    CHECK(t[0][0].item<int>() == 0);
    CHECK(t[0][1].item<int>() == 127);
    CHECK(t[1][0].item<int>() == 128);
    CHECK(t[1][1].item<int>() == 255);
  }
  SECTION("int16") {
    std::string path = dir.file("i16.idx");
    write_bytes(path, concat(idx_header(0x0B, {2}), {0x01, 0x02, 0xFF, 0xFE}));
    at::Tensor t = read_idx(path);
    REQUIRE(t.scalar_type() == at::kShort);
    CHECK(t[0].item<int>() == 0x0102);
    CHECK(t[1].item<int>() == -2);
  }
  SECTION("int32") {
    std::string path = dir.file("i32.idx");
    write_bytes(path, concat(idx_header(0x0C, {2}), {0x00, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00}));
    at::Tensor t = read_idx(path);
    REQUIRE(t.scalar_type() == at::kInt);
    CHECK(t[0].item<std::int64_t>() == 65536);
    CHECK(t[1].item<std::int64_t>() == INT32_MIN);
  }
  SECTION("float32") {
    std::string path = dir.file("f32.idx");
    // 1.0f = 0x3F800000, -2.0f = 0xC0000000, 0.15625f = 0x3E200000
    write_bytes(path, concat(idx_header(0x0D, {1, 3}),
                             {0x3F, 0x80, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x3E, 0x20, 0x00, 0x00}));
    at::Tensor t = read_idx(path);
    REQUIRE(t.scalar_type() == at::kFloat);
    REQUIRE(t.sizes() == at::IntArrayRef({1, 3}));
    CHECK(t[0][0].item<float>() == 1.0f);
    CHECK(t[0][1].item<float>() == -2.0f);
    CHECK(t[0][2].item<float>() == 0.15625f);
  }
  SECTION("float64") {
    std::string path = dir.file("f64.idx");
    // 1.5 = 0x3FF8000000000000
    write_bytes(path, concat(idx_header(0x0E, {1}), {0x3F, 0xF8, 0, 0, 0, 0, 0, 0}));
    at::Tensor t = read_idx(path);
    REQUIRE(t.scalar_type() == at::kDouble);
    CHECK(t[0].item<double>() == 1.5);
  }
}

TEST_CASE("read_idx reports broken files as IOError naming the path", "[data][idx]") {
  TempDir dir;

  SECTION("missing file") {
    std::string path = dir.file("does_not_exist.idx.gz");
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path) && Contains("No such file"));
  }
  SECTION("directory instead of a file") {
    std::string path = dir.path().string();
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path) && Contains("directory"));
  }
  SECTION("empty file") {
    std::string path = dir.file("empty.idx");
    write_bytes(path, {});
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path) && Contains("truncated header"));
  }
  SECTION("bad magic") {
    std::string path = dir.file("magic.idx");
    write_bytes(path, concat({0x01, 0x00, 0x08, 0x01, 0, 0, 0, 1}, {7}));
    CHECK_THAT(io_error_message([&] { read_idx(path); }),
               Contains(path) && Contains("bad magic") && Contains("0x01"));
  }
  SECTION("unknown type byte") {
    std::string path = dir.file("type.idx");
    write_bytes(path, concat(idx_header(0x0A, {1}), {7}));
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path) && Contains("0x0A"));
  }
  SECTION("truncated dimension sizes") {
    std::string path = dir.file("dims.idx");
    write_bytes(path, {0, 0, 0x08, 0x02, 0, 0, 0, 1, 0, 0});
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path) && Contains("truncated header"));
  }
  SECTION("truncated data") {
    std::string path = dir.file("short.idx");
    write_bytes(path, concat(idx_header(0x0D, {2, 2}), {0, 0, 0x80, 0x3F, 0, 0}));
    CHECK_THAT(io_error_message([&] { read_idx(path); }),
               Contains(path) && Contains("truncated data") && Contains("16 bytes, got 6"));
  }
  SECTION("truncated data inside a gzip file") {
    std::string full_path = dir.file("full.idx.gz");
    write_idx(full_path, at::arange(4000, at::kInt), true);
    auto bytes = read_bytes(full_path);
    std::string path = dir.file("cut.idx.gz");
    write_bytes(path, std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path));
  }
  SECTION("trailing garbage") {
    std::string path = dir.file("long.idx");
    write_bytes(path, concat(idx_header(0x08, {2}), {1, 2, 3}));
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path) && Contains("trailing data"));
  }
  SECTION("absurd declared size") {
    std::string path = dir.file("huge.idx");
    write_bytes(path, concat(idx_header(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}), {1, 2, 3}));
    CHECK_THAT(io_error_message([&] { read_idx(path); }), Contains(path) && Contains("limit"));
  }
}

TEST_CASE("fashion_mnist::load reads the installed dataset", "[data][fashion_mnist]") {
  if (!fs::is_directory(fashion_mnist::kDefaultPath)) {
    // Catch2 v2 has no SKIP: warn and return so the run shows why nothing was checked.
    WARN("Skipped: " << fashion_mnist::kDefaultPath
                     << " not found (apt-get install dataset-fashion-mnist to run this test)");
    return;
  }
  fashion_mnist::Data data = fashion_mnist::load();

  CHECK(data.x_train.sizes() == at::IntArrayRef({60000, 28, 28}));
  CHECK(data.y_train.sizes() == at::IntArrayRef({60000}));
  CHECK(data.x_test.sizes() == at::IntArrayRef({10000, 28, 28}));
  CHECK(data.y_test.sizes() == at::IntArrayRef({10000}));
  CHECK(data.x_train.scalar_type() == at::kFloat);
  CHECK(data.x_test.scalar_type() == at::kFloat);
  CHECK(data.y_train.scalar_type() == at::kLong);
  CHECK(data.y_test.scalar_type() == at::kLong);

  for (const at::Tensor& x : {data.x_train, data.x_test}) {
    CHECK(x.min().item<float>() == 0.0f);
    CHECK(x.max().item<float>() == 1.0f);
  }
  for (const at::Tensor& y : {data.y_train, data.y_test}) {
    CHECK(y.min().item<std::int64_t>() == 0);
    CHECK(y.max().item<std::int64_t>() == 9);
  }
  // Every class is equally represented in both splits of Fashion-MNIST.
  CHECK(at::equal(at::bincount(data.y_train), at::full({10}, 6000, at::kLong)));
  CHECK(at::equal(at::bincount(data.y_test), at::full({10}, 1000, at::kLong)));

  // The first training image of Fashion-MNIST is an ankle boot.
  CHECK(data.y_train[0].item<std::int64_t>() == 9);
  CHECK(fashion_mnist::class_names().at(9) == "Ankle boot");
}

TEST_CASE("fashion_mnist::class_names lists the 10 classes in label order", "[data][fashion_mnist]") {
  const auto& names = fashion_mnist::class_names();
  REQUIRE(names.size() == 10);
  CHECK(names[0] == "T-shirt/top");
  CHECK(names[1] == "Trouser");
  CHECK(names[5] == "Sandal");
  CHECK(names[8] == "Bag");
}

TEST_CASE("fashion_mnist::load explains how to get missing files", "[data][fashion_mnist]") {
  TempDir dir;
  std::string missing = (dir.path() / "no_such_dir").string();
  std::string message = io_error_message([&] { fashion_mnist::load(missing); });
  CHECK_THAT(message, Contains(missing) && Contains("train-images-idx3-ubyte.gz") &&
                          Contains("dataset-fashion-mnist") && Contains("fashion_mnist::load()"));
}

TEST_CASE("fashion_mnist::load rejects files that are not Fashion-MNIST", "[data][fashion_mnist]") {
  TempDir dir;
  auto write_split = [&](const std::string& prefix, const at::Tensor& images, const at::Tensor& labels) {
    write_idx(dir.file(prefix + "-images-idx3-ubyte.gz"), images, true);
    write_idx(dir.file(prefix + "-labels-idx1-ubyte.gz"), labels, true);
  };
  const std::string train_images = dir.file("train-images-idx3-ubyte.gz");
  const std::string train_labels = dir.file("train-labels-idx1-ubyte.gz");
  // A well-formed test split, so each section's error comes from the train files (load checks all four exist).
  write_split("t10k", at::zeros({3, 28, 28}, at::kByte), at::zeros({3}, at::kByte));

  SECTION("one file missing names that file") {
    write_idx(train_images, at::zeros({3, 28, 28}, at::kByte), true);
    std::string message = io_error_message([&] { fashion_mnist::load(dir.path().string()); });
    CHECK_THAT(message, Contains(train_labels) && Contains("dataset-fashion-mnist"));
  }
  SECTION("wrong image shape") {
    write_split("train", at::zeros({3, 28, 27}, at::kByte), at::zeros({3}, at::kByte));
    CHECK_THAT(io_error_message([&] { fashion_mnist::load(dir.path().string()); }),
               Contains(train_images) && Contains("[3, 28, 27]"));
  }
  SECTION("label out of range") {
    write_split("train", at::zeros({3, 28, 28}, at::kByte), at::tensor({0, 10, 2}, at::kByte));
    CHECK_THAT(io_error_message([&] { fashion_mnist::load(dir.path().string()); }),
               Contains(train_labels) && Contains("0..9") && Contains("10"));
  }
  SECTION("image and label counts disagree") {
    write_split("train", at::zeros({3, 28, 28}, at::kByte), at::zeros({2}, at::kByte));
    CHECK_THAT(
        io_error_message([&] { fashion_mnist::load(dir.path().string()); }),
        Contains(train_images) && Contains(train_labels) && Contains("3 images") && Contains("2 labels"));
  }
  SECTION("sample count is not Fashion-MNIST's") {
    write_split("train", at::zeros({3, 28, 28}, at::kByte), at::zeros({3}, at::kByte));
    CHECK_THAT(io_error_message([&] { fashion_mnist::load(dir.path().string()); }),
               Contains(train_images) && Contains("expected 60000") && Contains("got 3"));
  }
}
