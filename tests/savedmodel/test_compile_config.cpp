// compile() arguments to and from the JSON Keras saves them as: Keras 3's compile_config and tf.keras 2's
// training_config. The Keras JSON below is copied from what Keras 3.15 (get_compile_config()) and tf.keras
// 2.15 (the training_config attribute of model.save("m.h5")) wrote for the same compile() calls.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/losses/regression.h>
#include <strata/metrics/accuracy.h>
#include <strata/models/model.h>
#include <strata/models/sequential.h>
#include <strata/optimizers/adam.h>
#include <strata/optimizers/sgd.h>
#include <strata/savedmodel/compile_config.h>

#include <catch2/catch.hpp>

using namespace strata;
using namespace strata::savedmodel;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

// keras.Model(x -> Dense(4) -> {a: Dense(2, softmax), b: Dense(1)}).compile(optimizer=Adam(1e-2),
//   loss={"a": "sparse_categorical_crossentropy", "b": Huber(delta=2.0)}, loss_weights={"a": 1.0, "b": 0.5},
//   metrics={"a": ["accuracy", SparseTopKCategoricalAccuracy(k=1)], "b": ["mae"]}, weighted_metrics={"b": ["mse"]})
const char* kKeras3TwoHeads = R"({"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {
  "name": "adam", "learning_rate": 0.009999999776482582, "weight_decay": null, "clipnorm": null,
  "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null,
  "loss_scale_factor": null, "gradient_accumulation_steps": null, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
  "amsgrad": false}, "registered_name": null}, "loss": {"a": "sparse_categorical_crossentropy", "b": {"module":
  "keras.losses", "class_name": "Huber", "config": {"name": "huber_loss", "reduction": "sum_over_batch_size"},
  "registered_name": null}}, "loss_weights": {"a": 1.0, "b": 0.5}, "metrics": {"a": ["accuracy", {"module":
  "keras.metrics", "class_name": "SparseTopKCategoricalAccuracy", "config": {"name": "sparse_top_k_categorical_accuracy",
  "dtype": "float32", "k": 1}, "registered_name": null}], "b": ["mae"]}, "weighted_metrics": {"b": ["mse"]},
  "run_eagerly": false, "steps_per_execution": 1, "jit_compile": true})";

