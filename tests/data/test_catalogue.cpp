// The datasets catalogue (mnist, cifar10, fashion_mnist) on tiny fake files, and idx_dataset / IdxReader.
#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/data/cifar10.h>
#include <strata/data/fashion_mnist.h>
#include <strata/data/idx.h>
#include <strata/data/idx_dataset.h>
#include <strata/data/mnist.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "../savedmodel/temp_dir.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using strata::IOError;
using strata::data::write_idx;
using strata::test_support::TempDir;
namespace datasets = strata::datasets;
namespace data = strata::data;

namespace {

std::string io_error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const IOError& error) {
    return error.what();
  }
  FAIL("expected strata::IOError");
  return "";
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Distinct pixel bytes for n images of side x side, image i starting at 10 * i.
at::Tensor fake_images(int64_t n, int64_t side, int64_t start = 0) {
  return (at::arange(n * side * side, at::kLong).view({n, side, side}) + start).remainder(256).to(at::kByte);
}

// Writes a fake MNIST directory: 3 train and 2 test images; train gzip-compressed, test plain.
void write_fake_mnist(const TempDir& dir) {
  write_idx(dir.file("train-images-idx3-ubyte.gz"), fake_images(3, 28), true);
  write_idx(dir.file("train-labels-idx1-ubyte.gz"), at::tensor({7, 0, 9}, at::kByte), true);
  write_idx(dir.file("t10k-images-idx3-ubyte"), fake_images(2, 28, 100), false);
  write_idx(dir.file("t10k-labels-idx1-ubyte"), at::tensor({1, 2}, at::kByte), false);
}

// One CIFAR-10 binary record: label, then the red, green, blue planes; pixel (c, y, x) of image `seed` is
// (seed * 7 + c * 50 + y * 3 + x) mod 256.
std::vector<uint8_t> cifar_record(uint8_t label, int seed) {
  std::vector<uint8_t> record{label};
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) record.push_back(static_cast<uint8_t>((seed * 7 + c * 50 + y * 3 + x) % 256));
  return record;
}

// Writes `labels.size()` records to `path`, image seeds starting at `first_seed`.
void write_cifar_batch(const std::string& path, const std::vector<uint8_t>& labels, int first_seed) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto record = cifar_record(labels[i], first_seed + static_cast<int>(i));
    bytes.insert(bytes.end(), record.begin(), record.end());
  }
  write_bytes(path, bytes);
}

// A fake CIFAR-10 directory: data_batch_k holds 2 records with seeds 10k, 10k + 1 and labels k, k + 1 (mod
// 10); test_batch holds 3 records with seeds 100.. and labels 9, 8, 7.
void write_fake_cifar(const fs::path& directory) {
  fs::create_directories(directory);
  for (int k = 1; k <= 5; ++k)
    write_cifar_batch((directory / ("data_batch_" + std::to_string(k) + ".bin")).string(),
                      {static_cast<uint8_t>(k), static_cast<uint8_t>((k + 1) % 10)}, 10 * k);
  write_cifar_batch((directory / "test_batch.bin").string(), {9, 8, 7}, 100);
}

