// File readers: CSV files with typed columns, and directories of PNG/JPEG images by class. Every expected value
// is written out by hand from the files the tests write.

#include <strata/callbacks/event_file_writer.h>
#include <strata/core/error.h>
#include <strata/data/csv_dataset.h>
#include <strata/data/image_dataset.h>
#include <strata/data/image_decode.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/models/sequential.h>

#include <ATen/ATen.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#include <jpeglib.h>

using namespace strata;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system's temporary folder, removed with the object.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("strata_readers_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name, const std::string& content) const {
    const fs::path target = path / name;
    fs::create_directories(target.parent_path());
    std::ofstream(target, std::ios::binary) << content;
    return target.string();
  }
};

double value(const at::Tensor& t) { return t.item<double>(); }

}  // namespace

TEST_CASE("csv_dataset reads typed columns, quotes, defaults and na_value", "[data][readers]") {
  TempDir dir("typed");
  const std::string path = dir.file("typed.csv",
                                    "id,name,score,count\n"
                                    "1,\"alpha, beta\",2.5,7\n"
                                    "2,\"say \"\"hi\"\"\",,-3\r\n"
                                    "\n"
                                    "3,\"two\nlines\",NA,\n"
                                    "4,plain, +1e3 ,2147483647");
  const data::CsvOptions options{
      .record_defaults = {{.dtype = at::kLong},
                          {.dtype = at::kLong, .vocabulary = {"plain", "alpha, beta", "say \"hi\"", "two\nlines"}},
                          {.dtype = at::kFloat, .default_value = "0.5"},
                          {.dtype = at::kInt, .default_value = "-1"}},
      .header = true,
      .na_value = "NA"};
  const auto rows = data::csv_dataset({path}, options).elements();
  REQUIRE(rows.size() == 4);
  const double expected[4][4] = {{1, 1, 2.5, 7}, {2, 2, 0.5, -3}, {3, 3, 0.5, -1}, {4, 0, 1000, 2147483647}};
  for (size_t r = 0; r < 4; ++r) {
    REQUIRE(rows[r].size() == 4);
    CHECK(rows[r][0].scalar_type() == at::kLong);
    CHECK(rows[r][1].scalar_type() == at::kLong);
    CHECK(rows[r][2].scalar_type() == at::kFloat);
    CHECK(rows[r][3].scalar_type() == at::kInt);
    for (size_t c = 0; c < 4; ++c) {
      CHECK(rows[r][c].dim() == 0);
      CHECK(value(rows[r][c]) == expected[r][c]);
    }
  }
  // A second pass reopens the file.
  CHECK(data::csv_dataset({path}, options).elements().size() == 4);

  // Selection by header name or index, in the order given.
  const auto by_name = data::csv_dataset({path}, {.record_defaults = {{.dtype = at::kInt, .default_value = "0"}, {.dtype = at::kDouble}},
                                                  .header = true,
                                                  .select_col_names = {"count", "id"}})
                           .elements();
  REQUIRE(by_name.size() == 4);
  CHECK(value(by_name[1][0]) == -3);
  CHECK(value(by_name[2][0]) == 0);
  CHECK(by_name[3][1].scalar_type() == at::kDouble);
  CHECK(value(by_name[3][1]) == 4);
  const auto by_index = data::csv_dataset({path}, {.record_defaults = {{.default_value = "9"}, {.dtype = at::kLong}},
                                                   .header = true,
                                                   .na_value = "NA",
                                                   .select_cols = {2, 0}})
                            .elements();
  REQUIRE(by_index.size() == 4);
  CHECK(value(by_index[0][0]) == 2.5);
  CHECK(value(by_index[2][0]) == 9);
  CHECK(value(by_index[2][1]) == 3);
}

