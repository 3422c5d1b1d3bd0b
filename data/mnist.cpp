#include <ATen/ATen.h>
#include <strata/data/mnist.h>

#include <string>
#include <tuple>
#include <vector>

namespace strata::datasets::mnist {
namespace {

const FileNames kTrainImages{"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"};
const FileNames kTrainLabels{"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"};
const FileNames kTestImages{"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"};
const FileNames kTestLabels{"t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"};

const IdxClassificationSpec kSpec{.dataset = "MNIST", .image_side = 28, .num_classes = 10};

std::vector<std::string> find(const std::string& directory, const std::vector<FileNames>& files) {
  return find_files("MNIST", {directory}, files,
                    "MNIST is not packaged in Debian: download its four IDX files (the MNIST database page "
                    "http://yann.lecun.com/exdb/mnist/ or a mirror) and pass their directory to mnist::load().");
}

}  // namespace

Data load(const std::string& directory) {
  const auto paths = find(directory, {kTrainImages, kTrainLabels, kTestImages, kTestLabels});
  Data data;
  std::tie(data.x_train, data.y_train) = load_idx_classification(kSpec, paths[0], paths[1]);
  std::tie(data.x_test, data.y_test) = load_idx_classification(kSpec, paths[2], paths[3]);
  return data;
}

data::Dataset train_dataset(const std::string& directory) {
  const auto paths = find(directory, {kTrainImages, kTrainLabels});
  return to_dataset(load_idx_classification(kSpec, paths[0], paths[1]));
}

data::Dataset test_dataset(const std::string& directory) {
  const auto paths = find(directory, {kTestImages, kTestLabels});
  return to_dataset(load_idx_classification(kSpec, paths[0], paths[1]));
}

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return names;
}

}  // namespace strata::datasets::mnist
