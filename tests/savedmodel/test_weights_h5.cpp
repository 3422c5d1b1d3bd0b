// save_weights / load_weights: round trips in both layouts give identical predictions in a freshly built model;
// legacy order/by_name/skip_mismatch matching; every failure (bad name, unbuilt model, missing, corrupt,
// truncated, foreign or mistyped file, mismatched model) is a strata::Error and leaves the model unchanged.

#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/savedmodel/hdf5.h>
#include <strata/savedmodel/legacy_weights.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../support/tensor_checks.h"
#include "temp_dir.h"
#include "weights_models.h"

using namespace strata;
using strata::test_support::expect_error;
using strata::test_support::TempDir;

namespace {

bool same_weights(const Model& model, const std::vector<at::Tensor>& weights) {
  const auto now = model.get_weights();
  if (now.size() != weights.size()) return false;
  for (size_t i = 0; i < now.size(); ++i)
    if (!at::equal(now[i], weights[i])) return false;
  return true;
}

// Saves `make()`'s model in `file`, loads it into a second, freshly built one and compares predictions.
void check_round_trip(const std::function<std::shared_ptr<Model>()>& make, const at::Tensor& x, const std::string& file) {
  auto source = make();
  test_support::randomize(*source, 1);
  source->save_weights(file);
  auto target = make();
  test_support::randomize(*target, 2);
  const at::Tensor before = target->predict(x, {.verbose = 0});
  target->load_weights(file);
  const at::Tensor expected = source->predict(x, {.verbose = 0});
  CHECK_FALSE(at::equal(before, expected));
  CHECK(at::equal(target->predict(x, {.verbose = 0}), expected));
  CHECK(same_weights(*target, source->get_weights()));
}

std::shared_ptr<Model> two_dense(int64_t first_units, const std::string& first, const std::string& second) {
  return std::make_shared<Sequential>(std::vector<LayerRef>{
      Input({4}), layers::Dense(first_units, {.name = first}), layers::Dense(2, {.name = second})});
}

}  // namespace

