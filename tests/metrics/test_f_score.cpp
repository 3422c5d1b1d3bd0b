// F1Score / FBetaScore on Keras' docstring batch, worked out per class in the comments.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/f_score.h>

#include <catch2/catch.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

at::Tensor rows(std::vector<float> values, int64_t cols) {
  const auto n = static_cast<int64_t>(values.size());
  return at::tensor(values, at::kFloat).reshape({n / cols, cols});
}

std::vector<double> values(const metrics::Metric& metric) {
  const at::Tensor r = metric.result().to(at::kDouble).contiguous();
  return {r.data_ptr<double>(), r.data_ptr<double>() + r.numel()};
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(expected[i]).margin(1e-6));
}

// Keras' docstring batch. With threshold 0.5 the predictions become [[0,1,1],[0,1,1],[1,1,0]]:
// class 0: tp 1, fp 0, fn 2 -> P 1, R 1/3; class 1: tp 2, fp 1, fn 0 -> P 2/3, R 1;
// class 2: tp 1, fp 1, fn 0 -> P 1/2, R 1. Supports (true labels) 3, 2, 1.
const at::Tensor kTrue = rows({1, 1, 1, 1, 0, 0, 1, 1, 0}, 3);
const at::Tensor kPred = rows({0.2f, 0.6f, 0.7f, 0.2f, 0.6f, 0.6f, 0.6f, 0.8f, 0.0f}, 3);

}  // namespace

TEST_CASE("F1Score: per class, micro, macro, weighted", "[metrics][f_score]") {
  metrics::F1Score none({.threshold = 0.5});
  CHECK(none.name() == "f1_score");
  none.update_state(kTrue, kPred);
  // F1 = 2PR / (P + R): 0.5, 0.8, 2/3 (Keras' docstring result).
  check_close(values(none), {0.5, 0.8, 2.0 / 3.0});

  // micro: tp 4, fp 2, fn 2 over all classes -> P = R = 2/3 -> F1 2/3.
  metrics::F1Score micro({.average = "micro", .threshold = 0.5});
  micro.update_state(kTrue, kPred);
  CHECK(micro.result().dim() == 0);
  CHECK(micro.result().item<double>() == Approx(2.0 / 3.0).margin(1e-6));
  metrics::F1Score macro({.average = "macro", .threshold = 0.5});
  macro.update_state(kTrue, kPred);
  CHECK(macro.result().item<double>() == Approx((0.5 + 0.8 + 2.0 / 3.0) / 3).margin(1e-6));
  metrics::F1Score weighted({.average = "weighted", .threshold = 0.5});
  weighted.update_state(kTrue, kPred);
  CHECK(weighted.result().item<double>() == Approx((0.5 * 3 + 0.8 * 2 + 2.0 / 3.0) / 6).margin(1e-6));

  // No threshold: each row's largest prediction is positive (ties all count): [[0,0,1],[0,1,1],[0,1,0]];
  // class 0: tp 0 -> 0; class 1: tp 1, fp 1, fn 1 -> 1/2; class 2: tp 1, fp 1 -> P 1/2, R 1 -> 2/3.
  metrics::F1Score argmax;
  argmax.update_state(kTrue, kPred);
  check_close(values(argmax), {0.0, 0.5, 2.0 / 3.0});
  // An all-zero prediction row stays negative: class 2 gains a false negative -> P 1/2, R 1/2 -> 1/2.
  argmax.update_state(rows({0, 0, 1}, 3), rows({0, 0, 0}, 3));
  check_close(values(argmax), {0.0, 0.5, 0.5});

  // Sample weights [1, 0, 2]: class 0: tp 2, fn 1 -> P 1, R 2/3 -> 0.8; class 1: tp 3, fp 0 -> 1;
  // class 2: tp 1, fp 0 -> 1.
  metrics::F1Score sample_weighted({.threshold = 0.5});
  sample_weighted.update_state(kTrue, kPred, at::tensor({1.0f, 0.0f, 2.0f}));
  check_close(values(sample_weighted), {0.8, 1.0, 1.0});
}

TEST_CASE("FBetaScore weighs recall beta times as much", "[metrics][f_score]") {
  // beta 2: (1 + 4) P R / (4 P + R): class 0: 5/13; class 1: 10/11; class 2: 2.5 / 3.
  metrics::FBetaScore f2({.beta = 2.0, .threshold = 0.5});
  CHECK(f2.name() == "fbeta_score");
  f2.update_state(kTrue, kPred);
  check_close(values(f2), {5.0 / 13.0, 10.0 / 11.0, 2.5 / 3.0});

  // Streaming equals one update over the concatenated rows; reset_state starts over.
  metrics::FBetaScore streamed({.average = "macro", .beta = 0.5, .threshold = 0.5});
  metrics::FBetaScore whole({.average = "macro", .beta = 0.5, .threshold = 0.5});
  const at::Tensor w = at::tensor({0.5f, 2.0f, 1.0f});
  streamed.update_state(kTrue.slice(0, 0, 1), kPred.slice(0, 0, 1), w.slice(0, 0, 1));
  streamed.update_state(kTrue.slice(0, 1), kPred.slice(0, 1), w.slice(0, 1));
  whole.update_state(kTrue, kPred, w);
  for (size_t i = 0; i < 4; ++i) CHECK(at::allclose(streamed.variables()[i], whole.variables()[i]));
  CHECK(streamed.result().item<double>() == Approx(whole.result().item<double>()));
  streamed.reset_state();
  CHECK(streamed.result().item<double>() == 0.0);

  // Config round trip; F1Score has no "beta" key.
  const auto rebuilt = metrics::FBetaScore::from_config(f2.get_config());
  CHECK(rebuilt.get_config() == f2.get_config());
  CHECK(f2.get_config()["beta"] == 2.0);
  CHECK(f2.get_config()["average"].is_null());
  metrics::F1Score f1({.average = "weighted", .threshold = 0.3, .name = "f1"});
  const nlohmann::json config = f1.get_config();
  CHECK(!config.contains("beta"));
  CHECK(config["average"] == "weighted");
  CHECK(config["threshold"] == 0.3);
  CHECK(metrics::F1Score::from_config(config).get_config() == config);
  CHECK(metrics::get("f1_score")->class_name() == "F1Score");

  CHECK_THROWS_WITH(metrics::FBetaScore({.average = "samples"}), Contains("Invalid `average` argument value"));
  CHECK_THROWS_WITH(metrics::FBetaScore({.beta = 0.0}), Contains("It should be > 0"));
  CHECK_THROWS_WITH(metrics::F1Score({.threshold = 1.5}), Contains("0 < threshold <= 1"));
  CHECK_THROWS_WITH(f1.update_state(at::tensor({1.0f}), at::tensor({0.4f})), Contains("expects 2D inputs"));
}
