#pragma once
// Fashion-MNIST (Zalando): 28x28 grayscale images of clothing in 10 classes, 60000 train and 10000 test.
// The Debian package `dataset-fashion-mnist` installs the four IDX files under kDefaultPath.
// Shapes as keras.datasets.fashion_mnist.load_data(); dtypes converted as the catalogue does (catalogue.h).

#include <ATen/core/Tensor.h>
#include <strata/data/catalogue.h>
#include <strata/data/dataset.h>

#include <string>
#include <vector>

namespace strata::datasets::fashion_mnist {

// x_train float32 [60000, 28, 28], pixel values scaled to [0, 1]; y_train int64 [60000], class index 0..9;
// x_test float32 [10000, 28, 28]; y_test int64 [10000].
using Data = datasets::Data;

inline constexpr const char* kDefaultPath = "/usr/share/datasets/fashion-mnist";

// Reads train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
// t10k-labels-idx1-ubyte.gz (or the same names without .gz, uncompressed) from `directory`. Throws
// strata::IOError listing every missing file (with a hint to install dataset-fashion-mnist), or naming the
// file that is unreadable or not shaped like Fashion-MNIST.
Data load(const std::string& directory = kDefaultPath);

// One split (only its two files are read) as a Dataset of (image float32 [28, 28], label int64 scalar).
data::Dataset train_dataset(const std::string& directory = kDefaultPath);
data::Dataset test_dataset(const std::string& directory = kDefaultPath);

// The 10 class names, indexed by label.
const std::vector<std::string>& class_names();

}  // namespace strata::datasets::fashion_mnist