TEST_CASE("csv_dataset reads several files in order, without a header, with another delimiter", "[data][readers]") {
  TempDir dir("files");
  const std::string a = dir.file("a.csv", "1;0.25\n2;-0.5\n"), b = dir.file("b.csv", "3;\"1e-2\"\n");
  const auto rows = data::csv_dataset({a, b}, {.record_defaults = {{.dtype = at::kInt}, {.dtype = at::kDouble}},
                                               .field_delim = ';'})
                        .elements();
  REQUIRE(rows.size() == 3);
  CHECK(value(rows[0][0]) == 1);
  CHECK(value(rows[1][1]) == -0.5);
  CHECK(value(rows[2][0]) == 3);
  CHECK(value(rows[2][1]) == 0.01);
  CHECK(data::csv_dataset({a}, {.record_defaults = {{}, {}}, .field_delim = ';'}).cardinality() ==
        data::kUnknownCardinality);
}

TEST_CASE("csv_dataset reports file, line and column for bad records", "[data][readers]") {
  TempDir dir("bad");
  const data::CsvOptions three{.record_defaults = {{}, {}, {}}, .header = true};
  const auto first_error = [](const data::Dataset& dataset) {
    try {
      dataset.elements();
    } catch (const ValueError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  // Line 4 is the third record: the quoted field of line 2 spans two lines.
  const std::string short_row = dir.file("short.csv", "a,b,c\n1,\"x\ny\",3\n4,5\n");
  CHECK(first_error(data::csv_dataset({short_row}, {.record_defaults = {{}, {.dtype = at::kLong, .vocabulary = {"x\ny"}}, {}},
                                                    .header = true})) == short_row + ":4:3: expected 3 fields, got 2");
  const std::string long_row = dir.file("long.csv", "a,b,c\n1,2,3\n1,2,3,4\n");
  CHECK(first_error(data::csv_dataset({long_row}, three)) == long_row + ":3:4: expected 3 fields, got 4");
  const std::string bad_number = dir.file("number.csv", "a,b,c\n1,2,3\n4,5x,6\n");
  CHECK(first_error(data::csv_dataset({bad_number}, three)) ==
        bad_number + ":3:2: column 'b': '5x' is not a number of type float32");
  // Without a header the column is named by its number; the line counts from the first record.
  const std::string no_header = dir.file("noheader.csv", "1,2\n3,4.5\n");
  CHECK(first_error(data::csv_dataset({no_header}, {.record_defaults = {{.dtype = at::kInt}, {.dtype = at::kInt}}})) ==
        no_header + ":2:2: column 2: '4.5' is not an integer of type int32");
  const std::string too_big = dir.file("big.csv", "7,2147483648\n");
  CHECK_THAT(first_error(data::csv_dataset({too_big}, {.record_defaults = {{.dtype = at::kInt}, {.dtype = at::kInt}}})),
             Contains(":1:2: column 2: '2147483648' is out of range for int32"));
  const std::string empty = dir.file("empty.csv", "a,b,c\n1,,3\n");
  CHECK(first_error(data::csv_dataset({empty}, three)) ==
        empty + ":2:2: column 'b': the field is empty and the column has no default_value");
  const std::string unknown = dir.file("vocab.csv", "a\nred\nblue\n");
  CHECK(first_error(data::csv_dataset({unknown}, {.record_defaults = {{.dtype = at::kLong, .vocabulary = {"red"}}},
                                                  .header = true})) ==
        unknown + ":3:1: column 'a': 'blue' is not in the column's vocabulary");
  const std::string unclosed = dir.file("quote.csv", "a,b\n1,\"open\n2,3\n");
  CHECK_THAT(first_error(data::csv_dataset({unclosed}, {.record_defaults = {{}, {}}, .header = true})),
             Contains(unclosed + ":2:2: the quoted field is not closed"));
  // The good rows before a bad one come out first.
  auto iterator = data::csv_dataset({bad_number}, three).make_iterator();
  CHECK(iterator->next().has_value());
  CHECK_THROWS_AS(iterator->next(), ValueError);

  const std::string missing = (dir.path / "missing.csv").string();
  CHECK_THROWS_AS(data::csv_dataset({missing}, three).elements(), IOError);
  CHECK_THROWS_WITH(data::csv_dataset({missing}, three).elements(), "csv_dataset: cannot open '" + missing + "'");
  CHECK_THROWS_WITH(data::csv_dataset({long_row}, {.record_defaults = {{}, {}}, .header = true}).elements(),
                    Contains(":1:1: the file has 3 columns but 2 record_defaults were given"));
  CHECK_THROWS_WITH(data::csv_dataset({long_row}, {.record_defaults = {{}}, .select_col_names = {"a"}}),
                    Contains("select_col_names needs header = true"));
  CHECK_THROWS_WITH(data::csv_dataset({long_row}, {.record_defaults = {{}}, .header = true, .select_col_names = {"z"}}).elements(),
                    Contains(long_row + ":1:1: the header has no column 'z'"));
  CHECK_THROWS_WITH(data::csv_dataset({long_row}, {.record_defaults = {{.vocabulary = {"x"}}}}),
                    Contains("set dtype = at::kLong"));
  CHECK_THROWS_WITH(data::csv_dataset({long_row}, {.record_defaults = {{.dtype = at::kInt, .default_value = "1.5"}}}),
                    Contains("record_defaults[0]: default_value '1.5': not an integer of type int32"));
  CHECK_THROWS_WITH(data::csv_dataset({long_row}, {.record_defaults = {{.dtype = at::kBool}}}),
                    Contains("dtype must be float32, float64, int32 or int64"));
}

TEST_CASE("packed_csv_dataset packs the features into one float vector and splits off the label", "[data][readers]") {
  TempDir dir("packed");
  const std::string path = dir.file("houses.csv", "rooms,price,area\n3,250000,80.5\n2,190000,61\n5,410000,130.25\n");
  const data::CsvOptions options{.record_defaults = {{.dtype = at::kInt}, {.dtype = at::kLong}, {}}, .header = true};
  const auto rows = data::packed_csv_dataset({path}, "price", options).elements();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0][0].scalar_type() == at::kFloat);
  CHECK(rows[0][0].equal(at::tensor({3.0f, 80.5f})));
  CHECK(rows[2][0].equal(at::tensor({5.0f, 130.25f})));
  CHECK(rows[1][1].scalar_type() == at::kLong);
  CHECK(value(rows[1][1]) == 190000);
  const auto batches = data::packed_csv_dataset({path}, "price", options).batch(2).elements();
  REQUIRE(batches.size() == 2);
  CHECK(batches[0][0].sizes() == at::IntArrayRef{2, 2});
  CHECK(batches[0][1].equal(at::tensor({250000, 190000}, at::kLong)));
  // With a selection, the label's place is found among the selected columns.
  const auto selected = data::packed_csv_dataset({path}, "price", {.record_defaults = {{.dtype = at::kDouble}, {}},
                                                                   .header = true,
                                                                   .select_cols = {1, 2}})
                            .elements();
  CHECK(selected[0][0].equal(at::tensor({80.5f})));
  CHECK(value(selected[0][1]) == 250000);
  CHECK_THROWS_WITH(data::packed_csv_dataset({path}, "floor", options), Contains("'floor' is not a column of '" + path + "'"));
  CHECK_THROWS_WITH(data::packed_csv_dataset({path}, "price", {.record_defaults = {{}, {}, {}}}),
                    Contains("needs header = true"));
}

