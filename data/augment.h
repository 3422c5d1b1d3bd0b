#pragma once
// Image augmentation for input pipelines, to call inside Dataset::map. Images are channels_last: one image
// (height, width, channels) or a batch (batch, height, width, channels); a batch gets one independent draw
// per image, whereas tf.image's random_brightness/contrast/crop draw once for the whole tensor.
//
// Randomness is explicit: every random_* function draws from the at::Generator it is given and from nothing
// else. A pipeline is reproducible however many threads map() runs on, and in whatever order they finish,
// when each element's generator is derived from (seed, key of the element) rather than shared: element_keys()
// gives every element a key, seeded() turns a function of (element, generator) into a MapFunction that seeds
// a fresh generator from the seed and that key.
//
//   auto train = data::augment::element_keys(data::Dataset::from_tensor_slices({x, y}))
//                    .map(data::augment::seeded(42, [](data::Element e, at::Generator& g) {
//                           e[0] = augment::random_flip_left_right(e[0], g);
//                           e[0] = augment::random_crop(e[0], 24, 24, g);
//                           return e;
//                         }),
//                         {.num_parallel_calls = 4})
//                    .batch(64);
//
// enumerate() keys work with seeded() too, but then every pass (epoch) repeats the same augmentation;
// element_keys() changes the keys on every pass, so each epoch sees new draws and a rerun sees the same ones.
//
// The preprocessing layers (layers::RandomFlip, RandomRotation, Rescaling, ...) can be called in map as
// well (`layer.call(x, /*training=*/true)`), but a random layer draws from its own generator: concurrent
// calls are safe (the generator locks) yet take the draws in thread order, so with num_parallel_calls > 0
// the result is not reproducible. Use them with map on the consuming thread, or use these functions.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <strata/data/dataset.h>

#include <cstdint>
#include <functional>
#include <string>

namespace strata::data::augment {

// ----- deterministic transforms

at::Tensor flip_left_right(const at::Tensor& images);  // reverses the width axis
at::Tensor flip_up_down(const at::Tensor& images);     // reverses the height axis

// The window of `height` x `width` pixels whose top-left pixel is (top, left), as tf.image.crop_to_bounding_box.
at::Tensor crop(const at::Tensor& images, int64_t top, int64_t left, int64_t height, int64_t width);

struct RotationOptions {
  std::string fill_mode = "reflect";       // "reflect", "wrap", "constant" or "nearest", as RandomRotation
  std::string interpolation = "bilinear";  // or "nearest"
  double fill_value = 0.0;                 // read outside the image with fill_mode "constant"
};

// Rotates counter-clockwise by `angle` radians about the image center, resampling exactly as
// layers::RandomRotation does (floating images only).
at::Tensor rotate(const at::Tensor& images, double angle, const RotationOptions& options = {});

// tf.image.adjust_brightness for floating images: images + delta (no clipping).
at::Tensor adjust_brightness(const at::Tensor& images, double delta);

// tf.image.adjust_contrast: per image and channel, (x - mean) * contrast_factor + mean, the mean taken over
// the pixels (floating images only).
at::Tensor adjust_contrast(const at::Tensor& images, double contrast_factor);

// ----- random transforms: draws come from `generator` only, one per image

// Each image flipped with probability 1/2 (tf.image.random_flip_left_right / _up_down).
at::Tensor random_flip_left_right(const at::Tensor& images, at::Generator& generator);
at::Tensor random_flip_up_down(const at::Tensor& images, at::Generator& generator);

// A height x width window at a uniformly drawn position (tf.image.random_crop with the channels kept).
at::Tensor random_crop(const at::Tensor& images, int64_t height, int64_t width, at::Generator& generator);

// Rotation by an angle drawn uniformly from [lower, upper] * 2 pi, as Keras' RandomRotation(factor =
// (lower, upper)); random_rotation(x, 0.1, ...) stands for factor 0.1, i.e. (-0.1, 0.1).
at::Tensor random_rotation(const at::Tensor& images, double lower, double upper, at::Generator& generator,
                           const RotationOptions& options = {});
at::Tensor random_rotation(const at::Tensor& images, double factor, at::Generator& generator,
                           const RotationOptions& options = {});

// adjust_brightness by a delta drawn uniformly from [-max_delta, max_delta] (tf.image.random_brightness).
at::Tensor random_brightness(const at::Tensor& images, double max_delta, at::Generator& generator);

// adjust_contrast by a factor drawn uniformly from [lower, upper], 0 <= lower < upper
// (tf.image.random_contrast).
at::Tensor random_contrast(const at::Tensor& images, double lower, double upper, at::Generator& generator);

// ----- per-element randomness for map()

// A fresh generator whose stream depends only on (seed, key): the same pair always gives the same draws,
// different keys give unrelated streams.
at::Generator element_generator(uint64_t seed, int64_t key);

// Prepends an int64 scalar key to every element. The keys are distinct across elements and passes:
// element i of the dataset's p-th pass (counted from 0, in the order make_iterator() is called) gets
// p * 2^40 + i. Cardinality is the input's.
Dataset element_keys(const Dataset& input);

using RandomMapFunction = std::function<Element(Element, at::Generator&)>;

// A MapFunction for elements that start with an int64 scalar key (from element_keys() or enumerate()): it
// removes the key and returns function(rest, element_generator(seed, key)). Safe to run on several threads.
Dataset::MapFunction seeded(uint64_t seed, RandomMapFunction function);

}  // namespace strata::data::augment