// x [N, 32, 32, 3] against cifar_record's formula for seeds[n].
void check_cifar_images(const at::Tensor& x, const std::vector<int>& seeds) {
  REQUIRE(x.sizes() == at::IntArrayRef({static_cast<int64_t>(seeds.size()), 32, 32, 3}));
  REQUIRE(x.scalar_type() == at::kFloat);
  const at::Tensor host = x.contiguous();
  const float* p = host.data_ptr<float>();
  int64_t mismatches = 0;
  for (size_t n = 0; n < seeds.size(); ++n)
    for (int y = 0; y < 32; ++y)
      for (int xx = 0; xx < 32; ++xx)
        for (int c = 0; c < 3; ++c) {
          const float expected = static_cast<float>((seeds[n] * 7 + c * 50 + y * 3 + xx) % 256) / 255.0f;
          mismatches += std::abs(p[((n * 32 + y) * 32 + xx) * 3 + c] - expected) > 1e-6f;
        }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("mnist::load reads gzip and plain IDX files into Keras' shapes", "[data][catalogue][mnist]") {
  TempDir dir;
  write_fake_mnist(dir);
  const datasets::mnist::Data d = datasets::mnist::load(dir.path().string());
  REQUIRE(d.x_train.sizes() == at::IntArrayRef({3, 28, 28}));
  REQUIRE(d.x_test.sizes() == at::IntArrayRef({2, 28, 28}));
  CHECK(d.x_train.scalar_type() == at::kFloat);
  CHECK(d.y_train.scalar_type() == at::kLong);
  CHECK(d.x_train.equal(fake_images(3, 28).to(at::kFloat) / 255));
  CHECK(d.x_test.equal(fake_images(2, 28, 100).to(at::kFloat) / 255));
  CHECK(d.y_train.equal(at::tensor({7, 0, 9}, at::kLong)));
  CHECK(d.y_test.equal(at::tensor({1, 2}, at::kLong)));
  CHECK(datasets::mnist::class_names().size() == 10);
  CHECK(datasets::mnist::class_names()[3] == "3");
}

TEST_CASE("mnist::train_dataset and test_dataset give (image, label) elements", "[data][catalogue][mnist]") {
  TempDir dir;
  write_fake_mnist(dir);
  const data::Dataset train = datasets::mnist::train_dataset(dir.path().string());
  CHECK(train.cardinality() == 3);
  const auto elements = train.elements();
  REQUIRE(elements.size() == 3);
  CHECK(elements[2][0].equal(fake_images(3, 28)[2].to(at::kFloat) / 255));
  CHECK(elements[2][1].item<int64_t>() == 9);
  CHECK(elements[2][1].dim() == 0);
  CHECK(datasets::mnist::test_dataset(dir.path().string()).cardinality() == 2);
}

TEST_CASE("mnist::load lists every missing file and where it looked", "[data][catalogue][mnist]") {
  TempDir dir;
  const std::string root = dir.path().string();
  SECTION("all four missing") {
    const std::string message = io_error_message([&] { datasets::mnist::load(root); });
    for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                             "t10k-labels-idx1-ubyte"}) {
      CHECK_THAT(message, Contains(dir.file(std::string(name) + ".gz") + ", " + dir.file(name) + "\n"));
    }
    CHECK_THAT(message, Contains("MNIST") && Contains("4 of the 4") && Contains("mnist::load()"));
  }
  SECTION("one missing names only that one") {
    write_fake_mnist(dir);
    fs::remove(dir.file("t10k-labels-idx1-ubyte"));
    const std::string message = io_error_message([&] { datasets::mnist::load(root); });
    CHECK_THAT(message, Contains("1 of the 4") && Contains(dir.file("t10k-labels-idx1-ubyte.gz")) &&
                            Contains(dir.file("t10k-labels-idx1-ubyte")));
    CHECK_THAT(message, !Contains("train-images"));
    // The train split alone does not need it.
    CHECK(datasets::mnist::train_dataset(root).cardinality() == 3);
  }
}

TEST_CASE("mnist::load names a truncated or wrongly shaped file", "[data][catalogue][mnist]") {
  TempDir dir;
  write_fake_mnist(dir);
  const std::string root = dir.path().string();
  SECTION("truncated plain file") {
    const std::string path = dir.file("t10k-images-idx3-ubyte");
    auto bytes = read_bytes(path);
    bytes.resize(bytes.size() - 100);
    write_bytes(path, bytes);
    CHECK_THAT(io_error_message([&] { datasets::mnist::load(root); }),
               Contains(path) && Contains("truncated data"));
  }
  SECTION("truncated gzip file") {
    const std::string path = dir.file("train-images-idx3-ubyte.gz");
    auto bytes = read_bytes(path);
    bytes.resize(bytes.size() / 2);
    write_bytes(path, bytes);
    CHECK_THAT(io_error_message([&] { datasets::mnist::load(root); }), Contains(path));
  }
  SECTION("images of another size") {
    write_idx(dir.file("train-images-idx3-ubyte.gz"), fake_images(3, 32), true);
    CHECK_THAT(io_error_message([&] { datasets::mnist::load(root); }),
               Contains(dir.file("train-images-idx3-ubyte.gz")) && Contains("[N, 28, 28]") &&
                   Contains("[3, 32, 32]"));
  }
  SECTION("labels and images disagree") {
    write_idx(dir.file("train-labels-idx1-ubyte.gz"), at::tensor({1, 2}, at::kByte), true);
    CHECK_THAT(io_error_message([&] { datasets::mnist::load(root); }),
               Contains("3 images") && Contains("2 labels"));
  }
}