TEST_CASE("packed_csv_dataset batches train a model as the same values given as tensors do", "[data][readers]") {
  TempDir dir("fit");
  const std::string path = dir.file("xy.csv",
                                    "a,b,y\n1,2,0.5\n-1,0.5,1.5\n3,-2,-1\n0,1,2\n2,2,0.25\n-3,1,3\n0.5,0.5,0\n4,-1,-2\n");
  const at::Tensor x = at::tensor(std::vector<float>{1, 2, -1, 0.5, 3, -2, 0, 1, 2, 2, -3, 1, 0.5, 0.5, 4, -1}).reshape({8, 2});
  const at::Tensor y = at::tensor(std::vector<float>{0.5, 1.5, -1, 2, 0.25, 3, 0, -2}).reshape({8, 1});
  const auto fresh = [] {
    set_random_seed(3);
    auto model = std::make_shared<Sequential>(std::vector<LayerRef>{layers::Input({2}), layers::Dense(1)});
    model->compile({.optimizer = "sgd", .loss = "mse"});
    return model;
  };
  auto on_tensors = fresh(), on_csv = fresh();
  on_tensors->fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .shuffle = false});
  // The label comes out as a scalar per row: batches of [4] meet the model's [4, 1] as Keras' losses match ranks.
  const auto csv = data::packed_csv_dataset({path}, "y", {.record_defaults = {{}, {}, {}}, .header = true}).batch(4);
  on_csv->fit(csv, {.epochs = 2, .verbose = 0});
  const auto wa = on_tensors->get_weights(), wb = on_csv->get_weights();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) CHECK(wa[i].allclose(wb[i], 1e-6, 1e-6));
}