TEST_CASE("save_weights/load_weights round trip in both layouts: identical predictions", "[savedmodel][roundtrip]") {
  TempDir dir;
  const at::Tensor sequences = at::randn({2, 6, 4});
  const at::Tensor images = at::randn({2, 8, 8, 3});
  const at::Tensor tokens = at::randint(0, 10, {3, 5}, at::kInt);
  for (const std::string suffix : {".weights.h5", ".h5"}) {
    INFO("suffix " << suffix);
    check_round_trip(test_support::recurrent_zoo, sequences, dir.file("zoo" + suffix));
    check_round_trip(test_support::conv_stack, images, dir.file("conv" + suffix));
    check_round_trip(test_support::embedding_stack, tokens, dir.file("emb" + suffix));
  }
  // Saving again replaces the file, leaving no temporary file beside it.
  auto model = test_support::conv_stack();
  model->save_weights(dir.file("conv.h5"));
  model->save_weights(dir.file("conv.h5"));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("load_weights reads a whole-model legacy file's model_weights group", "[savedmodel][legacy]") {
  TempDir dir;
  auto source = test_support::conv_stack();
  test_support::randomize(*source, 3);
  {
    auto file = h5::File::create(dir.file("model.h5"));
    file.set_string_attribute("model_config", "{}", h5::StringType::fixed_ascii);
    auto group = file.create_group("model_weights");
    savedmodel::write_legacy_weights(group, *source);
  }
  auto target = test_support::conv_stack();
  target->load_weights(dir.file("model.h5"));
  CHECK(same_weights(*target, source->get_weights()));
}

TEST_CASE("legacy load_weights: by_name and skip_mismatch, every mismatch named", "[savedmodel][legacy]") {
  TempDir dir;
  const std::string path = dir.file("ab.h5");
  auto source = two_dense(3, "a", "b");
  test_support::randomize(*source, 4);
  source->save_weights(path);
  const auto saved = source->get_weights();

  SECTION("by_name loads the layers whose names match and leaves the others") {
    auto target = two_dense(3, "c", "b");
    const auto before = target->get_weights();
    target->load_weights(path, {.by_name = true});
    const auto after = target->get_weights();
    CHECK(at::equal(after[0], before[0]));
    CHECK(at::equal(after[2], saved[2]));
    CHECK(at::equal(after[3], saved[3]));
  }
  SECTION("a shape mismatch names the layer, the weight and both shapes; the model is unchanged") {
    auto target = two_dense(5, "a", "b");
    const auto before = target->get_weights();
    expect_error<ValueError>([&] { target->load_weights(path); },
                             {"ab.h5", "'a'", "a/kernel:0", "expected shape [4, 5], got [4, 3]", "a/bias:0",
                              "b/kernel:0", "expected shape [5, 2], got [3, 2]", "unchanged"});
    CHECK(same_weights(*target, before));
    expect_error<ValueError>([&] { target->load_weights(path, {.by_name = true}); }, {"'a'", "expected shape [4, 5]"});
    CHECK(same_weights(*target, before));
  }
  SECTION("skip_mismatch skips the mismatched layers and loads the rest") {
    auto target = std::make_shared<Sequential>(
        std::vector<LayerRef>{Input({4}), layers::Dense(3, {.name = "a"}), layers::Dense(7, {.name = "b"})});
    const auto before = target->get_weights();
    target->load_weights(path, {.skip_mismatch = true});
    const auto after = target->get_weights();
    CHECK(at::equal(after[0], saved[0]));
    CHECK(at::equal(after[1], saved[1]));
    CHECK(at::equal(after[2], before[2]));
  }
  SECTION("order-based loading needs as many layers with weights as the file has") {
    auto target = std::make_shared<Sequential>(std::vector<LayerRef>{Input({4}), layers::Dense(3, {.name = "a"})});
    const auto before = target->get_weights();
    expect_error<ValueError>([&] { target->load_weights(path); },
                             {"Layer count mismatch", "ab.h5", "1 layers with weights [a]", "the file has 2 [a, b]"});
    CHECK(same_weights(*target, before));
  }
  SECTION("a weight count mismatch lists both sides' weight names") {
    auto target = std::make_shared<Sequential>(std::vector<LayerRef>{
        Input({4}), layers::Dense(3, {.use_bias = false, .name = "a"}), layers::Dense(2, {.name = "b"})});
    expect_error<ValueError>([&] { target->load_weights(path); },
                             {"expected 1 weights [a/kernel:0]", "the file has 2 [a/kernel:0, a/bias:0]"});
  }
}

TEST_CASE("Keras 3 load_weights: structure mismatches are named by path; skip_mismatch; no by_name",
          "[savedmodel][keras3]") {
  TempDir dir;
  const std::string path = dir.file("ab.weights.h5");
  auto source = two_dense(3, "a", "b");
  test_support::randomize(*source, 5);
  source->save_weights(path);
  auto target = two_dense(5, "a", "b");
  const auto before = target->get_weights();
  expect_error<ValueError>([&] { target->load_weights(path); },
                           {"ab.weights.h5", "'/layers/dense/vars' (a), variable 0 'kernel': expected shape [4, 5], got [4, 3]",
                            "'/layers/dense_1/vars' (b), variable 0 'kernel': expected shape [5, 2], got [3, 2]"});
  CHECK(same_weights(*target, before));
  expect_error<ValueError>([&] { target->load_weights(path, {.by_name = true}); }, {"by_name", "Keras 3"});
  auto partly = std::make_shared<Sequential>(
      std::vector<LayerRef>{Input({4}), layers::Dense(3, {.name = "a"}), layers::Dense(7, {.name = "b"})});
  const auto partly_before = partly->get_weights();
  partly->load_weights(path, {.skip_mismatch = true});
  CHECK(at::equal(partly->get_weights()[0], source->get_weights()[0]));
  CHECK(at::equal(partly->get_weights()[2], partly_before[2]));
  // A layer whose variables are missing from the file, as Keras: "expected N variables".
  auto longer = std::make_shared<Sequential>(std::vector<LayerRef>{
      Input({4}), layers::Dense(3, {.name = "a"}), layers::Dense(2, {.name = "b"}), layers::Dense(2, {.name = "c"})});
  const auto longer_before = longer->get_weights();
  expect_error<ValueError>([&] { longer->load_weights(path); },
                           {"'/layers/dense_2/vars' (c): expected 2 variables [kernel, bias], the file has 0"});
  CHECK(same_weights(*longer, longer_before));
}

TEST_CASE("save_weights/load_weights reject bad names, unbuilt models and bad files, leaving the model unchanged",
          "[savedmodel][errors]") {
  TempDir dir;
  auto model = two_dense(3, "a", "b");
  test_support::randomize(*model, 6);
  const auto before = model->get_weights();
  expect_error<ValueError>([&] { model->save_weights(dir.file("w.txt")); }, {"w.txt", ".weights.h5", ".h5"});
  Sequential unbuilt({layers::Dense(2)});
  expect_error<StateError>([&] { unbuilt.save_weights(dir.file("u.h5")); }, {"built", "u.h5"});
  expect_error<StateError>([&] { unbuilt.load_weights(dir.file("u.h5")); }, {"built", "u.h5"});

  auto expect_load_error = [&](const std::string& file, std::vector<std::string> fragments) {
    fragments.push_back(file);
    expect_error<Error>([&] { model->load_weights(file); }, fragments);
    CHECK(same_weights(*model, before));
  };
  expect_load_error(dir.file("missing.h5"), {"No such file"});

  std::ofstream(dir.file("text.h5")) << "{\"not\": \"hdf5\"}";
  expect_load_error(dir.file("text.h5"), {"not an HDF5 file"});

  std::vector<char> noise(4096);
  std::mt19937 random(7);
  for (auto& c : noise) c = static_cast<char>(random());
  std::ofstream(dir.file("noise.h5"), std::ios::binary).write(noise.data(), noise.size());
  expect_load_error(dir.file("noise.h5"), {"not an HDF5 file"});

  for (const std::string suffix : {".h5", ".weights.h5"}) {
    const std::string good = dir.file("good" + suffix);
    two_dense(3, "a", "b")->save_weights(good);
    const auto size = std::filesystem::file_size(good);
    for (const auto keep : {size / 2, size - 100, size_t{600}}) {
      INFO("truncated to " << keep << " of " << size);
      const std::string cut = dir.file("cut" + suffix);
      std::filesystem::copy_file(good, cut, std::filesystem::copy_options::overwrite_existing);
      std::filesystem::resize_file(cut, keep);
      expect_error<Error>([&] { model->load_weights(cut); }, {cut});
      CHECK(same_weights(*model, before));
    }
  }

  {
    auto other = h5::File::create(dir.file("other.h5"));
    other.write_dataset("images/0", at::zeros({2, 2}));
  }
  expect_load_error(dir.file("other.h5"), {"holds no Keras weights", "found [images]"});

  // A legacy file whose kernel holds integers, and one whose layer group is missing.
  auto write_legacy = [&](const std::string& file, bool integer_kernel, bool drop_b) {
    auto f = h5::File::create(file);
    f.set_string_list_attribute("layer_names", {"a", "b"});
    f.set_string_attribute("keras_version", "2.15.0");
    for (const auto& layer : {std::string("a"), std::string("b")}) {
      if (drop_b && layer == "b") continue;
      auto g = f.create_group(layer);
      const auto weights = savedmodel::legacy_layer_weights(*model->get_layer(layer));
      g.set_string_list_attribute("weight_names", {weights[0].first, weights[1].first});
      g.write_dataset(weights[0].first, integer_kernel ? weights[0].second.to(at::kInt) : weights[0].second);
      g.write_dataset(weights[1].first, weights[1].second);
    }
  };
  write_legacy(dir.file("int.h5"), true, false);
  expect_load_error(dir.file("int.h5"), {"a/kernel:0", "expected a floating-point array (Float), got Int"});
  write_legacy(dir.file("nob.h5"), false, true);
  expect_load_error(dir.file("nob.h5"), {"layer 'b' is listed in layer_names but has no group"});
}