TEST_CASE("cifar10::load decodes the binary batches into [N, 32, 32, 3] and [N, 1]", "[data][catalogue][cifar10]") {
  TempDir dir;
  SECTION("files in the directory given") { write_fake_cifar(dir.path()); }
  SECTION("files in its cifar-10-batches-bin sub-directory") { write_fake_cifar(dir.path() / "cifar-10-batches-bin"); }
  const datasets::cifar10::Data d = datasets::cifar10::load(dir.path().string());
  check_cifar_images(d.x_train, {10, 11, 20, 21, 30, 31, 40, 41, 50, 51});
  check_cifar_images(d.x_test, {100, 101, 102});
  REQUIRE(d.y_train.sizes() == at::IntArrayRef({10, 1}));
  CHECK(d.y_train.scalar_type() == at::kLong);
  CHECK(d.y_train.view({-1}).equal(at::tensor({1, 2, 2, 3, 3, 4, 4, 5, 5, 6}, at::kLong)));
  CHECK(d.y_test.view({-1}).equal(at::tensor({9, 8, 7}, at::kLong)));

  const data::Dataset test = datasets::cifar10::test_dataset(dir.path().string());
  CHECK(test.cardinality() == 3);
  const auto elements = test.elements();
  CHECK(elements[1][0].equal(d.x_test[1]));
  CHECK(elements[1][1].sizes() == at::IntArrayRef({1}));
  CHECK(datasets::cifar10::train_dataset(dir.path().string()).cardinality() == 10);
  CHECK(datasets::cifar10::class_names().front() == "airplane");
  CHECK(datasets::cifar10::class_names().back() == "truck");
}

TEST_CASE("cifar10::load reports missing, truncated and foreign files", "[data][catalogue][cifar10]") {
  TempDir dir;
  const std::string root = dir.path().string();
  SECTION("every missing file with both places tried") {
    write_fake_cifar(dir.path());
    fs::remove(dir.file("data_batch_3.bin"));
    fs::remove(dir.file("test_batch.bin"));
    const std::string message = io_error_message([&] { datasets::cifar10::load(root); });
    CHECK_THAT(message, Contains("CIFAR-10") && Contains("2 of the 6") && Contains(dir.file("data_batch_3.bin")) &&
                            Contains((dir.path() / "cifar-10-batches-bin" / "data_batch_3.bin").string()) &&
                            Contains(dir.file("test_batch.bin")) && Contains("cifar-10-binary.tar.gz"));
    CHECK_THAT(message, !Contains("data_batch_1"));
  }
  SECTION("a file that is not whole records") {
    write_fake_cifar(dir.path());
    auto bytes = read_bytes(dir.file("data_batch_2.bin"));
    bytes.resize(bytes.size() - 10);
    write_bytes(dir.file("data_batch_2.bin"), bytes);
    CHECK_THAT(io_error_message([&] { datasets::cifar10::load(root); }),
               Contains(dir.file("data_batch_2.bin")) && Contains("6136 bytes") && Contains("3073-byte records"));
  }
  SECTION("a label above 9") {
    write_fake_cifar(dir.path());
    write_cifar_batch(dir.file("test_batch.bin"), {3, 12}, 0);
    CHECK_THAT(io_error_message([&] { datasets::cifar10::test_dataset(root); }),
               Contains(dir.file("test_batch.bin")) && Contains("0..9") && Contains("12"));
  }
}

TEST_CASE("fashion_mnist dataset views match load() on the installed files", "[data][catalogue][fashion_mnist]") {
  if (!fs::is_directory(datasets::fashion_mnist::kDefaultPath)) {
    WARN("Skipped: " << datasets::fashion_mnist::kDefaultPath << " not found");
    return;
  }
  const data::Dataset test = datasets::fashion_mnist::test_dataset();
  REQUIRE(test.cardinality() == 10000);
  const datasets::fashion_mnist::Data d = datasets::fashion_mnist::load();
  auto iterator = test.make_iterator();
  for (int64_t i = 0; i < 3; ++i) {
    const auto element = iterator->next();
    REQUIRE(element.has_value());
    CHECK((*element)[0].equal(d.x_test[i]));
    CHECK((*element)[1].equal(d.y_test[i]));
  }
  // The streaming reader sees the same bytes.
  const data::Dataset raw = data::idx_dataset({std::string(datasets::fashion_mnist::kDefaultPath) + "/t10k-images-idx3-ubyte.gz",
                                               std::string(datasets::fashion_mnist::kDefaultPath) + "/t10k-labels-idx1-ubyte.gz"});
  CHECK(raw.cardinality() == 10000);
  const auto first = raw.make_iterator()->next();
  REQUIRE(first.has_value());
  CHECK((*first)[0].to(at::kFloat).div(255).equal(d.x_test[0]));
  CHECK((*first)[1].to(at::kLong).equal(d.y_test[0]));
}

