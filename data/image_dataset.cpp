// image_dataset_from_directory: index the class folders, shuffle and split the file list as Keras does, then
// a source that decodes and resizes one file per element.
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/core/shape.h>
#include <strata/data/image_dataset.h>
#include <strata/data/image_decode.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>

namespace strata::data {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kAllowedFormats = {".bmp", ".gif", ".jpeg", ".jpg", ".png"};

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

std::string lowercase_extension(const fs::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  return extension;
}

struct ImageSpec {
  std::string directory;
  std::vector<std::string> paths;
  std::vector<int64_t> labels;  // empty: no labels
  int64_t num_classes = 0;
  std::string label_mode;
  int channels = 3;
  std::vector<int64_t> image_size;
  std::string interpolation;
  bool crop_to_aspect_ratio = false;
};

at::Tensor label_tensor(const ImageSpec& spec, int64_t label) {
  if (spec.label_mode == "int") return at::scalar_tensor(label, at::kInt);
  if (spec.label_mode == "binary") return at::full({1}, static_cast<double>(label), at::kFloat);
  at::Tensor one_hot = at::zeros({spec.num_classes}, at::kFloat);
  one_hot[label] = 1;
  return one_hot;
}

class ImageFilesNode : public DatasetNode {
 public:
  explicit ImageFilesNode(std::shared_ptr<const ImageSpec> spec) : spec_(std::move(spec)) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class ImageIterator : public Iterator {
     public:
      explicit ImageIterator(std::shared_ptr<const ImageSpec> spec) : spec_(std::move(spec)) {}
      std::optional<Element> next() override {
        if (index_ >= spec_->paths.size()) return std::nullopt;
        const size_t i = index_++;
        Element element{resize_image(read_image(spec_->paths[i], spec_->channels), spec_->image_size,
                                     spec_->interpolation, spec_->crop_to_aspect_ratio)};
        if (!spec_->labels.empty()) element.push_back(label_tensor(*spec_, spec_->labels[i]));
        return element;
      }

     private:
      std::shared_ptr<const ImageSpec> spec_;
      size_t index_ = 0;
    };
    return std::make_unique<ImageIterator>(spec_);
  }
  int64_t cardinality() const override { return static_cast<int64_t>(spec_->paths.size()); }
  std::string describe() const override { return "image_dataset_from_directory('" + spec_->directory + "')"; }

 private:
  std::shared_ptr<const ImageSpec> spec_;
};

bool has_allowed_format(const fs::path& file) {
  const std::string extension = lowercase_extension(file);
  return std::find(kAllowedFormats.begin(), kAllowedFormats.end(), extension) != kAllowedFormats.end();
}

// The image files below `folder`, sorted by (folder, name) as Keras' sorted os.walk listing is.
std::vector<std::string> list_images(const fs::path& folder, bool follow_links) {
  std::vector<std::pair<std::string, std::string>> found;
  const auto options = follow_links ? fs::directory_options::follow_directory_symlink : fs::directory_options::none;
  try {
    for (const auto& entry : fs::recursive_directory_iterator(folder, options))
      if (entry.is_regular_file() && has_allowed_format(entry.path()))
        found.emplace_back(entry.path().parent_path().string(), entry.path().filename().string());
  } catch (const fs::filesystem_error& error) {
    throw IOError(std::string("image_dataset_from_directory: cannot list '") + folder.string() + "': " + error.what());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [parent, name] : found) paths.push_back((fs::path(parent) / name).string());
  return paths;
}

}  // namespace

std::vector<std::string> image_directory_class_names(const std::string& directory,
                                                     const std::vector<std::string>& requested) {
  if (!fs::is_directory(directory))
    throw ValueError("image_dataset_from_directory: '" + directory + "' is not a directory");
  std::vector<std::string> folders;
  try {
    for (const auto& entry : fs::directory_iterator(directory)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_directory() && name[0] != '.') folders.push_back(name);
    }
  } catch (const fs::filesystem_error& error) {
    throw IOError("image_dataset_from_directory: cannot list '" + directory + "': " + error.what());
  }
  std::sort(folders.begin(), folders.end());
  if (requested.empty()) return folders;
  for (const std::string& name : requested)
    if (std::find(folders.begin(), folders.end(), name) == folders.end())
      throw ValueError("image_dataset_from_directory: class_names names '" + name + "', which is not a sub-folder of '" +
                       directory + "' (its sub-folders: " + join(folders) + ")");
  return requested;
}