namespace {

std::string png_of(const std::vector<uint8_t>& pixels, int64_t width, int64_t height, int channels) {
  return tensorboard::encode_png(pixels.data(), width, height, channels);
}

std::string jpeg_of(const std::vector<uint8_t>& rgb, int width, int height) {
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = width;
  info.image_height = height;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 100, TRUE);
  info.comp_info[0].h_samp_factor = info.comp_info[0].v_samp_factor = 1;  // no chroma subsampling
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(rgb.data()) + info.next_scanline * width * 3;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string bytes(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  return bytes;
}

// A 4x6 RGB image whose pixel (y, x) is (base + y, base + 10 x, 200 - base): every file is told apart by base.
std::vector<uint8_t> test_pixels(int base) {
  std::vector<uint8_t> pixels;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x)
      for (uint8_t v : {uint8_t(base + y), uint8_t(base + 10 * x), uint8_t(200 - base)}) pixels.push_back(v);
  return pixels;
}

at::Tensor as_tensor(const std::vector<uint8_t>& pixels, int64_t height, int64_t width, int64_t channels) {
  return at::tensor(std::vector<int64_t>(pixels.begin(), pixels.end())).reshape({height, width, channels}).to(at::kFloat);
}

// cats: a.png (base 10), b.png (20), sub/c.png (30); dogs: x.jpg (smooth, base 40), y.png (50); plus a hidden folder
// and a text file that are not read.
struct ImageTree {
  TempDir dir{"images"};
  ImageTree() {
    dir.file("cats/b.png", png_of(test_pixels(20), 6, 4, 3));
    dir.file("cats/a.png", png_of(test_pixels(10), 6, 4, 3));
    dir.file("cats/sub/c.png", png_of(test_pixels(30), 6, 4, 3));
    dir.file("dogs/x.jpg", jpeg_of(test_pixels(40), 6, 4));
    dir.file("dogs/y.png", png_of(test_pixels(50), 6, 4, 3));
    dir.file(".hidden/z.png", png_of(test_pixels(60), 6, 4, 3));
    dir.file("dogs/notes.txt", "not an image");
  }
  std::string root() const { return dir.path.string(); }
};

// The first red value identifies the file (its base, a multiple of 10; the JPEG's may be off by a little).
int base_of(const at::Tensor& image) { return 10 * static_cast<int>(std::lround(image[0][0][0].item<double>() / 10)); }

}  // namespace

