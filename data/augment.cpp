// Image augmentation functions and the per-element seeding that keeps them reproducible under parallel map.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/augment.h>
#include <strata/layers/image_augmentation.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace strata::data::augment {
namespace {

// The images as a batch (batch, height, width, channels); `unbatched` tells the caller to squeeze it back.
at::Tensor as_batch(const std::string& who, const at::Tensor& images, bool& unbatched) {
  if (!images.defined() || (images.dim() != 3 && images.dim() != 4))
    throw ShapeError("augment::" + who +
                     ": expected an image (height, width, channels) or a batch (batch, height, width, channels), "
                     "got " + (images.defined() ? "shape " + format_dims(images.sizes()) : std::string("an undefined tensor")));
  unbatched = images.dim() == 3;
  return unbatched ? images.unsqueeze(0) : images;
}

void require_floating(const std::string& who, const at::Tensor& images) {
  if (!at::isFloatingType(images.scalar_type()))
    throw ValueError("augment::" + who + ": expected floating images, got " +
                     std::string(c10::toString(images.scalar_type())) + " (convert with .to(at::kFloat) first)");
}

// Call it after as_batch() has set `unbatched`, never in the same expression (argument order is unspecified).
at::Tensor restore(const at::Tensor& batch, bool unbatched) { return unbatched ? batch.squeeze(0) : batch; }

// One uniform draw in [lower, upper) per image, float64 on the CPU.
at::Tensor uniform(int64_t n, double lower, double upper, at::Generator& generator) {
  return at::empty({n}, at::kDouble).uniform_(lower, upper, generator);
}

// Per image: x where the image's draw is false, flipped(x) where it is true.
at::Tensor flip_where(const at::Tensor& batch, int64_t dim, at::Generator& generator) {
  const int64_t n = batch.size(0);
  const at::Tensor flips = uniform(n, 0.0, 1.0, generator).lt(0.5).view({n, 1, 1, 1}).to(batch.device());
  return at::where(flips, batch.flip({dim}), batch);
}

at::Tensor rotate_by(const std::string& who, const at::Tensor& batch, const at::Tensor& angles,
                     const RotationOptions& options) {
  const std::string& fill = options.fill_mode;
  if (fill != "reflect" && fill != "wrap" && fill != "constant" && fill != "nearest")
    throw ValueError("augment::" + who + ": expected fill_mode \"reflect\", \"wrap\", \"constant\" or \"nearest\", got \"" +
                     fill + "\"");
  if (options.interpolation != "bilinear" && options.interpolation != "nearest")
    throw ValueError("augment::" + who + ": expected interpolation \"bilinear\" or \"nearest\", got \"" +
                     options.interpolation + "\"");
  const at::Tensor transforms = layers::detail::rotation_transforms(angles, batch.size(1), batch.size(2));
  return layers::detail::affine_transform(
      batch, transforms,
      {.fill_mode = fill, .interpolation = options.interpolation, .fill_value = options.fill_value});
}

// Per image and channel: (x - mean) * factor + mean; `factors` has one entry per image.
at::Tensor contrast_by(const at::Tensor& batch, const at::Tensor& factors) {
  const at::Tensor mean = batch.mean({1, 2}, /*keepdim=*/true);
  return (batch - mean) * factors.to(batch.options()).view({-1, 1, 1, 1}) + mean;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

constexpr int64_t kPassStride = int64_t{1} << 40;

class ElementKeysNode : public DatasetNode {
 public:
  explicit ElementKeysNode(Dataset input) : input_(std::move(input)) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class KeysIterator : public Iterator {
     public:
      KeysIterator(std::unique_ptr<Iterator> input, int64_t first_key)
          : input_(std::move(input)), key_(first_key) {}
      std::optional<Element> next() override {
        std::optional<Element> element = input_->next();
        if (!element) return std::nullopt;
        element->insert(element->begin(), at::scalar_tensor(key_++, at::kLong));
        return element;
      }

     private:
      std::unique_ptr<Iterator> input_;
      int64_t key_;
    };
    const int64_t pass = passes_.fetch_add(1);
    return std::make_unique<KeysIterator>(input_.make_iterator(), pass * kPassStride);
  }
  int64_t cardinality() const override { return input_.cardinality(); }
  std::string describe() const override { return "augment::element_keys"; }

 private:
  Dataset input_;
  mutable std::atomic<int64_t> passes_{0};  // which pass the next iterator makes; the node is otherwise immutable
};

}  // namespace

at::Tensor flip_left_right(const at::Tensor& images) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("flip_left_right", images, unbatched);
  return restore(batch.flip({2}), unbatched);
}

at::Tensor flip_up_down(const at::Tensor& images) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("flip_up_down", images, unbatched);
  return restore(batch.flip({1}), unbatched);
}

at::Tensor crop(const at::Tensor& images, int64_t top, int64_t left, int64_t height, int64_t width) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("crop", images, unbatched);
  if (height <= 0 || width <= 0 || top < 0 || left < 0 || top + height > batch.size(1) ||
      left + width > batch.size(2))
    throw ValueError("augment::crop: the window at (top " + std::to_string(top) + ", left " + std::to_string(left) +
                     ") of " + std::to_string(height) + "x" + std::to_string(width) +
                     " pixels must be non-empty and lie inside the " + std::to_string(batch.size(1)) + "x" +
                     std::to_string(batch.size(2)) + " image");
  return restore(batch.narrow(1, top, height).narrow(2, left, width), unbatched);
}