namespace {

void check_options(const ImageDatasetOptions& options) {
  const std::string who = "image_dataset_from_directory: ";
  if (options.labels != "inferred" && !options.labels.empty())
    throw ValueError(who + "labels must be \"inferred\" or \"\" (no labels), got \"" + options.labels + "\"");
  const std::set<std::string> label_modes = {"int", "categorical", "binary", ""};
  if (!label_modes.count(options.label_mode))
    throw ValueError(who + "label_mode must be \"int\", \"categorical\", \"binary\" or \"\" (no labels), got \"" +
                     options.label_mode + "\"");
  if (!options.class_names.empty() && options.labels != "inferred")
    throw ValueError(who + "class_names can only be given with labels = \"inferred\"");
  if (options.color_mode != "rgb" && options.color_mode != "grayscale" && options.color_mode != "rgba")
    throw ValueError(who + "color_mode must be \"rgb\", \"rgba\" or \"grayscale\", got \"" + options.color_mode + "\"");
  if (options.batch_size < -1)
    throw ValueError(who + "batch_size must be >= 1, or 0 / -1 for single images, got " + std::to_string(options.batch_size));
  if (options.image_size.size() != 2 || options.image_size[0] < 1 || options.image_size[1] < 1)
    throw ValueError(who + "image_size must be two positive numbers (height, width), got " + format_dims(options.image_size));
  if (options.validation_split != 0 && !(options.validation_split > 0 && options.validation_split < 1))
    throw ValueError(who + "validation_split must be between 0 and 1, got " + std::to_string(options.validation_split));
  const std::set<std::string> subsets = {"training", "validation", "both", ""};
  if (!subsets.count(options.subset))
    throw ValueError(who + "subset must be \"training\", \"validation\" or \"both\", got \"" + options.subset + "\"");
  if ((options.validation_split != 0) != !options.subset.empty())
    throw ValueError(who + "if subset is set, validation_split must be set, and inversely");
  if (options.validation_split != 0 && options.shuffle && !options.seed)
    throw ValueError(who + "with validation_split and shuffle, give a seed, so that the training and validation "
                           "subsets do not overlap");
  if (options.seed && *options.seed > 0xffffffffu)
    throw ValueError(who + "seed must be between 0 and 2**32 - 1 (numpy's RandomState), got " + std::to_string(*options.seed));
  if (options.interpolation != "bilinear" && options.interpolation != "nearest")
    throw ValueError(who + "interpolation must be \"bilinear\" or \"nearest\" (tf.image.resize's other methods are "
                           "not implemented), got \"" + options.interpolation + "\"");
}

// The permutation np.random.RandomState(seed).shuffle applies to a list of n items (Fisher-Yates from the end,
// each index drawn from MT19937 by masked rejection), so a seed splits the files exactly as Keras does.
std::vector<size_t> numpy_shuffled_order(size_t n, uint64_t seed) {
  std::mt19937 mt(static_cast<uint32_t>(seed));  // RandomState(int) seeds with init_genrand, as std::mt19937 does
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  for (size_t i = n > 0 ? n - 1 : 0; i > 0; --i) {
    uint32_t mask = static_cast<uint32_t>(i);
    for (int shift = 1; shift < 32; shift *= 2) mask |= mask >> shift;
    uint32_t j = 0;
    do j = mt() & mask;
    while (j > i);
    std::swap(order[i], order[j]);
  }
  return order;
}

// Keras' index_directory: the (shuffled) files and their class indices.
std::shared_ptr<ImageSpec> index_directory(const std::string& directory, const ImageDatasetOptions& options,
                                           std::vector<std::string>& class_names) {
  const std::string who = "image_dataset_from_directory: ";
  auto spec = std::make_shared<ImageSpec>();
  spec->directory = directory;
  const bool labeled = options.labels == "inferred" && !options.label_mode.empty();
  std::vector<int64_t> labels;
  if (options.labels == "inferred") {
    class_names = image_directory_class_names(directory, options.class_names);
    for (size_t c = 0; c < class_names.size(); ++c)
      for (std::string& path : list_images(fs::path(directory) / class_names[c], options.follow_links)) {
        spec->paths.push_back(std::move(path));
        labels.push_back(static_cast<int64_t>(c));
      }
  } else {
    if (!fs::is_directory(directory)) throw ValueError(who + "'" + directory + "' is not a directory");
    spec->paths = list_images(directory, options.follow_links);
  }
  if (labeled && options.label_mode == "binary" && class_names.size() != 2)
    throw ValueError(who + "label_mode \"binary\" needs exactly 2 classes, got " + std::to_string(class_names.size()) +
                     " (" + join(class_names) + ")");
  if (spec->paths.empty())
    throw ValueError(who + "no images found in directory '" + directory + "'. Allowed formats: " + join(kAllowedFormats));
  for (const std::string& path : spec->paths) {
    const std::string extension = lowercase_extension(path);
    if (extension == ".bmp" || extension == ".gif")
      throw ValueError(who + "'" + path + "': BMP and GIF images are not supported (only PNG and JPEG are decoded); "
                             "convert or remove it");
  }
  if (options.verbose)
    std::cout << "Found " << spec->paths.size() << " files"
              << (options.labels == "inferred" ? " belonging to " + std::to_string(class_names.size()) + " classes" : "")
              << ".\n";
  if (options.shuffle) {
    uint64_t seed = 0;
    if (options.seed) seed = *options.seed;
    else seed = static_cast<uint64_t>(at::randint(1000000, {1}, generator_for(std::nullopt), at::kLong).item<int64_t>());
    const std::vector<size_t> order = numpy_shuffled_order(spec->paths.size(), seed);
    std::vector<std::string> paths;
    std::vector<int64_t> shuffled_labels;
    for (size_t i : order) {
      paths.push_back(spec->paths[i]);
      if (!labels.empty()) shuffled_labels.push_back(labels[i]);
    }
    spec->paths = std::move(paths);
    labels = std::move(shuffled_labels);
  }
  if (labeled) spec->labels = std::move(labels);
  spec->num_classes = static_cast<int64_t>(class_names.size());
  spec->label_mode = labeled ? options.label_mode : "";
  spec->channels = options.color_mode == "grayscale" ? 1 : options.color_mode == "rgb" ? 3 : 4;
  spec->image_size = options.image_size;
  spec->interpolation = options.interpolation;
  spec->crop_to_aspect_ratio = options.crop_to_aspect_ratio;
  return spec;
}

// Keras' get_training_or_validation_split: the last int(split * n) files are the validation subset.
Dataset subset_dataset(const ImageSpec& all, const ImageDatasetOptions& options, const std::string& subset) {
  auto spec = std::make_shared<ImageSpec>(all);
  if (!subset.empty()) {
    const int64_t n = static_cast<int64_t>(all.paths.size());
    const int64_t num_val = static_cast<int64_t>(options.validation_split * static_cast<double>(n));
    const int64_t begin = subset == "training" ? 0 : n - num_val, end = subset == "training" ? n - num_val : n;
    spec->paths.assign(all.paths.begin() + begin, all.paths.begin() + end);
    if (!all.labels.empty()) spec->labels.assign(all.labels.begin() + begin, all.labels.begin() + end);
    if (options.verbose) std::cout << "Using " << spec->paths.size() << " files for " << subset << ".\n";
    if (spec->paths.empty())
      throw ValueError("image_dataset_from_directory: no " + subset + " images: validation_split " +
                       std::to_string(options.validation_split) + " of " + std::to_string(n) + " files leaves none");
  }
  Dataset dataset(std::make_shared<ImageFilesNode>(std::move(spec)));
  return options.batch_size > 0 ? dataset.batch(options.batch_size) : dataset;
}

}  // namespace

