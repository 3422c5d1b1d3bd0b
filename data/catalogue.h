#pragma once
// The datasets catalogue (namespace strata::datasets): loaders for standard datasets stored on disk,
// returning tensors in the shapes keras.datasets' load_data() uses, converted for training: images float32
// scaled to [0, 1], labels int64 class indices. Each dataset has a namespace (datasets::mnist, ::cifar10,
// ::fashion_mnist) with
//   Data load(directory)                         both splits as tensors
//   data::Dataset train_dataset(directory)       one split as a Dataset of (image, label) elements
//   data::Dataset test_dataset(directory)
//   const std::vector<std::string>& class_names()
// Nothing is downloaded: the user gives the directory that holds the files.
//
// Adding a dataset (see data/mnist.cpp for a complete one, about 60 lines):
//  1. data/<name>.h declares the four functions above in namespace strata::datasets::<name>, documenting
//     the files read, the returned shapes and dtypes, and where the files can be obtained.
//  2. data/<name>.cpp calls find_files() first with every file the dataset needs, so a user missing several
//     files learns about all of them, and where each was looked for, from one IOError with a hint on how to
//     get them. Then it reads each file (data::read_idx for IDX files; load_idx_classification() when the
//     dataset is an MNIST-style pair of IDX files), checks it has the dataset's shape, dtype and label range,
//     and throws strata::IOError naming the file when it does not. train_dataset/test_dataset wrap the split
//     with to_dataset().
//  3. A test writes a tiny fake copy of the files in a temporary directory and checks shapes, values,
//     labels and the error messages; it must not need the real files.

#include <ATen/core/Tensor.h>
#include <strata/data/dataset.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace strata::datasets {

struct Data {
  at::Tensor x_train;
  at::Tensor y_train;
  at::Tensor x_test;
  at::Tensor y_test;
};

// The names one file may have, tried in order (e.g. {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"}).
using FileNames = std::vector<std::string>;

// Finds every file of `files` in the first of `directories` where one of its names exists and returns the
// found paths in the order of `files`. When any file is missing, throws one strata::IOError that names the
// dataset and, for every missing file, each path tried; `hint` ends the message (how to get the files).
std::vector<std::string> find_files(const std::string& dataset, const std::vector<std::string>& directories,
                                    const std::vector<FileNames>& files, const std::string& hint);

// An MNIST-style split: uint8 images [N, image_side, image_side] in one IDX file, uint8 labels [N] in
// 0..num_classes - 1 in another. expected_count > 0 also requires N == expected_count.
struct IdxClassificationSpec {
  std::string dataset;  // for messages, e.g. "MNIST"
  int64_t image_side = 28;
  int64_t num_classes = 10;
  int64_t expected_count = 0;
};

// Reads and checks one split; returns x float32 [N, side, side] in [0, 1] and y int64 [N]. Throws
// strata::IOError naming the file that is unreadable or not shaped as the spec says.
std::pair<at::Tensor, at::Tensor> load_idx_classification(const IdxClassificationSpec& spec,
                                                          const std::string& images_path,
                                                          const std::string& labels_path);

// The split as a Dataset whose element i is (x[i], y[i]); the tensors are shared, not copied.
data::Dataset to_dataset(std::pair<at::Tensor, at::Tensor> split);

}  // namespace strata::datasets
