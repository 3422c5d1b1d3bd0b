#pragma once
// Random image augmentation layers with Keras 3's arguments: RandomFlip, RandomRotation, RandomTranslation
// and RandomZoom. They act only when called with training=true (identity at inference) and draw one transform
// per image. Images are channels_last, batched (batch, height, width, channels) or unbatched (height, width,
// channels); integer images become float32, floating ones keep their dtype.
//
// Rotation, translation and zoom resample through the affine map of TensorFlow's ImageProjectiveTransformV3,
// which Keras' TensorFlow backend runs: output pixel (x, y) reads the input at
// (a0 x + a1 y + a2, b0 x + b1 y + b2). A coordinate outside the image is first mapped by fill_mode:
//   "reflect"  (d c b a | a b c d | d c b a), about the edge of the last pixel
//   "wrap"     (a b c d | a b c d | a b c d)
//   "nearest"  (a a a a | a b c d | d d d d)
//   "constant" (k k k k | a b c d | k k k k), k = fill_value
// with TF's arithmetic (its wrap is exact for shifts up to size - 1 pixels), then read by "bilinear" or
// "nearest" (round half away from zero) interpolation, where a neighbour outside the image reads fill_value.

#include <ATen/core/Generator.h>
#include <strata/core/initializers.h>
#include <strata/layers/layer.h>

#include <optional>
#include <string>

namespace strata::layers {

// A Keras factor: a number f stands for the range (-|f|, |f|), a pair for (lower, upper) (sorted).
// `Factor(0.2)` or `0.2`; `{-0.1, 0.3}`. It remembers which form it was given for get_config.
class Factor {
 public:
  Factor(double value);  // NOLINT: implicit so a plain number reads like Keras
  Factor(double lower, double upper);

  double lower() const { return lower_; }
  double upper() const { return upper_; }
  nlohmann::json to_json() const;
  static Factor from_json(const nlohmann::json& j);

 private:
  double lower_, upper_;
  bool pair_;
  double value_;  // the number given, for a factor given as one number
};

struct RandomFlipOptions {
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

// Flips each image with probability 1/2: "horizontal" (left-right), "vertical" (top-bottom), or
// "horizontal_and_vertical", where one draw per image decides both flips together, as Keras 3 does
// (tf.keras 2 drew the two flips independently).
class RandomFlip : public Layer {
 public:
  explicit RandomFlip(std::string mode = "horizontal_and_vertical", RandomFlipOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static RandomFlip from_config(const nlohmann::json& config);

  const std::string& mode() const { return mode_; }

 private:
  std::string mode_;
  initializers::Seed seed_;
  at::Generator generator_;  // its own stream when seeded: draws differ call to call yet repeat run to run
};

// What the affine augmentation layers share: fill and interpolation arguments, the seeded stream, identity at
// inference and the resampling.
struct AffineAugmentationOptions {
  std::string fill_mode = "reflect";       // "reflect", "wrap", "constant" or "nearest"
  std::string interpolation = "bilinear";  // "bilinear" or "nearest"
  initializers::Seed seed = std::nullopt;
  double fill_value = 0.0;  // read outside the image with fill_mode "constant"
  std::string name = "";
};

class AffineAugmentation : public Layer {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;

  const AffineAugmentationOptions& options() const { return options_; }

 protected:
  AffineAugmentation(std::string class_name, AffineAugmentationOptions options);
  // One row (a0, a1, a2, b0, b1, b2) per image, float64 on the CPU, drawn from `generator`.
  virtual at::Tensor draw_transforms(int64_t batch, int64_t height, int64_t width,
                                     at::Generator& generator) = 0;
  // A range of the layer's factor, checked against [-1, 1] with a message naming the argument.
  void check_factor(const Factor& factor, const std::string& argument) const;
  static AffineAugmentationOptions options_from_config(const nlohmann::json& config);

 private:
  AffineAugmentationOptions options_;
  at::Generator generator_;
};

using RandomRotationOptions = AffineAugmentationOptions;

// Rotates each image about its center by an angle drawn uniformly from [lower, upper] * 2 pi,
// counter-clockwise for positive angles; factor within [-1, 1].
class RandomRotation : public AffineAugmentation {
 public:
  explicit RandomRotation(Factor factor, RandomRotationOptions options = {});

  nlohmann::json get_config() const override;
  static RandomRotation from_config(const nlohmann::json& config);

 protected:
  at::Tensor draw_transforms(int64_t batch, int64_t height, int64_t width, at::Generator& generator) override;

 private:
  Factor factor_;
};

using RandomTranslationOptions = AffineAugmentationOptions;

// Shifts each image by (height, width) fractions drawn uniformly from the factors' ranges (within [-1, 1]);
// a positive shift moves the content down / right. Shifts are not rounded to whole pixels.
class RandomTranslation : public AffineAugmentation {
 public:
  RandomTranslation(Factor height_factor, Factor width_factor, RandomTranslationOptions options = {});

  nlohmann::json get_config() const override;
  static RandomTranslation from_config(const nlohmann::json& config);

 protected:
  at::Tensor draw_transforms(int64_t batch, int64_t height, int64_t width, at::Generator& generator) override;

 private:
  Factor height_factor_, width_factor_;
};

struct RandomZoomOptions {
  std::optional<Factor> width_factor = std::nullopt;  // none: the width zooms by the height's draw
  std::string fill_mode = "reflect";
  std::string interpolation = "bilinear";
  initializers::Seed seed = std::nullopt;
  double fill_value = 0.0;
  std::string name = "";
};

// Zooms each image about its center: the input is read at 1 + f times the distance from the center, f drawn
// from the factor's range (within [-1, 1]); positive f zooms out, negative zooms in.
class RandomZoom : public AffineAugmentation {
 public:
  explicit RandomZoom(Factor height_factor, RandomZoomOptions options = {});

  nlohmann::json get_config() const override;
  static RandomZoom from_config(const nlohmann::json& config);

 protected:
  at::Tensor draw_transforms(int64_t batch, int64_t height, int64_t width, at::Generator& generator) override;

 private:
  Factor height_factor_;
  std::optional<Factor> width_factor_;
};

namespace detail {

// The resampling the affine layers share, also used by data::augment: `images` (batch, height, width,
// channels), floating; `transforms` one row (a0, a1, a2, b0, b1, b2) per image as described at the top.
at::Tensor affine_transform(const at::Tensor& images, const at::Tensor& transforms,
                            const AffineAugmentationOptions& options);
// The rows that rotate each image by angles[i] (radians, float64 [batch]) about its center, as RandomRotation.
at::Tensor rotation_transforms(const at::Tensor& angles, int64_t height, int64_t width);

}  // namespace detail

}  // namespace strata::layers