TEST_CASE("image_dataset_from_directory labels sorted class folders and decodes PNG and JPEG", "[data][readers]") {
  ImageTree tree;
  CHECK(data::image_directory_class_names(tree.root()) == std::vector<std::string>{"cats", "dogs"});
  const data::ImageDatasetOptions unshuffled{.batch_size = 0, .image_size = {4, 6}, .shuffle = false, .verbose = false};
  const auto dataset = data::image_dataset_from_directory(tree.root(), unshuffled);
  CHECK(dataset.cardinality() == 5);
  const auto elements = dataset.elements();
  REQUIRE(elements.size() == 5);
  const int bases[5] = {10, 20, 30, 40, 50};
  const int labels[5] = {0, 0, 0, 1, 1};
  for (size_t i = 0; i < 5; ++i) {
    REQUIRE(elements[i].size() == 2);
    const at::Tensor& image = elements[i][0];
    CHECK(image.scalar_type() == at::kFloat);
    CHECK(image.sizes() == at::IntArrayRef{4, 6, 3});
    const at::Tensor expected = as_tensor(test_pixels(bases[i]), 4, 6, 3);
    if (i == 3) CHECK((image - expected).abs().max().item<double>() <= 3.0);  // JPEG at quality 100
    else CHECK(image.equal(expected));                                         // PNG: exact
    CHECK(elements[i][1].scalar_type() == at::kInt);
    CHECK(elements[i][1].dim() == 0);
    CHECK(elements[i][1].item<int>() == labels[i]);
  }

  auto categorical = unshuffled;
  categorical.label_mode = "categorical";
  const auto one_hot = data::image_dataset_from_directory(tree.root(), categorical).elements();
  CHECK(one_hot[0][1].equal(at::tensor({1.0f, 0.0f})));
  CHECK(one_hot[4][1].equal(at::tensor({0.0f, 1.0f})));
  auto binary = unshuffled;
  binary.label_mode = "binary";
  const auto binary_labels = data::image_dataset_from_directory(tree.root(), binary).elements();
  CHECK(binary_labels[2][1].equal(at::tensor({0.0f})));
  CHECK(binary_labels[3][1].equal(at::tensor({1.0f})));
  auto no_labels = unshuffled;
  no_labels.label_mode = "";
  CHECK(data::image_dataset_from_directory(tree.root(), no_labels).elements()[0].size() == 1);
  // labels = "": every image below the directory (hidden folders included, as os.walk does), sorted by folder.
  auto unlabeled = no_labels;
  unlabeled.labels = "";
  const auto all = data::image_dataset_from_directory(tree.root(), unlabeled).elements();
  REQUIRE(all.size() == 6);
  CHECK(base_of(all[0][0]) == 60);  // .hidden sorts first
  // class_names picks and orders the classes.
  auto dogs_first = unshuffled;
  dogs_first.class_names = {"dogs", "cats"};
  const auto reordered = data::image_dataset_from_directory(tree.root(), dogs_first).elements();
  CHECK(base_of(reordered[0][0]) == 40);
  CHECK(reordered[0][1].item<int>() == 0);
  CHECK(reordered[4][1].item<int>() == 1);

  // Colour modes: grayscale with the 0.299/0.587/0.114 weights, rgba with an opaque alpha.
  auto gray = unshuffled;
  gray.color_mode = "grayscale";
  const at::Tensor gray_image = data::image_dataset_from_directory(tree.root(), gray).elements()[0][0];
  REQUIRE(gray_image.sizes() == at::IntArrayRef{4, 6, 1});
  const at::Tensor rgb = as_tensor(test_pixels(10), 4, 6, 3);
  const at::Tensor luma = (rgb.select(2, 0) * 0.299 + rgb.select(2, 1) * 0.587 + rgb.select(2, 2) * 0.114).unsqueeze(2);
  CHECK((gray_image - luma).abs().max().item<double>() <= 1.5);  // libpng truncates
  auto rgba = unshuffled;
  rgba.color_mode = "rgba";
  const auto rgba_elements = data::image_dataset_from_directory(tree.root(), rgba).elements();
  for (size_t i : {size_t{0}, size_t{3}}) {
    REQUIRE(rgba_elements[i][0].sizes() == at::IntArrayRef{4, 6, 4});
    CHECK(rgba_elements[i][0].select(2, 3).eq(255).all().item<bool>());
  }

  // Batches of two, the last one short, as batch() does.
  auto batched = unshuffled;
  batched.batch_size = 2;
  const auto batches = data::image_dataset_from_directory(tree.root(), batched);
  CHECK(batches.cardinality() == 3);
  const auto batch_elements = batches.elements();
  CHECK(batch_elements[0][0].sizes() == at::IntArrayRef{2, 4, 6, 3});
  CHECK(batch_elements[2][0].sizes() == at::IntArrayRef{1, 4, 6, 3});
  CHECK(batch_elements[1][1].equal(at::tensor({0, 1}, at::kInt)));
}

