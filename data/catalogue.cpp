// What the catalogue's loaders share: finding their files with one complete error, and MNIST-style IDX pairs.
#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/catalogue.h>
#include <strata/data/idx.h>

#include <filesystem>
#include <optional>
#include <system_error>

namespace strata::datasets {

namespace {

// The first existing path among `directories` x `names`, or nullopt with every path tried appended to `tried`.
std::optional<std::string> find_file(const std::vector<std::string>& directories, const FileNames& names,
                                     std::vector<std::string>& tried) {
  for (const std::string& directory : directories) {
    for (const std::string& name : names) {
      std::string path = (std::filesystem::path(directory) / name).string();
      std::error_code ignored;
      if (std::filesystem::is_regular_file(path, ignored)) return path;
      tried.push_back(std::move(path));
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> find_files(const std::string& dataset, const std::vector<std::string>& directories,
                                    const std::vector<FileNames>& files, const std::string& hint) {
  std::vector<std::string> found;
  std::string missing;
  size_t missing_count = 0;
  for (const FileNames& names : files) {
    std::vector<std::string> tried;
    if (std::optional<std::string> path = find_file(directories, names, tried)) {
      found.push_back(std::move(*path));
      continue;
    }
    ++missing_count;
    missing += "\n  " + names.front() + ": looked for ";
    for (size_t i = 0; i < tried.size(); ++i) missing += (i > 0 ? ", " : "") + tried[i];
  }
  if (missing_count > 0) {
    throw IOError(dataset + ": " + std::to_string(missing_count) + " of the " + std::to_string(files.size()) +
                  " files it needs not found:" + missing + "\n" + hint);
  }
  return found;
}

std::pair<at::Tensor, at::Tensor> load_idx_classification(const IdxClassificationSpec& spec,
                                                          const std::string& images_path,
                                                          const std::string& labels_path) {
  const std::string& name = spec.dataset;
  const std::string side = std::to_string(spec.image_side);
  at::Tensor images = data::read_idx(images_path);
  at::Tensor labels = data::read_idx(labels_path);

  if (images.scalar_type() != at::kByte || images.dim() != 3 || images.size(1) != spec.image_side ||
      images.size(2) != spec.image_side) {
    throw IOError(name + " file '" + images_path + "': expected uint8 images of shape [N, " + side + ", " + side +
                  "], got " + std::string(c10::toString(images.scalar_type())) + " " + format_dims(images.sizes()));
  }
  if (labels.scalar_type() != at::kByte || labels.dim() != 1) {
    throw IOError(name + " file '" + labels_path + "': expected uint8 labels of shape [N], got " +
                  std::string(c10::toString(labels.scalar_type())) + " " + format_dims(labels.sizes()));
  }
  if (labels.numel() > 0) {
    auto max_label = labels.max().item<int64_t>();
    if (max_label >= spec.num_classes) {
      throw IOError(name + " file '" + labels_path + "': labels must be in 0.." +
                    std::to_string(spec.num_classes - 1) + ", found " + std::to_string(max_label));
    }
  }
  if (images.size(0) != labels.size(0)) {
    throw IOError(name + " files disagree: '" + images_path + "' has " + std::to_string(images.size(0)) +
                  " images but '" + labels_path + "' has " + std::to_string(labels.size(0)) + " labels");
  }
  if (spec.expected_count > 0 && images.size(0) != spec.expected_count) {
    throw IOError(name + " file '" + images_path + "': expected " + std::to_string(spec.expected_count) +
                  " samples, got " + std::to_string(images.size(0)) + " (incomplete or different dataset?)");
  }
  return {images.to(at::kFloat).div_(255.0), labels.to(at::kLong)};
}

data::Dataset to_dataset(std::pair<at::Tensor, at::Tensor> split) {
  return data::Dataset::from_tensor_slices({std::move(split.first), std::move(split.second)});
}

}  // namespace strata::datasets
