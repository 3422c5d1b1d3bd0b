// IoU metrics on small label sets; each confusion matrix (rows: true class, columns: predicted) is written
// out in the comments.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <strata/core/error.h>
#include <strata/metrics/iou.h>

#include <catch2/catch.hpp>

using namespace strata;
using Catch::Matchers::Contains;

namespace {

at::Tensor vec(std::vector<float> values) { return at::tensor(values, at::kFloat); }
double scalar(const metrics::Metric& metric) { return metric.result().item<double>(); }

// true [0, 1, 2, 2, 1], predicted [0, 2, 2, 1, 1]: cm = [[1,0,0],[0,1,1],[0,1,1]]; tp [1, 1, 1],
// true totals [1, 2, 2], predicted totals [1, 2, 2] -> IoU = tp / (true + predicted - tp) = [1, 1/3, 1/3].
const std::vector<float> kLabels = {0, 1, 2, 2, 1};
const std::vector<float> kPredicted = {0, 2, 2, 1, 1};

}  // namespace

TEST_CASE("IoU and MeanIoU from the confusion matrix", "[metrics][iou]") {
  // Keras' docstring: cm [[1,1],[1,1]] -> IoU of class 0 = 1/3; weighted cm [[0.3,0.3],[0.3,0.1]] -> 0.3/0.9.
  metrics::IoU iou(2, {0});
  CHECK(iou.name() == "io_u");
  iou.update_state(vec({0, 0, 1, 1}), vec({0, 1, 0, 1}));
  CHECK(scalar(iou) == Approx(1.0 / 3.0).margin(1e-6));
  iou.reset_state();
  iou.update_state(vec({0, 0, 1, 1}), vec({0, 1, 0, 1}), vec({0.3f, 0.3f, 0.3f, 0.1f}));
  CHECK(scalar(iou) == Approx(1.0 / 3.0).margin(1e-6));
  CHECK(iou.variables().at(0).sizes() == at::IntArrayRef({2, 2}));

  metrics::MeanIoU mean(3);
  CHECK(mean.name() == "mean_io_u");
  mean.update_state(vec(kLabels), vec(kPredicted));
  CHECK(scalar(mean) == Approx((1 + 1.0 / 3 + 1.0 / 3) / 3).margin(1e-6));
  // A class that never appears (class 3) is left out of the mean.
  metrics::MeanIoU four(4);
  four.update_state(vec(kLabels), vec(kPredicted));
  CHECK(scalar(four) == Approx(5.0 / 9.0).margin(1e-6));
  // target_class_ids {1, 2}: (1/3 + 1/3) / 2.
  metrics::IoU targets(3, {1, 2});
  targets.update_state(vec(kLabels), vec(kPredicted));
  CHECK(scalar(targets) == Approx(1.0 / 3.0).margin(1e-6));

  // ignore_class 2 drops the samples labelled 2: cm = [[1,0,0],[0,1,1],[0,0,0]]; class 2 is only predicted:
  // IoU = [1, 1/2, 0] over 3 classes with a non-zero denominator -> 1/2.
  metrics::MeanIoU ignoring(3, {.ignore_class = 2});
  ignoring.update_state(vec(kLabels), vec(kPredicted));
  CHECK(scalar(ignoring) == Approx(0.5).margin(1e-6));

  // Segmentation maps of any rank are flattened, weights too; streaming equals one update.
  const at::Tensor maps_true = vec(kLabels).repeat({2}).reshape({2, 5});
  const at::Tensor maps_pred = vec(kPredicted).repeat({2}).reshape({2, 5});
  const at::Tensor maps_weight = at::rand({2, 5});
  metrics::MeanIoU streamed(3);
  metrics::MeanIoU whole(3);
  streamed.update_state(maps_true.slice(0, 0, 1), maps_pred.slice(0, 0, 1), maps_weight.slice(0, 0, 1));
  streamed.update_state(maps_true.slice(0, 1), maps_pred.slice(0, 1), maps_weight.slice(0, 1));
  whole.update_state(maps_true, maps_pred, maps_weight);
  CHECK(at::allclose(streamed.variables()[0], whole.variables()[0]));
  CHECK(scalar(streamed) == Approx(scalar(whole)));

  CHECK_THROWS_WITH(metrics::IoU(3, {3}), Contains("Target class id 3 is out of range"));
}