TEST_CASE("resize_image matches tf.image.resize's half-pixel bilinear and Keras' smart_resize", "[data][readers]") {
  // 2 -> 4 samples at source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  const double p[2][2] = {{0, 100}, {200, 40}};
  const double w[4] = {0, 0.25, 0.75, 1};
  const at::Tensor small = at::tensor({0.0f, 100.0f, 200.0f, 40.0f}).reshape({2, 2, 1});
  const at::Tensor up = data::resize_image(small, {4, 4});
  REQUIRE(up.sizes() == at::IntArrayRef{4, 4, 1});
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const double expected = (1 - w[i]) * (1 - w[j]) * p[0][0] + (1 - w[i]) * w[j] * p[0][1] +
                              w[i] * (1 - w[j]) * p[1][0] + w[i] * w[j] * p[1][1];
      CHECK(up[i][j][0].item<double>() == Approx(expected).margin(1e-4));
    }
  // 4 -> 2 samples at 0.5 and 2.5: the mean of each pair, without antialiasing.
  const at::Tensor row = at::tensor({0.0f, 10.0f, 20.0f, 30.0f}).reshape({1, 4, 1});
  CHECK(data::resize_image(row, {1, 2}).flatten().equal(at::tensor({5.0f, 25.0f})));
  // Nearest with half-pixel centres: 4 -> 2 takes source pixels floor(0.5 * 2) = 1 and floor(1.5 * 2) = 3.
  CHECK(data::resize_image(row, {1, 2}, "nearest").flatten().equal(at::tensor({10.0f, 30.0f})));
  // smart_resize: a 4x6 image to 2x2 crops the centred 4x4 window (columns 1..4), then halves it.
  const at::Tensor image = at::arange(24, at::kFloat).reshape({4, 6, 1});
  const at::Tensor cropped = data::resize_image(image, {2, 2}, "bilinear", true);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      CHECK(cropped[i][j][0].item<double>() ==
            Approx(image.slice(0, 2 * i, 2 * i + 2).slice(1, 1 + 2 * j, 3 + 2 * j).mean().item<double>()));
  CHECK_THROWS_WITH(data::resize_image(image, {2, 2}, "bicubic"), Contains("\"bilinear\" or \"nearest\""));

  // Through the directory reader: a 2x2 gray PNG read as RGB at 4x4.
  TempDir dir("resize");
  dir.file("only/p.png", png_of({0, 100, 200, 40}, 2, 2, 1));
  const auto resized = data::image_dataset_from_directory(dir.path.string(), {.batch_size = 0, .image_size = {4, 4},
                                                                              .shuffle = false, .verbose = false})
                           .elements();
  REQUIRE(resized[0][0].sizes() == at::IntArrayRef{4, 4, 3});
  CHECK(resized[0][0].select(2, 1).allclose(up.select(2, 0), 0, 1e-4));
}

