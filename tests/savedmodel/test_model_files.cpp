// Whole-model files (.h5 and .keras): what comes back predicts identically, is compiled as it was, and trains on
// to exactly the weights an uninterrupted run reaches.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <strata/strata.h>

#include <filesystem>
#include <fstream>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

std::string scratch_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "strata_model_files_test";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// Real images when Fashion-MNIST is installed (as CI installs it), otherwise a fixed random set.
std::pair<at::Tensor, at::Tensor> training_data() {
  if (std::filesystem::exists(STRATA_FASHION_MNIST_DIR)) {
    auto data = datasets::fashion_mnist::load(STRATA_FASHION_MNIST_DIR);
    return {data.x_train.narrow(0, 0, 640), data.y_train.narrow(0, 0, 640)};
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  return {at::rand({640, 28, 28}, gen), at::randint(10, {640}, gen, at::kLong)};
}

// Dense, BatchNormalization (moving statistics that change while training) and no random layers, so a seeded
// run is reproducible.
std::shared_ptr<Sequential> make_classifier() {
  auto model = std::make_shared<Sequential>(std::vector<LayerRef>{
      layers::Input({28, 28}), layers::Flatten(), layers::Dense(32, {.activation = "relu"}),
      layers::BatchNormalization(), layers::Dense(10)});
  model->compile({.optimizer = optimizers::Adam({.learning_rate = 3e-3}),
                  .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
                  .metrics = {"accuracy"}});
  return model;
}

void check_same_weights(const Model& a, const Model& b) {
  auto wa = a.get_weights(), wb = b.get_weights();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) {
    INFO("weight " << i);
    CHECK(at::equal(wa[i], wb[i]));
  }
}

}  // namespace

TEST_CASE("a whole-model file resumes training exactly where it stopped", "[savedmodel][model_file]") {
  auto [x, y] = training_data();
  const FitOptions base{.batch_size = 64, .verbose = 0};

  set_random_seed(11);
  auto uninterrupted = make_classifier();
  set_random_seed(12);
  auto opts = base;
  opts.epochs = 4;
  uninterrupted->fit(x, y, opts);

  for (const std::string suffix : {".h5", ".keras"}) {
    DYNAMIC_SECTION("format " << suffix) {
      set_random_seed(11);
      auto first = make_classifier();
      set_random_seed(12);
      opts.epochs = 2;
      first->fit(x, y, opts);
      const std::string path = scratch_path("resume" + suffix);
      first->save(path);

      auto resumed = models::load_model(path);
      REQUIRE(resumed->compiled());
      CHECK(resumed->optimizer().iterations() == first->optimizer().iterations());
      CHECK(resumed->optimizer().class_name() == "Adam");
      CHECK(resumed->optimizer().learning_rate() == Approx(3e-3));
      CHECK(at::equal(resumed->predict(x, {.verbose = 0}), first->predict(x, {.verbose = 0})));
      CHECK(resumed->metrics_names() == first->metrics_names());

      set_random_seed(12);
      opts.epochs = 4;
      opts.initial_epoch = 2;
      resumed->fit(x, y, opts);
      opts.initial_epoch = 0;
      check_same_weights(*resumed, *uninterrupted);
    }
  }
}

