#pragma once
// A Dataset source that streams IDX files (MNIST-style: images in one file, labels in another) record by
// record instead of loading them whole: memory stays at one record per file however big the files are.

#include <strata/data/dataset.h>

#include <string>
#include <vector>

namespace strata::data {

// Element i is (record i of paths[0], record i of paths[1], ...): each file's i-th row along its first
// dimension, in the stored dtype (uint8 for MNIST; convert in map(), e.g. x.to(at::kFloat) / 255 and
// y.to(at::kLong)). Every pass reopens the files and reads them front to back (gzip or plain, as read_idx).
// The headers are read once here: a missing or broken file, a rank-0 file or files with different record
// counts throw strata::IOError naming the paths; data that ends early or has trailing bytes throws from the
// iterator's next() naming the file. Cardinality is the record count.
//   auto train = data::idx_dataset({dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz"});
Dataset idx_dataset(const std::vector<std::string>& paths);

}  // namespace strata::data