TEST_CASE("BinaryIoU, OneHotIoU and OneHotMeanIoU", "[metrics][iou]") {
  // Keras' docstring: threshold 0.3, predictions [0.1, 0.2, 0.4, 0.7] -> classes [0, 0, 1, 1] against
  // [0, 1, 0, 1]: cm [[1,1],[1,1]] -> 1/3; weighted cm [[0.2,0.4],[0.3,0.1]] -> (0.2/0.9 + 0.1/0.8) / 2.
  metrics::BinaryIoU binary({.target_class_ids = {0, 1}, .threshold = 0.3});
  CHECK(binary.name() == "binary_io_u");
  binary.update_state(vec({0, 1, 0, 1}), vec({0.1f, 0.2f, 0.4f, 0.7f}));
  CHECK(scalar(binary) == Approx(1.0 / 3.0).margin(1e-6));
  binary.reset_state();
  binary.update_state(vec({0, 1, 0, 1}), vec({0.1f, 0.2f, 0.4f, 0.7f}), vec({0.2f, 0.3f, 0.4f, 0.1f}));
  CHECK(scalar(binary) == Approx((0.2 / 0.9 + 0.1 / 0.8) / 2).margin(1e-6));
  // predictions equal to the threshold are class 1
  metrics::BinaryIoU at_threshold({.target_class_ids = {1}});
  at_threshold.update_state(vec({1, 0}), vec({0.5f, 0.2f}));
  CHECK(scalar(at_threshold) == Approx(1.0).margin(1e-6));

  // One-hot labels and scores whose argmax is kPredicted.
  const at::Tensor one_hot = at::one_hot(at::tensor({0, 1, 2, 2, 1}, at::kLong), 3).to(at::kFloat);
  const at::Tensor scores = at::one_hot(at::tensor({0, 2, 2, 1, 1}, at::kLong), 3).to(at::kFloat) * 0.6f + 0.1f;
  metrics::OneHotIoU one_hot_iou(3, {1, 2});
  CHECK(one_hot_iou.name() == "one_hot_io_u");
  one_hot_iou.update_state(one_hot, scores);
  CHECK(scalar(one_hot_iou) == Approx(1.0 / 3.0).margin(1e-6));
  metrics::OneHotMeanIoU one_hot_mean(3);
  one_hot_mean.update_state(one_hot, scores);
  CHECK(scalar(one_hot_mean) == Approx(5.0 / 9.0).margin(1e-6));
  // sparse_y_pred: integer predictions with one-hot labels.
  metrics::OneHotMeanIoU sparse_pred(3, {.sparse_y_pred = true});
  sparse_pred.update_state(one_hot, vec(kPredicted));
  CHECK(scalar(sparse_pred) == Approx(5.0 / 9.0).margin(1e-6));
}

TEST_CASE("IoU metrics round-trip their config", "[metrics][iou][config]") {
  metrics::IoU iou(4, {1, 3}, {.ignore_class = 255, .sparse_y_pred = false, .name = "iou13"});
  nlohmann::json config = iou.get_config();
  CHECK(config["num_classes"] == 4);
  CHECK(config["target_class_ids"] == nlohmann::json({1, 3}));
  CHECK(config["ignore_class"] == 255);
  CHECK(config["sparse_y_pred"] == false);
  CHECK(config["axis"] == -1);
  CHECK(metrics::IoU::from_config(config).get_config() == config);

  metrics::MeanIoU mean(3);
  CHECK(!mean.get_config().contains("target_class_ids"));
  CHECK(metrics::MeanIoU::from_config(mean.get_config()).get_config() == mean.get_config());
  metrics::BinaryIoU binary({.target_class_ids = {1}, .threshold = 0.7});
  CHECK(binary.get_config() == nlohmann::json{{"target_class_ids", nlohmann::json::array({1})}, {"threshold", 0.7}, {"name", "binary_io_u"}, {"dtype", "float32"}});
  const auto binary_copy = metrics::BinaryIoU::from_config(binary.get_config());
  CHECK(binary_copy.get_config() == binary.get_config());
  metrics::OneHotIoU one_hot(3, {0});
  CHECK(!one_hot.get_config().contains("sparse_y_true"));
  CHECK(metrics::OneHotIoU::from_config(one_hot.get_config()).get_config() == one_hot.get_config());
  metrics::OneHotMeanIoU one_hot_mean(3, {.axis = 1});
  CHECK(metrics::OneHotMeanIoU::from_config(one_hot_mean.get_config()).get_config() == one_hot_mean.get_config());

  // A copy rebuilt from the config, fed the same data, gives the same value.
  auto rebuilt = metrics::BinaryIoU::from_config(binary.get_config());
  binary.update_state(vec({1, 0, 1}), vec({0.9f, 0.8f, 0.1f}));
  rebuilt.update_state(vec({1, 0, 1}), vec({0.9f, 0.8f, 0.1f}));
  CHECK(scalar(rebuilt) == scalar(binary));
  CHECK(metrics::get("binary_io_u")->class_name() == "BinaryIoU");
}
