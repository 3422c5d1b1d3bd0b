#pragma once
// CIFAR-10 (Krizhevsky): 32x32 colour images in 10 classes, 50000 train (five batch files of 10000) and
// 10000 test, in the "CIFAR-10 binary version" (cifar-10-binary.tar.gz from the CIFAR page,
// https://www.cs.toronto.edu/~kriz/cifar.html). Each record is 1 label byte then 3072 pixel bytes: the
// 1024 red, 1024 green and 1024 blue values of a 32x32 image, each plane row-major.
// Shapes as keras.datasets.cifar10.load_data() (channels_last images, labels [N, 1]); dtypes converted as
// the catalogue does (catalogue.h). In float32 the training images take 600 MiB.

#include <ATen/core/Tensor.h>
#include <strata/data/catalogue.h>
#include <strata/data/dataset.h>

#include <string>
#include <vector>

namespace strata::datasets::cifar10 {

// x_train float32 [N, 32, 32, 3] (height, width, RGB) scaled to [0, 1], y_train int64 [N, 1] class 0..9;
// x_test, y_test likewise. N is whatever the files hold (50000 and 10000 for the real dataset).
using Data = datasets::Data;

// Reads data_batch_1.bin .. data_batch_5.bin (train, in that order) and test_batch.bin from `directory`,
// or from its sub-directory cifar-10-batches-bin (where the archive unpacks them). Throws strata::IOError
// listing every missing file and the paths tried, or naming a file whose size is not a whole number of
// 3073-byte records, that cannot be read, or holds a label above 9.
Data load(const std::string& directory);

// One split as a Dataset of (image float32 [32, 32, 3], label int64 [1]).
data::Dataset train_dataset(const std::string& directory);
data::Dataset test_dataset(const std::string& directory);

// "airplane", "automobile", ..., "truck", indexed by label (as batches.meta.txt lists them).
const std::vector<std::string>& class_names();

}  // namespace strata::datasets::cifar10
