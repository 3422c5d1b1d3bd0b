#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/data/cifar10.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace strata::datasets::cifar10 {
namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kChannels = 3;
constexpr int64_t kRecordBytes = 1 + kChannels * kSide * kSide;
constexpr int64_t kNumClasses = 10;

const std::vector<FileNames> kTrainFiles{{"data_batch_1.bin"}, {"data_batch_2.bin"}, {"data_batch_3.bin"},
                                         {"data_batch_4.bin"}, {"data_batch_5.bin"}};
const std::vector<FileNames> kTestFiles{{"test_batch.bin"}};

std::vector<std::string> find(const std::string& directory, const std::vector<FileNames>& files) {
  return find_files("CIFAR-10", {directory, (std::filesystem::path(directory) / "cifar-10-batches-bin").string()},
                    files,
                    "Download the CIFAR-10 binary version (cifar-10-binary.tar.gz from "
                    "https://www.cs.toronto.edu/~kriz/cifar.html), unpack it and pass the directory to "
                    "cifar10::load().");
}

// One batch file as uint8 records [N, 3073].
at::Tensor read_records(const std::string& path) {
  const std::string prefix = "CIFAR-10 file '" + path + "'";
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) throw IOError(prefix + " cannot be read: " + error.message());
  if (size % kRecordBytes != 0) {
    throw IOError(prefix + ": size " + std::to_string(size) + " bytes is not a whole number of " +
                  std::to_string(kRecordBytes) + "-byte records (1 label byte + 3072 pixel bytes); truncated, " +
                  "or not the binary version?");
  }
  const auto count = static_cast<int64_t>(size / kRecordBytes);
  at::Tensor records = at::empty({count, kRecordBytes}, at::kByte);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(prefix + " cannot be opened: " + std::strerror(errno));
  in.read(reinterpret_cast<char*>(records.data_ptr<uint8_t>()), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) {
    throw IOError(prefix + ": read " + std::to_string(in.gcount()) + " of " + std::to_string(size) + " bytes");
  }
  if (count > 0) {
    const auto max_label = records.select(1, 0).max().item<int64_t>();
    if (max_label >= kNumClasses) {
      throw IOError(prefix + ": labels must be in 0.." + std::to_string(kNumClasses - 1) + ", found " +
                    std::to_string(max_label) + " (not CIFAR-10? CIFAR-100's records have two label bytes)");
    }
  }
  return records;
}

// The files' records concatenated, as x float32 [N, 32, 32, 3] in [0, 1] and y int64 [N, 1].
std::pair<at::Tensor, at::Tensor> load_split(const std::vector<std::string>& paths) {
  std::vector<at::Tensor> parts;
  for (const auto& path : paths) parts.push_back(read_records(path));
  const at::Tensor records = parts.size() == 1 ? parts[0] : at::cat(parts);
  const int64_t n = records.size(0);
  at::Tensor x = records.narrow(1, 1, kRecordBytes - 1)
                     .view({n, kChannels, kSide, kSide})
                     .permute({0, 2, 3, 1})
                     .contiguous()  // channels_last in bytes, before the 4x larger float copy
                     .to(at::kFloat)
                     .div_(255.0);
  at::Tensor y = records.narrow(1, 0, 1).to(at::kLong);
  return {std::move(x), std::move(y)};
}

}  // namespace

Data load(const std::string& directory) {
  std::vector<FileNames> files = kTrainFiles;
  files.insert(files.end(), kTestFiles.begin(), kTestFiles.end());
  std::vector<std::string> paths = find(directory, files);
  const std::vector<std::string> test_paths{paths.back()};
  paths.pop_back();
  Data data;
  std::tie(data.x_train, data.y_train) = load_split(paths);
  std::tie(data.x_test, data.y_test) = load_split(test_paths);
  return data;
}

data::Dataset train_dataset(const std::string& directory) {
  return to_dataset(load_split(find(directory, kTrainFiles)));
}

data::Dataset test_dataset(const std::string& directory) { return to_dataset(load_split(find(directory, kTestFiles))); }

const std::vector<std::string>& class_names() {
  static const std::vector<std::string> names{"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace strata::datasets::cifar10