at::Tensor resize_image(const at::Tensor& image, const std::vector<int64_t>& size, const std::string& interpolation,
                        bool crop_to_aspect_ratio) {
  if (image.dim() != 3)
    throw ShapeError("resize_image: expected an image [height, width, channels], got shape " + format_dims(image.sizes()));
  if (size.size() != 2 || size[0] < 1 || size[1] < 1)
    throw ValueError("resize_image: size must be two positive numbers (height, width), got " + format_dims(size));
  at::Tensor x = image.to(at::kFloat);
  if (crop_to_aspect_ratio) {
    // smart_resize's float32 arithmetic, truncated to int as Keras casts.
    const int64_t height = x.size(0), width = x.size(1);
    const int64_t crop_height = std::min<int64_t>(
        height, static_cast<int64_t>(static_cast<float>(width * size[0]) / static_cast<float>(size[1])));
    const int64_t crop_width = std::min<int64_t>(
        width, static_cast<int64_t>(static_cast<float>(height * size[1]) / static_cast<float>(size[0])));
    const int64_t top = static_cast<int64_t>(static_cast<float>(height - crop_height) / 2.0f);
    const int64_t left = static_cast<int64_t>(static_cast<float>(width - crop_width) / 2.0f);
    x = x.slice(0, top, top + crop_height).slice(1, left, left + crop_width);
  }
  at::Tensor nchw = x.permute({2, 0, 1}).unsqueeze(0).contiguous();
  if (interpolation == "bilinear") nchw = at::upsample_bilinear2d(nchw, {size[0], size[1]}, false);
  else if (interpolation == "nearest") nchw = at::_upsample_nearest_exact2d(nchw, {size[0], size[1]});
  else throw ValueError("resize_image: interpolation must be \"bilinear\" or \"nearest\", got \"" + interpolation + "\"");
  return nchw.squeeze(0).permute({1, 2, 0}).contiguous();
}

Dataset image_dataset_from_directory(const std::string& directory, ImageDatasetOptions options) {
  check_options(options);
  if (options.subset == "both")
    throw ValueError("image_dataset_from_directory: subset \"both\" returns two datasets; call "
                     "image_dataset_from_directory_both");
  std::vector<std::string> class_names;
  const auto spec = index_directory(directory, options, class_names);
  return subset_dataset(*spec, options, options.subset);
}

std::pair<Dataset, Dataset> image_dataset_from_directory_both(const std::string& directory, ImageDatasetOptions options) {
  check_options(options);
  if (options.subset != "both")
    throw ValueError("image_dataset_from_directory_both: needs subset = \"both\" (and a validation_split), got \"" +
                     options.subset + "\"");
  std::vector<std::string> class_names;
  const auto spec = index_directory(directory, options, class_names);
  return {subset_dataset(*spec, options, "training"), subset_dataset(*spec, options, "validation")};
}

}  // namespace strata::data