// The same compile() in tf.keras 2.15.
const char* kKeras2TwoHeads = R"({"loss": {"a": "sparse_categorical_crossentropy", "b": {"class_name": "Huber",
  "config": {"reduction": "auto", "name": "huber_loss", "delta": 2.0, "fn": "huber"}}}, "metrics": [[{"class_name":
  "MeanMetricWrapper", "config": {"name": "a_accuracy", "dtype": "float32", "fn": "sparse_categorical_accuracy"}},
  {"class_name": "SparseTopKCategoricalAccuracy", "config": {"name": "a_sparse_top_k_categorical_accuracy",
  "dtype": "float32", "k": 1}}], [{"class_name": "MeanMetricWrapper", "config": {"name": "b_mae", "dtype": "float32",
  "fn": "mean_absolute_error"}}]], "weighted_metrics": [[null], [{"class_name": "MeanMetricWrapper", "config":
  {"name": "b_mse", "dtype": "float32", "fn": "mean_squared_error"}}]], "loss_weights": {"a": 1.0, "b": 0.5},
  "optimizer_config": {"class_name": "Custom>Adam", "config": {"name": "Adam", "weight_decay": null, "clipnorm": null,
  "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null,
  "jit_compile": false, "is_legacy_optimizer": false, "learning_rate": 0.009999999776482582, "beta_1": 0.9,
  "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}}})";

std::shared_ptr<Model> two_heads() {
  set_random_seed(5);
  auto x = Input({3}, {.name = "x"});
  auto h = layers::Dense(4)(x);
  auto a = layers::Dense(2, {.activation = "softmax", .name = "a"})(h);
  auto b = layers::Dense(1, {.name = "b"})(h);
  return std::make_shared<Model>(std::vector<SymbolicTensor>{x}, std::vector<SymbolicTensor>{a, b}, "two_heads");
}

std::vector<std::string> names_of(const std::vector<metrics::Spec>& list) {
  std::vector<std::string> out;
  for (const auto& m : list) out.push_back(m.is_name() ? m.name() : "<" + m.metric()->name() + ">");
  return out;
}

// Compiles `model` with `options` and runs one batch, returning the logged names.
std::vector<std::string> logged_names(Model& model, CompileOptions options) {
  model.compile(std::move(options));
  const at::Tensor x = at::rand({4, 3});
  const at::Tensor labels = at::tensor({0, 1, 1, 0}, at::kLong);
  const at::Tensor y = at::rand({4, 1});
  model.train_on_batch(x, std::vector<at::Tensor>{labels, y}, std::vector<at::Tensor>{at::ones({4}), at::ones({4})});
  return model.metrics_names();
}

}  // namespace

TEST_CASE("Keras 3's compile_config builds the same compile()", "[serialization][compile_config]") {
  const CompileOptions options = from_compile_config(json::parse(kKeras3TwoHeads));
  CHECK(options.optimizer->class_name() == "Adam");
  CHECK(options.optimizer->learning_rate() == Approx(0.01));
  REQUIRE(options.loss.by_name().size() == 2);
  CHECK(options.loss.by_name().at("a").identifier() == "sparse_categorical_crossentropy");
  CHECK(options.loss.by_name().at("b")->class_name() == "Huber");
  CHECK(options.loss_weights.by_name() == std::map<std::string, double>{{"a", 1.0}, {"b", 0.5}});
  CHECK(names_of(options.metrics.by_name().at("a")) ==
        std::vector<std::string>{"accuracy", "<sparse_top_k_categorical_accuracy>"});
  CHECK(names_of(options.weighted_metrics.by_name().at("b")) == std::vector<std::string>{"mse"});
  auto model = two_heads();
  CHECK(logged_names(*model, options) ==
        std::vector<std::string>{"loss", "a_loss", "b_loss", "a_accuracy", "a_sparse_top_k_categorical_accuracy",
                                 "b_mae", "b_mse"});
  // Written back, everything but the optimizer's name and jit_compile matches what Keras wrote.
  json written = to_compile_config(model->compile_options());
  json keras = json::parse(kKeras3TwoHeads);
  CHECK(written.at("loss").at("a") == keras.at("loss").at("a"));
  CHECK(written.at("loss").at("b").at("class_name") == "Huber");
  for (const char* key : {"loss_weights", "weighted_metrics", "run_eagerly", "steps_per_execution"})
    CHECK(written.at(key) == keras.at(key));
  CHECK(written.at("metrics").at("a").at(0) == "accuracy");
  // Strata's config also holds from_sorted_ids (false), which Keras 3.15 leaves out.
  json top_k = written.at("metrics").at("a").at(1);
  top_k["config"].erase("from_sorted_ids");
  CHECK(top_k == keras.at("metrics").at("a").at(1));
  CHECK(written.at("optimizer").at("module") == "keras.optimizers");
  CHECK(written.at("optimizer").at("config").at("beta_2") == 0.999);
}

TEST_CASE("tf.keras 2's training_config builds the same compile()", "[serialization][compile_config]") {
  const CompileOptions options = from_training_config(json::parse(kKeras2TwoHeads), {"a", "b"});
  CHECK(options.optimizer->class_name() == "Adam");
  CHECK(options.loss.by_name().at("b")->get_config().at("delta") == 2.0);
  // tf.keras 2 saves metrics by output position, named after their output: the prefixes go, names come back.
  REQUIRE(options.metrics.by_position().size() == 2);
  CHECK(names_of(options.metrics.by_position()[0]) ==
        std::vector<std::string>{"accuracy", "<sparse_top_k_categorical_accuracy>"});
  CHECK(names_of(options.metrics.by_position()[1]) == std::vector<std::string>{"mae"});
  CHECK(options.weighted_metrics.by_position()[0].empty());
  CHECK(names_of(options.weighted_metrics.by_position()[1]) == std::vector<std::string>{"mse"});
  auto model = two_heads();
  CHECK(logged_names(*model, options) ==
        std::vector<std::string>{"loss", "a_loss", "b_loss", "a_accuracy", "a_sparse_top_k_categorical_accuracy",
                                 "b_mae", "b_mse"});
  const json written = to_training_config(model->compile_options());
  CHECK(written.at("optimizer_config").at("class_name") == "Adam");
  CHECK_FALSE(written.at("optimizer_config").at("config").contains("loss_scale_factor"));
  CHECK(written.at("loss_weights") == json::parse(kKeras2TwoHeads).at("loss_weights"));
}

TEST_CASE("every per-output form survives both dialects", "[serialization][compile_config]") {
  std::vector<CompileOptions> cases;
  cases.push_back({.optimizer = optimizers::SGD({.learning_rate = 0.1, .momentum = 0.9}),
                   .loss = "mse",
                   .metrics = {"mae", "accuracy"}});
  cases.push_back({.optimizer = "adam",
                   .loss = {"sparse_categorical_crossentropy", losses::MeanSquaredError({.name = "sq"})},
                   .metrics = std::vector<std::vector<metrics::Spec>>{{"accuracy"}, {"mae", "mse"}},
                   .loss_weights = {1.0, 0.3},
                   .weighted_metrics = std::vector<std::vector<metrics::Spec>>{{metrics::BinaryAccuracy("ba", 0.3)}, {}}});
  cases.push_back({.optimizer = "rmsprop",
                   .loss = {{"a", losses::Spec("sparse_categorical_crossentropy")}, {"b", losses::Spec("mae")}},
                   .metrics = {{"a", {"accuracy"}}, {"b", {"mae"}}},
                   .loss_weights = {{"b", 2.0}}});
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    const json keras3 = to_compile_config(cases[i]);
    CHECK(to_compile_config(from_compile_config(keras3)) == keras3);
    const json keras2 = to_training_config(cases[i]);
    CHECK(to_training_config(from_training_config(keras2, {"a", "b"})) == keras2);
  }
  // The forms as Keras writes them (copied from Keras 3.15's get_compile_config()).
  const json every = to_compile_config(cases[0]);
  CHECK(every.at("loss") == "mse");
  CHECK(every.at("metrics") == json::parse(R"(["mae", "accuracy"])"));
  CHECK(every.at("loss_weights").is_null());
  CHECK(every.at("weighted_metrics").is_null());
  const json by_position = to_compile_config(cases[1]);
  CHECK(by_position.at("loss").at(0) == "sparse_categorical_crossentropy");
  CHECK(by_position.at("loss").at(1).at("config").at("name") == "sq");
  CHECK(by_position.at("loss_weights") == json::parse("[1.0, 0.3]"));
  CHECK(by_position.at("metrics") == json::parse(R"([["accuracy"], ["mae", "mse"]])"));
  CHECK(by_position.at("weighted_metrics").at(0).at(0).at("config").at("threshold") == 0.3);
}

TEST_CASE("the model remembers what compile() was given", "[serialization][compile_config]") {
  Sequential model({layers::Input({2}), layers::Dense(1)});
  CHECK_THROWS_AS(model.compile_options(), StateError);
  model.compile({.optimizer = "sgd", .loss = "mae", .metrics = {"mse"}});
  CHECK(model.compile_options().loss.every()->identifier() == "mae");
  CHECK(&*model.compile_options().optimizer == &model.optimizer());
}

TEST_CASE("malformed compile configs fail clearly", "[serialization][compile_config]") {
  CHECK_THROWS_WITH(from_compile_config(json::parse("[1, 2]")), Contains("compile_config: expected a JSON object"));
  CHECK_THROWS_WITH(from_compile_config(json::parse(R"({"loss": {"class_name": "Mystery", "config": {}}})")),
                    Contains("unknown loss class 'Mystery'"));
  CHECK_THROWS_WITH(from_training_config(json::parse(R"({"loss_weights": "heavy"})")),
                    Contains("training_config: malformed"));
  CHECK_THROWS_WITH(from_compile_config(json::parse(R"({"loss": "no_such_loss"})")), Contains("no_such_loss"));
}
