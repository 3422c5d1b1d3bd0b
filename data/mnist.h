#pragma once
// MNIST (LeCun, Cortes, Burges): 28x28 grayscale handwritten digits, 60000 train and 10000 test, in the
// same four IDX files as Fashion-MNIST. Debian does not package it: download the files (the MNIST database
// page, http://yann.lecun.com/exdb/mnist/, or one of its mirrors) and pass their directory.
// Shapes as keras.datasets.mnist.load_data(); dtypes converted as the catalogue does (catalogue.h).

#include <ATen/core/Tensor.h>
#include <strata/data/catalogue.h>
#include <strata/data/dataset.h>

#include <string>
#include <vector>

namespace strata::datasets::mnist {

// x_train float32 [N, 28, 28] scaled to [0, 1], y_train int64 [N] digits 0..9; x_test, y_test likewise.
// N is whatever the files hold (60000 and 10000 for the real dataset), so a subset in the same format loads.
using Data = datasets::Data;

// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte from `directory`, each gzip-compressed with a .gz suffix or plain. Throws
// strata::IOError listing every missing file and the paths tried, or naming the file that is unreadable,
// truncated or not shaped like MNIST.
Data load(const std::string& directory);

// One split (only its two files are read) as a Dataset of (image float32 [28, 28], label int64 scalar).
data::Dataset train_dataset(const std::string& directory);
data::Dataset test_dataset(const std::string& directory);

// "0" .. "9", indexed by label.
const std::vector<std::string>& class_names();

}  // namespace strata::datasets::mnist