TEST_CASE("a functional model with two inputs and outputs survives save and load", "[savedmodel][model_file]") {
  set_random_seed(5);
  auto left = layers::Input({6}, {.name = "left"});
  auto right = layers::Input({6}, {.name = "right"});
  auto shared = share(layers::Dense(8, {.activation = "tanh", .name = "encoder"}));
  auto merged = layers::Concatenate()({(*shared)(left), (*shared)(right)});
  auto label = layers::Dense(3, {.name = "label"})(merged);
  auto flag = layers::Dense(1, {.activation = "sigmoid", .name = "flag"})(layers::Add()({(*shared)(left), (*shared)(right)}));
  Model model({left, right}, {label, flag}, "two_way");
  model.compile({.optimizer = "rmsprop",
                 .loss = std::map<std::string, losses::Spec>{{"label", "sparse_categorical_crossentropy"},
                                                             {"flag", "binary_crossentropy"}},
                 .metrics = std::map<std::string, std::vector<metrics::Spec>>{{"label", {"accuracy"}}},
                 .loss_weights = std::map<std::string, double>{{"label", 1.0}, {"flag", 0.5}}});
  at::Tensor a = at::randn({32, 6}), b = at::randn({32, 6});
  at::Tensor y_label = at::randint(3, {32}, at::kLong), y_flag = at::randint(2, {32, 1}).to(at::kFloat);
  model.fit(std::vector<at::Tensor>{a, b}, std::vector<at::Tensor>{y_label, y_flag}, {.epochs = 1, .verbose = 0});

  for (const std::string suffix : {".h5", ".keras"}) {
    DYNAMIC_SECTION("format " << suffix) {
      const std::string path = scratch_path("two_way" + suffix);
      model.save(path);
      auto loaded = models::load_model(path);
      CHECK(loaded->name() == "two_way");
      CHECK(loaded->input_names() == std::vector<std::string>{"left", "right"});
      CHECK(loaded->output_names() == std::vector<std::string>{"label", "flag"});
      auto expected = model.predict_outputs(std::vector<at::Tensor>{a, b}, {.verbose = 0});
      auto got = loaded->predict_outputs(std::vector<at::Tensor>{a, b}, {.verbose = 0});
      REQUIRE(got.size() == 2);
      CHECK(at::equal(got[0], expected[0]));
      CHECK(at::equal(got[1], expected[1]));
      // Same compiled losses, weights and metrics: evaluate gives the same logs.
      auto data_x = std::vector<at::Tensor>{a, b};
      auto data_y = std::vector<at::Tensor>{y_label, y_flag};
      Logs want = model.evaluate(data_x, data_y, {.verbose = 0});
      Logs have = loaded->evaluate(data_x, data_y, {.verbose = 0});
      REQUIRE(have.size() == want.size());
      for (const auto& [key, value] : want) CHECK(have.at(key) == Approx(value).epsilon(1e-6));
    }
  }
}

TEST_CASE("include_optimizer=false saves an uncompiled model", "[savedmodel][model_file]") {
  auto model = make_classifier();
  auto [x, y] = training_data();
  model->fit(x.narrow(0, 0, 64), y.narrow(0, 0, 64), {.epochs = 1, .verbose = 0});
  for (const std::string suffix : {".h5", ".keras"}) {
    const std::string path = scratch_path("bare" + suffix);
    model->save(path, {.include_optimizer = false});
    auto loaded = models::load_model(path);
    CHECK_FALSE(loaded->compiled());
    CHECK(at::equal(loaded->predict(x, {.verbose = 0}), model->predict(x, {.verbose = 0})));
    auto uncompiled = models::load_model(scratch_path("resume" + suffix), {.compile = false});
    CHECK_FALSE(uncompiled->compiled());
  }
}

TEST_CASE("bad model files are reported with the file name", "[savedmodel][model_file]") {
  auto model = make_classifier();
  const std::string text = scratch_path("notes.h5");
  std::ofstream(text) << "this is not a model";
  CHECK_THROWS_WITH(models::load_model(text), Contains("notes.h5") && Contains("neither"));
  CHECK_THROWS_WITH(models::load_model(scratch_path("missing.keras")), Contains("missing.keras"));
  CHECK_THROWS_WITH(model->save(scratch_path("model.txt")), Contains("model.txt") && Contains(".keras"));

  for (const std::string suffix : {".h5", ".keras"}) {
    const std::string good = scratch_path("good" + suffix);
    model->save(good);
    const auto size = std::filesystem::file_size(good);
    const std::string cut = scratch_path("cut" + suffix);
    std::filesystem::copy_file(good, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, size / 2);
    CHECK_THROWS_WITH(models::load_model(cut), Contains("cut" + suffix));
  }
  // A weights-only file is not a model file.
  const std::string weights = scratch_path("only.h5");
  model->save_weights(weights);
  CHECK_THROWS_WITH(models::load_model(weights), Contains("only.h5") && Contains("load_weights"));
}
