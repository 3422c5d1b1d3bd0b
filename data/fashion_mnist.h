#pragma once
// Fashion-MNIST (Zalando): 28x28 grayscale images of clothing in 10 classes, 60000 train and 10000 test.
// The Debian package `dataset-fashion-mnist` installs the four IDX files under kDefaultPath.

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace strata::datasets::fashion_mnist {

struct Data {
  at::Tensor x_train;  // float32 [60000, 28, 28], pixel values scaled to [0, 1]
  at::Tensor y_train;  // int64 [60000], class index 0..9
  at::Tensor x_test;   // float32 [10000, 28, 28]
  at::Tensor y_test;   // int64 [10000]
};

inline constexpr const char* kDefaultPath = "/usr/share/datasets/fashion-mnist";

// Reads train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
// t10k-labels-idx1-ubyte.gz from `directory`. Throws strata::IOError naming the file when one is
// missing (with a hint to install dataset-fashion-mnist), unreadable, or not shaped like Fashion-MNIST.
Data load(const std::string& directory = kDefaultPath);

// The 10 class names, indexed by label.
const std::vector<std::string>& class_names();

}  // namespace strata::datasets::fashion_mnist
