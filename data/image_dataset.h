#pragma once
// keras.utils.image_dataset_from_directory: a directory with one sub-folder per class becomes a Dataset of
// (image, label) elements, decoded lazily (one file per element, when the pass reaches it).
//
//   main_directory/
//     class_a/  a_image_1.jpg  a_image_2.png ...
//     class_b/  b_image_1.jpg ...
//   auto [train, val] = data::image_dataset_from_directory_both("main_directory",
//       {.image_size = {180, 180}, .seed = 1337, .validation_split = 0.2, .subset = "both"});
//
// As in Keras: class names are the sorted sub-folder names (hidden ones skipped) or `class_names`; the files
// of each class are found recursively (following symbolic links only with follow_links) with the extensions
// .bmp .gif .jpeg .jpg .png (any case) and sorted by folder, then name; the classes' lists are concatenated,
// shuffled with `seed` when `shuffle` is set, and the last int(validation_split * n) files form the
// "validation" subset, the others "training". Images are float32 [height, width, channels] with values 0..255,
// resized to image_size with tf.image.resize's rules (half-pixel centres, no antialiasing); labels are int32
// scalars ("int"), float32 one-hot vectors ("categorical") or float32 [1] ("binary", exactly two classes).
// The file list is shuffled with numpy's RandomState(seed) algorithm, so a seed gives Keras' subsets and order.
// Not as in Keras: the dataset is not re-shuffled each epoch (Keras adds a shuffle(8 * batch_size) buffer;
// call .shuffle() on the result); BMP and GIF files are refused when the
// directory is indexed (only PNG and JPEG are decoded); `labels` cannot be an explicit list.
// Prints Keras' "Found N files belonging to M classes." and "Using K files for training." when verbose.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <strata/data/dataset.h>

namespace strata::data {

struct ImageDatasetOptions {
  // "inferred" (from the sub-folders) or "" (Keras' None: no labels; every image file below the directory).
  std::string labels = "inferred";
  // "int", "categorical", "binary" or "" (None: elements are (image) only).
  std::string label_mode = "int";
  // The sub-folders to read, in label order; empty: every sub-folder, sorted.
  std::vector<std::string> class_names = {};
  // "grayscale" (1 channel), "rgb" (3) or "rgba" (4).
  std::string color_mode = "rgb";
  // Elements are batches of this many; 0 or -1 (Keras' None): single images.
  int64_t batch_size = 32;
  std::vector<int64_t> image_size = {256, 256};  // height, width
  bool shuffle = true;
  // The file-list shuffle's seed (0 .. 2^32 - 1, as numpy's); without one a seed is drawn from the global
  // generator (set_random_seed).
  std::optional<uint64_t> seed = std::nullopt;
  // Fraction (0, 1) of the files held out for validation; 0: no split. Needs `subset`, and a seed when shuffling.
  double validation_split = 0;
  // "training", "validation" or "both" (image_dataset_from_directory_both); "" without validation_split.
  std::string subset = "";
  // "bilinear" or "nearest" (tf.image.resize's methods that ATen computes identically).
  std::string interpolation = "bilinear";
  bool follow_links = false;
  // Crop the largest centred window with the target's aspect ratio before resizing (Keras' smart_resize).
  bool crop_to_aspect_ratio = false;
  bool verbose = true;
};

// Needs subset "" (no split), "training" or "validation". Throws strata::ValueError for bad options, a missing
// class folder, no image files or BMP/GIF files; a file that cannot be decoded throws strata::IOError naming it
// when the pass reaches it.
Dataset image_dataset_from_directory(const std::string& directory, ImageDatasetOptions options = {});

// subset = "both": the (training, validation) pair, split from one shuffled file list.
std::pair<Dataset, Dataset> image_dataset_from_directory_both(const std::string& directory, ImageDatasetOptions options);

// The class names image_dataset_from_directory uses (label i is class i): `class_names` when given (each must be
// a sub-folder), else the sorted names of the sub-folders not starting with '.'. Keras' dataset.class_names.
std::vector<std::string> image_directory_class_names(const std::string& directory,
                                                     const std::vector<std::string>& class_names = {});

// Resizes a [height, width, channels] image (any dtype) to float32 [size[0], size[1], channels] as
// tf.image.resize(method=interpolation, antialias=False) does, cropping first when crop_to_aspect_ratio
// (Keras' smart_resize). image_dataset_from_directory applies it to every decoded image.
at::Tensor resize_image(const at::Tensor& image, const std::vector<int64_t>& size,
                        const std::string& interpolation = "bilinear", bool crop_to_aspect_ratio = false);

}  // namespace strata::data