TEST_CASE("image_dataset_from_directory shuffles with the seed and splits training and validation", "[data][readers]") {
  ImageTree tree;
  const data::ImageDatasetOptions split{.batch_size = -1, .image_size = {4, 6}, .seed = 7, .validation_split = 0.4,
                                        .subset = "both", .verbose = false};
  const auto [train, val] = data::image_dataset_from_directory_both(tree.root(), split);
  CHECK(train.cardinality() == 3);  // int(0.4 * 5) = 2 for validation
  CHECK(val.cardinality() == 2);
  std::multiset<int> seen;
  std::vector<int> train_order;
  for (const auto& element : train.elements()) {
    train_order.push_back(base_of(element[0]));
    seen.insert(base_of(element[0]));
    CHECK(element[1].item<int>() == (base_of(element[0]) >= 40 ? 1 : 0));  // labels follow their files
  }
  std::vector<int> val_order;
  for (const auto& element : val.elements()) {
    val_order.push_back(base_of(element[0]));
    seen.insert(base_of(element[0]));
  }
  CHECK(seen == std::multiset<int>{10, 20, 30, 40, 50});  // disjoint and covering
  // Keras' split for seed 7: np.random.RandomState(7).shuffle(list(range(5))) gives [0, 3, 2, 1, 4].
  CHECK(train_order == std::vector<int>{10, 40, 30});
  CHECK(val_order == std::vector<int>{20, 50});
  // The same seed gives the same subsets through the single-subset call.
  auto training = split;
  training.subset = "training";
  std::vector<int> again;
  for (const auto& element : data::image_dataset_from_directory(tree.root(), training).elements())
    again.push_back(base_of(element[0]));
  CHECK(again == train_order);

  auto no_seed = split;
  no_seed.seed = std::nullopt;
  CHECK_THROWS_WITH(data::image_dataset_from_directory_both(tree.root(), no_seed), Contains("give a seed"));
  auto no_subset = split;
  no_subset.subset = "";
  CHECK_THROWS_WITH(data::image_dataset_from_directory(tree.root(), no_subset), Contains("validation_split must be set"));
  CHECK_THROWS_WITH(data::image_dataset_from_directory(tree.root(), split), Contains("image_dataset_from_directory_both"));
}

TEST_CASE("image_dataset_from_directory reports bad directories and corrupt files", "[data][readers]") {
  TempDir dir("corrupt");
  const std::string good = png_of(test_pixels(10), 6, 4, 3);
  dir.file("a/good.png", good);
  const std::string broken = dir.file("a/broken.png", good.substr(0, good.size() / 2));
  const data::ImageDatasetOptions options{.batch_size = 0, .shuffle = false, .verbose = false};
  auto iterator = data::image_dataset_from_directory(dir.path.string(), options).make_iterator();
  try {
    iterator->next();  // broken.png sorts first
    FAIL("a truncated PNG decoded");
  } catch (const IOError& error) {
    CHECK_THAT(error.what(), Contains("'" + broken + "' is not a valid PNG"));
  }
  const std::string jpeg = jpeg_of(test_pixels(10), 6, 4);
  const std::string cut = dir.file("cut.jpg", jpeg.substr(0, jpeg.size() / 2));
  CHECK_THROWS_AS(data::read_image(cut, 3), IOError);
  CHECK_THROWS_WITH(data::read_image(cut, 3), Contains("'" + cut + "' is not a valid JPEG"));
  const std::string text = dir.file("text.png", "hello");
  CHECK_THROWS_WITH(data::read_image(text, 3), Contains("'" + text + "' is neither a PNG nor a JPEG"));
  CHECK_THROWS_AS(data::read_image((dir.path / "none.png").string(), 3), IOError);

  CHECK_THROWS_WITH(data::image_dataset_from_directory(dir.path.string(), {.label_mode = "binary", .verbose = false}),
                    Contains("exactly 2 classes, got 1"));
  CHECK_THROWS_WITH(data::image_dataset_from_directory(dir.path.string(), {.class_names = {"b"}, .verbose = false}),
                    Contains("'b', which is not a sub-folder"));
  CHECK_THROWS_WITH(data::image_dataset_from_directory((dir.path / "nowhere").string(), {.verbose = false}),
                    Contains("is not a directory"));
  dir.file("empty/readme.txt", "");
  CHECK_THROWS_WITH(data::image_dataset_from_directory((dir.path / "empty").string(), {.labels = "", .verbose = false}),
                    Contains("no images found"));
  dir.file("a/old.bmp", "BM");
  CHECK_THROWS_WITH(data::image_dataset_from_directory(dir.path.string(), {.verbose = false}),
                    Contains("old.bmp': BMP and GIF images are not supported"));
  CHECK_THROWS_WITH(data::image_dataset_from_directory(dir.path.string(), {.image_size = {0, 3}, .verbose = false}),
                    Contains("image_size must be two positive numbers"));
}
