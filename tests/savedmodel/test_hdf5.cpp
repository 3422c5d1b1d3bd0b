// The HDF5 wrapper and write_atomically: values come back as written in every supported form, h5py's string
// encodings read back, and failures are strata errors naming the file and the object.

#include <ATen/ATen.h>
#include <strata/core/atomic_file.h>
#include <strata/core/error.h>
#include <strata/savedmodel/hdf5.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../support/tensor_checks.h"
#include "temp_dir.h"

using namespace strata;
using strata::test_support::expect_error;
using strata::test_support::TempDir;

TEST_CASE("hdf5: datasets of every supported dtype come back with their values, shapes and dtypes", "[savedmodel][hdf5]") {
  TempDir dir;
  const std::string path = dir.file("d.h5");
  const std::vector<at::Tensor> values = {
      at::randn({3, 4}),
      at::randn({2, 1, 3}, at::kDouble),
      at::arange(-6, 6, at::kInt).reshape({3, 4}),
      at::arange(-6, 6, at::kLong),
      at::arange(0, 250, 7, at::kByte),
      at::arange(-5, 5, at::kChar),
      at::arange(-5, 5, at::kShort),
      at::tensor({1, 0, 1}).to(at::kBool),
      at::scalar_tensor(2.5, at::kFloat),  // 0-d: a scalar dataset
      at::zeros({0, 3}),
      at::randn({4, 3}).t(),  // not contiguous: written in logical (row-major) order
  };
  {
    auto file = h5::File::create(path);
    for (size_t i = 0; i < values.size(); ++i) file.write_dataset("a/b/v" + std::to_string(i), values[i]);
  }
  auto file = h5::File::open_read_only(path);
  CHECK(file.children() == std::vector<std::string>{"a"});
  CHECK(file.is_group("a/b"));
  CHECK_FALSE(file.is_dataset("a/b"));
  CHECK_FALSE(file.exists("a/missing/v0"));
  for (size_t i = 0; i < values.size(); ++i) {
    const auto read = file.read_dataset("a/b/v" + std::to_string(i));
    INFO("dataset " << i);
    CHECK(read.scalar_type() == values[i].scalar_type());
    CHECK(read.sizes() == values[i].sizes());
    CHECK(at::equal(read, values[i].contiguous()));
  }
  CHECK(file.dataset_shape("a/b/v8").empty());
}

TEST_CASE("hdf5: string attributes in h5py's three encodings, empty lists and Keras' chunked lists", "[savedmodel][hdf5]") {
  TempDir dir;
  const std::string path = dir.file("s.h5");
  const std::vector<std::string> names = {"dense", "batch_normalization_1", "x"};
  {
    auto file = h5::File::create(path);
    auto g = file.create_group("g");
    g.set_string_list_attribute("vlen", names, h5::StringType::vlen_ascii);
    g.set_string_list_attribute("fixed", names, h5::StringType::fixed_ascii);
    g.set_string_list_attribute("utf8", {"caf\xc3\xa9"}, h5::StringType::vlen_utf8);
    g.set_string_list_attribute("empty", {});
    g.set_string_attribute("scalar", "tensorflow", h5::StringType::fixed_ascii);
    g.set_string_attribute("name", "lstm_cell");
    g.set_string_list_attribute("split0", {"a", "b"});
    g.set_string_list_attribute("split1", {"c"});
    g.set_string_attribute("name", "replaced");  // writing again replaces
  }
  const auto g = h5::File::open_read_only(path).group("g");
  CHECK(g.string_list_attribute("vlen") == names);
  CHECK(g.string_list_attribute("fixed") == names);
  CHECK(g.string_list_attribute("utf8") == std::vector<std::string>{"caf\xc3\xa9"});
  CHECK(g.string_list_attribute("empty").empty());
  CHECK(g.string_attribute("scalar") == "tensorflow");
  CHECK(g.string_attribute("name") == "replaced");
  CHECK(g.string_list_attribute("split") == std::vector<std::string>{"a", "b", "c"});
  CHECK(g.has_attribute("vlen"));
  CHECK_FALSE(g.has_attribute("nope"));
  expect_error<IOError>([&] { g.string_attribute("nope"); }, {"s.h5", "/g", "nope", "missing"});
  expect_error<ValueError>([&] { g.string_attribute("vlen"); }, {"expected one string, got 3"});
}

TEST_CASE("hdf5: failures are strata errors naming the file and the object", "[savedmodel][hdf5]") {
  TempDir dir;
  expect_error<IOError>([&] { h5::File::open_read_only(dir.file("missing.h5")); }, {"No such file", "missing.h5"});
  const std::string text = dir.file("text.h5");
  std::ofstream(text) << "not an hdf5 file\n";
  expect_error<IOError>([&] { h5::File::open_read_only(text); }, {"text.h5", "not an HDF5 file"});
  const std::string path = dir.file("f.h5");
  {
    auto file = h5::File::create(path);
    file.write_dataset("layer/w", at::ones({2}));
    expect_error<IOError>([&] { file.write_dataset("layer/w", at::ones({2})); }, {"f.h5", "/layer/w", "cannot create"});
    expect_error<ValueError>([&] { file.write_dataset("c", at::ones({2}, at::kComplexFloat)); }, {"/c", "dtype"});
  }
  auto file = h5::File::open_read_only(path);
  expect_error<IOError>([&] { file.group("layer/nope"); }, {"f.h5", "/layer/nope", "no such group"});
  expect_error<IOError>([&] { file.read_dataset("layer/x"); }, {"f.h5", "/layer/x", "no such dataset"});
  expect_error<IOError>([&] { h5::File::create(dir.file("no_dir/x.h5")); }, {"no_dir/x.h5"});
}

TEST_CASE("write_atomically replaces the file only when the writer completes", "[savedmodel][atomic]") {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  auto read = [&] {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  write_atomically(path, [](const std::string& temp) { std::ofstream(temp) << "first"; });
  CHECK(read() == "first");
  std::string seen_temp;
  expect_error<std::runtime_error>(
      [&] {
        write_atomically(path, [&](const std::string& temp) {
          seen_temp = temp;
          std::ofstream(temp) << "half";
          throw std::runtime_error("writer failed");
        });
      },
      {"writer failed"});
  CHECK(read() == "first");
  CHECK(std::filesystem::path(seen_temp).parent_path() == dir.path());
  CHECK_FALSE(std::filesystem::exists(seen_temp));
  write_atomically(path, [](const std::string& temp) { std::ofstream(temp) << "second"; });
  CHECK(read() == "second");
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);  // no temp file left
  expect_error<IOError>([&] { write_atomically(dir.file("no_dir/x"), [](const std::string&) {}); },
                        {"no_dir/x", "does not exist"});
}