at::Tensor rotate(const at::Tensor& images, double angle, const RotationOptions& options) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("rotate", images, unbatched);
  require_floating("rotate", batch);
  return restore(rotate_by("rotate", batch, at::full({batch.size(0)}, angle, at::kDouble), options), unbatched);
}

at::Tensor adjust_brightness(const at::Tensor& images, double delta) {
  bool unbatched = false;
  require_floating("adjust_brightness", as_batch("adjust_brightness", images, unbatched));
  return images + delta;
}

at::Tensor adjust_contrast(const at::Tensor& images, double contrast_factor) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("adjust_contrast", images, unbatched);
  require_floating("adjust_contrast", batch);
  return restore(contrast_by(batch, at::full({batch.size(0)}, contrast_factor, at::kDouble)), unbatched);
}

at::Tensor random_flip_left_right(const at::Tensor& images, at::Generator& generator) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("random_flip_left_right", images, unbatched);
  return restore(flip_where(batch, 2, generator), unbatched);
}

at::Tensor random_flip_up_down(const at::Tensor& images, at::Generator& generator) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("random_flip_up_down", images, unbatched);
  return restore(flip_where(batch, 1, generator), unbatched);
}

at::Tensor random_crop(const at::Tensor& images, int64_t height, int64_t width, at::Generator& generator) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("random_crop", images, unbatched);
  const int64_t n = batch.size(0), spare_rows = batch.size(1) - height, spare_columns = batch.size(2) - width;
  if (height <= 0 || width <= 0 || spare_rows < 0 || spare_columns < 0)
    throw ValueError("augment::random_crop: expected a crop size within the " + std::to_string(batch.size(1)) + "x" +
                     std::to_string(batch.size(2)) + " image, got " + std::to_string(height) + "x" +
                     std::to_string(width));
  // Offsets uniform over the spare rows and columns, as tf.image.random_crop draws them.
  const at::Tensor tops = at::randint(0, spare_rows + 1, {n}, generator, at::kLong);
  const at::Tensor lefts = at::randint(0, spare_columns + 1, {n}, generator, at::kLong);
  const auto* top = tops.data_ptr<int64_t>();
  const auto* left = lefts.data_ptr<int64_t>();
  std::vector<at::Tensor> windows;
  windows.reserve(n);
  for (int64_t i = 0; i < n; ++i) windows.push_back(batch[i].narrow(0, top[i], height).narrow(1, left[i], width));
  return restore(at::stack(windows), unbatched);
}

at::Tensor random_rotation(const at::Tensor& images, double lower, double upper, at::Generator& generator,
                           const RotationOptions& options) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("random_rotation", images, unbatched);
  require_floating("random_rotation", batch);
  const double turn = 2.0 * std::numbers::pi;
  const at::Tensor angles = uniform(batch.size(0), std::min(lower, upper) * turn, std::max(lower, upper) * turn, generator);
  return restore(rotate_by("random_rotation", batch, angles, options), unbatched);
}

at::Tensor random_rotation(const at::Tensor& images, double factor, at::Generator& generator,
                           const RotationOptions& options) {
  return random_rotation(images, -std::abs(factor), std::abs(factor), generator, options);
}

at::Tensor random_brightness(const at::Tensor& images, double max_delta, at::Generator& generator) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("random_brightness", images, unbatched);
  require_floating("random_brightness", batch);
  if (!(max_delta >= 0))
    throw ValueError("augment::random_brightness: max_delta must be >= 0, got " + std::to_string(max_delta));
  const at::Tensor deltas = uniform(batch.size(0), -max_delta, max_delta, generator);
  return restore(batch + deltas.to(batch.options()).view({-1, 1, 1, 1}), unbatched);
}

at::Tensor random_contrast(const at::Tensor& images, double lower, double upper, at::Generator& generator) {
  bool unbatched = false;
  const at::Tensor batch = as_batch("random_contrast", images, unbatched);
  require_floating("random_contrast", batch);
  if (!(lower >= 0) || !(upper > lower))
    throw ValueError("augment::random_contrast: expected 0 <= lower < upper, got lower " + std::to_string(lower) +
                     ", upper " + std::to_string(upper));
  return restore(contrast_by(batch, uniform(batch.size(0), lower, upper, generator)), unbatched);
}

at::Generator element_generator(uint64_t seed, int64_t key) {
  return at::detail::createCPUGenerator(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(key)));
}

Dataset element_keys(const Dataset& input) { return Dataset(std::make_shared<ElementKeysNode>(input)); }

Dataset::MapFunction seeded(uint64_t seed, RandomMapFunction function) {
  if (!function) throw ValueError("augment::seeded: expected a function, got an empty one");
  return [seed, function = std::move(function)](Element element) {
    if (element.empty() || !element[0].defined() || element[0].dim() != 0 ||
        element[0].scalar_type() != at::kLong)
      throw ValueError(
          "augment::seeded: expected elements that start with an int64 scalar key (from augment::element_keys() "
          "or enumerate()), got " +
          (element.empty() || !element[0].defined()
               ? std::string("none")
               : std::string(c10::toString(element[0].scalar_type())) + " " + format_dims(element[0].sizes())));
    at::Generator generator = element_generator(seed, element[0].item<int64_t>());
    element.erase(element.begin());
    return function(std::move(element), generator);
  };
}

}  // namespace strata::data::augment
