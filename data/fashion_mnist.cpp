#include <ATen/ATen.h>
#include <strata/data/fashion_mnist.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace strata::datasets::fashion_mnist {
namespace {

const FileNames kTrainImages{"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"};
const FileNames kTrainLabels{"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"};
const FileNames kTestImages{"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"};
const FileNames kTestLabels{"t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"};

constexpr int64_t kTrainCount = 60000;
constexpr int64_t kTestCount = 10000;

std::vector<std::string> find(const std::string& directory, const std::vector<FileNames>& files) {
  return find_files("Fashion-MNIST", {directory}, files,
                    "Install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
                    "or pass the directory that holds the files to fashion_mnist::load().");
}

IdxClassificationSpec spec(int64_t count) {
  return {.dataset = "Fashion-MNIST", .image_side = 28, .num_classes = 10, .expected_count = count};
}

}  // namespace

Data load(const std::string& directory) {
  const auto paths = find(directory, {kTrainImages, kTrainLabels, kTestImages, kTestLabels});
  Data data;
  std::tie(data.x_train, data.y_train) = load_idx_classification(spec(kTrainCount), paths[0], paths[1]);
  std::tie(data.x_test, data.y_test) = load_idx_classification(spec(kTestCount), paths[2], paths[3]);
  return data;
}

data::Dataset train_dataset(const std::string& directory) {
  const auto paths = find(directory, {kTrainImages, kTrainLabels});
  return to_dataset(load_idx_classification(spec(kTrainCount), paths[0], paths[1]));
}

data::Dataset test_dataset(const std::string& directory) {
  const auto paths = find(directory, {kTestImages, kTestLabels});
  return to_dataset(load_idx_classification(spec(kTestCount), paths[0], paths[1]));
}

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace strata::datasets::fashion_mnist