TEST_CASE("IdxReader reads records in pieces equal to read_idx", "[data][idx]") {
  TempDir dir;
  const at::Tensor stored = at::arange(7 * 3 * 2, at::kInt).view({7, 3, 2}) * 1000;
  for (bool gzip : {false, true}) {
    const std::string path = dir.file(gzip ? "r.idx.gz" : "r.idx");
    write_idx(path, stored, gzip);
    data::IdxReader reader(path);
    CHECK(reader.shape() == std::vector<int64_t>{7, 3, 2});
    CHECK(reader.dtype() == at::kInt);
    CHECK(reader.read_records(2).equal(stored.narrow(0, 0, 2)));
    CHECK(reader.read_records(4).equal(stored.narrow(0, 2, 4)));
    CHECK(reader.position() == 6);
    CHECK(reader.read_records(5).equal(stored.narrow(0, 6, 1)));  // only one left
    CHECK(reader.read_records(1).size(0) == 0);
    CHECK_NOTHROW(reader.expect_end());
  }
}

TEST_CASE("idx_dataset streams records of several IDX files", "[data][idx_dataset]") {
  TempDir dir;
  const at::Tensor images = fake_images(5, 4);
  const at::Tensor labels = at::tensor({3, 1, 4, 1, 5}, at::kInt);
  const std::string images_path = dir.file("images.idx.gz"), labels_path = dir.file("labels.idx");
  write_idx(images_path, images, true);
  write_idx(labels_path, labels, false);

  SECTION("elements, cardinality and repeated passes") {
    std::optional<data::Dataset> ds = data::idx_dataset({images_path, labels_path});
    CHECK(ds->cardinality() == 5);
    CHECK_THAT(ds->node()->describe(), Contains(images_path) && Contains(labels_path));
    auto iterator = ds->make_iterator();
    ds.reset();  // the pass must not depend on the handle
    for (int64_t i = 0; i < 5; ++i) {
      const auto element = iterator->next();
      REQUIRE(element.has_value());
      REQUIRE(element->size() == 2);
      CHECK((*element)[0].equal(images[i]));
      CHECK((*element)[1].equal(labels[i]));
    }
    CHECK_FALSE(iterator->next().has_value());
    CHECK_FALSE(iterator->next().has_value());
    const data::Dataset again = data::idx_dataset({images_path, labels_path});
    CHECK(again.elements().size() == 5);
    CHECK(again.elements()[4][1].item<int>() == 5);
  }
  SECTION("files with different record counts") {
    write_idx(labels_path, at::tensor({1, 2, 3}, at::kInt), false);
    CHECK_THAT(io_error_message([&] { data::idx_dataset({images_path, labels_path}); }),
               Contains(images_path) && Contains(labels_path) && Contains("5") && Contains("3"));
  }
  SECTION("a missing file") {
    CHECK_THAT(io_error_message([&] { data::idx_dataset({images_path, dir.file("nope.idx")}); }),
               Contains(dir.file("nope.idx")));
  }
  SECTION("data that ends early fails in next() naming the file") {
    auto bytes = read_bytes(labels_path);
    bytes.resize(bytes.size() - 6);  // records 3 and 4 lose bytes
    write_bytes(labels_path, bytes);
    const data::Dataset ds = data::idx_dataset({images_path, labels_path});
    auto iterator = ds.make_iterator();
    for (int i = 0; i < 3; ++i) CHECK(iterator->next().has_value());
    CHECK_THAT(io_error_message([&] { iterator->next(); }), Contains(labels_path) && Contains("truncated data"));
  }
  SECTION("trailing bytes fail when the pass ends") {
    auto bytes = read_bytes(labels_path);
    bytes.push_back(0);
    write_bytes(labels_path, bytes);
    const data::Dataset ds = data::idx_dataset({images_path, labels_path});
    auto iterator = ds.make_iterator();
    for (int i = 0; i < 5; ++i) CHECK(iterator->next().has_value());
    CHECK_THAT(io_error_message([&] { iterator->next(); }), Contains(labels_path) && Contains("trailing data"));
  }
}
