#pragma once
// Preprocessing layers that run inside the model, with Keras 3's arguments and numerics: Rescaling,
// Normalization (with adapt()), CenterCrop and Resizing. Images are channels_last, batched
// (batch, height, width, channels) or unbatched (height, width, channels), as Keras accepts both.

#include <strata/layers/layer.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::layers {

struct RescalingOptions {
  double offset = 0.0;
  std::string name = "";
};

// inputs * scale + offset, e.g. Rescaling(1.0 / 255) maps [0, 255] pixels to [0, 1]. Integer inputs become
// float32; floating inputs keep their dtype.
class Rescaling : public Layer {
 public:
  explicit Rescaling(double scale, RescalingOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static Rescaling from_config(const nlohmann::json& config);

  double scale() const { return scale_; }
  double offset() const { return options_.offset; }

 private:
  double scale_;
  RescalingOptions options_;
};

struct NormalizationOptions {
  // The axes that keep their own mean and variance; every other axis is reduced. Empty is Keras' axis=None:
  // one scalar mean and variance.
  std::vector<int64_t> axis = {-1};
  at::Tensor mean = {};      // given with variance, or left undefined for adapt() to learn
  at::Tensor variance = {};  // broadcast like mean: right-aligned against the kept axes
  bool invert = false;       // mean + x * std instead of (x - mean) / std
  std::string name = "";
};

// (x - mean) / max(sqrt(variance), 1e-7), Keras' backend epsilon, per index of the kept axes.
//
// Without mean and variance the layer creates Keras' three non-trainable weights at build: mean and
// variance (the kept axes' sizes, initialised to zeros and ones) and count (a scalar Keras 3 keeps only for
// old files and leaves 0; float32 here, int64 in Keras). adapt(data) builds the layer from data's shape if
// needed and sets mean and the biased variance of data over every axis but the kept ones, computed in
// float64. Before adapt() (or loading weights) the layer computes with the initial zeros and ones, i.e. the
// identity, as Keras does: a Sequential with an Input runs a forward pass when it is built, before the user
// can adapt. Given mean and variance are constants, not weights, as in Keras.
class Normalization : public Layer {
 public:
  explicit Normalization(NormalizationOptions options = {});

  // Learns mean and variance from `data` (a tensor holding the whole data set, batch axis first).
  void adapt(const at::Tensor& data);

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static Normalization from_config(const nlohmann::json& config);

  // The statistics in the kept axes' shape (the weights, or the given values broadcast); undefined before
  // build.
  at::Tensor mean() const;
  at::Tensor variance() const;

 protected:
  void build(const Shape& input_shape) override;

 private:
  NormalizationOptions options_;
  std::vector<int64_t> keep_axes_;  // sorted, non-negative
  std::vector<int64_t> reduce_axes_;
  std::vector<int64_t> broadcast_shape_;  // the input's rank, 1 on reduced axes
  Shape kept_shape_;
  at::Tensor mean_, variance_;  // weights after build, or the given values in the kept axes' shape
};

struct CenterCropOptions {
  std::string name = "";
};

// The central height x width window (start = (size - target) / 2, rounded down). An image smaller than the
// target on either side is instead cropped to the target's aspect ratio and resized bilinearly, as Keras 3's
// smart_resize does.
class CenterCrop : public Layer {
 public:
  CenterCrop(int64_t height, int64_t width, CenterCropOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static CenterCrop from_config(const nlohmann::json& config);

 private:
  int64_t height_, width_;
};

struct ResizingOptions {
  std::string interpolation = "bilinear";  // "bilinear" or "nearest"
  bool crop_to_aspect_ratio = false;       // first crop the largest central window of the target's ratio
  bool pad_to_aspect_ratio = false;        // or first pad both sides evenly to the target's ratio
  std::string fill_mode = "constant";      // the padding; Keras supports only "constant"
  double fill_value = 0.0;
  std::string name = "";
};

// Resizes images as tf.image.resize does without antialiasing: half-pixel centers, bilinear
// (ATen's upsample_bilinear2d, align_corners=false) or nearest, which picks floor((i + 0.5) * in / out)
// (ATen's nearest-exact). The output is float32 for integer inputs, the input's dtype otherwise.
class Resizing : public Layer {
 public:
  Resizing(int64_t height, int64_t width, ResizingOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Resizing from_config(const nlohmann::json& config);

 private:
  int64_t height_, width_;
  ResizingOptions options_;
};

namespace detail {
// Checks that `inputs` is an image tensor of rank 3 or 4 for the layer `who` and returns it batched
// (rank 4) and floating (integers become float32); `unbatched` tells the caller to drop the batch again.
at::Tensor image_batch(const std::string& who, const at::Tensor& inputs, bool& unbatched);
// Throws unless the config's data_format, when present, is channels_last, the only layout Strata reads.
void require_channels_last(const std::string& class_name, const nlohmann::json& config);
}  // namespace detail

}  // namespace strata::layers
