#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/fashion_mnist.h>
#include <strata/data/idx.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace strata::datasets::fashion_mnist {
namespace {

constexpr std::int64_t kImageSide = 28;
constexpr std::int64_t kNumClasses = 10;
constexpr std::int64_t kTrainCount = 60000;
constexpr std::int64_t kTestCount = 10000;

at::Tensor read_required_file(const std::filesystem::path& file) {
  std::error_code fs_error;
  if (!std::filesystem::exists(file, fs_error)) {
    throw IOError("Fashion-MNIST file '" + file.string() +
                  "' not found. Install the Debian package dataset-fashion-mnist "
                  "(apt-get install dataset-fashion-mnist) or pass the directory that holds the files "
                  "to fashion_mnist::load().");
  }
  return data::read_idx(file.string());
}

// Reads one images/labels pair, checks it looks like Fashion-MNIST, and converts it to x/y tensors.
std::pair<at::Tensor, at::Tensor> load_split(const std::filesystem::path& directory,
                                             const std::string& images_name, const std::string& labels_name,
                                             std::int64_t expected_count) {
  const std::string images_path = (directory / images_name).string();
  const std::string labels_path = (directory / labels_name).string();
  at::Tensor images = read_required_file(images_path);
  at::Tensor labels = read_required_file(labels_path);

  if (images.scalar_type() != at::kByte || images.dim() != 3 || images.size(1) != kImageSide ||
      images.size(2) != kImageSide) {
    throw IOError("Fashion-MNIST file '" + images_path +
                  "': expected uint8 images of shape [N, 28, 28], got " +
                  std::string(c10::toString(images.scalar_type())) + " " + format_dims(images.sizes()));
  }
  if (labels.scalar_type() != at::kByte || labels.dim() != 1) {
    throw IOError("Fashion-MNIST file '" + labels_path + "': expected uint8 labels of shape [N], got " +
                  std::string(c10::toString(labels.scalar_type())) + " " + format_dims(labels.sizes()));
  }
  if (labels.numel() > 0) {
    auto max_label = labels.max().item<std::int64_t>();
    if (max_label >= kNumClasses) {
      throw IOError("Fashion-MNIST file '" + labels_path + "': labels must be in 0.." +
                    std::to_string(kNumClasses - 1) + ", found " + std::to_string(max_label));
    }
  }
  if (images.size(0) != labels.size(0)) {
    throw IOError("Fashion-MNIST files disagree: '" + images_path + "' has " +
                  std::to_string(images.size(0)) + " images but '" + labels_path + "' has " +
                  std::to_string(labels.size(0)) + " labels");
  }
  if (images.size(0) != expected_count) {
    throw IOError("Fashion-MNIST file '" + images_path + "': expected " + std::to_string(expected_count) +
                  " samples, got " + std::to_string(images.size(0)) + " (incomplete or different dataset?)");
  }

  at::Tensor x = images.to(at::kFloat).div_(255.0);
  at::Tensor y = labels.to(at::kLong);
  return {std::move(x), std::move(y)};
}

}  // namespace

Data load(const std::string& directory) {
  const std::filesystem::path root(directory);
  Data data;
  std::tie(data.x_train, data.y_train) =
      load_split(root, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", kTrainCount);
  std::tie(data.x_test, data.y_test) =
      load_split(root, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", kTestCount);
  return data;
}

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace strata::datasets::fashion_mnist
