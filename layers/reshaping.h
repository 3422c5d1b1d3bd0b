#pragma once
// Layers that only rearrange values (the batch dimension is always kept): Flatten, Reshape, Permute,
// RepeatVector, and on channels_last inputs ZeroPadding1D/2D/3D, Cropping1D/2D/3D and UpSampling1D/2D/3D.
// As with the convolution layers, data_format "channels_first" is refused with a clear error.

#include <strata/layers/layer.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace strata::layers {

// (batch, d1, d2, ...) -> (batch, d1 * d2 * ...); a rank-1 input becomes (batch, 1).
class Flatten : public Layer {
 public:
  explicit Flatten(std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Flatten from_config(const nlohmann::json& config);
};

// (batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1 and is inferred.
class Reshape : public Layer {
 public:
  explicit Reshape(Shape target_shape, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Reshape from_config(const nlohmann::json& config);

 private:
  // The target shape with its -1 resolved for `values_per_sample`; throws when it cannot fit.
  Shape resolve_target(int64_t values_per_sample, const std::string& input_description) const;

  Shape target_shape_;
};

// (batch, d1, ..., dn) -> the axes reordered by `dims`, a permutation of 1..n (1-based, batch excluded).
class Permute : public Layer {
 public:
  explicit Permute(std::vector<int64_t> dims, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static Permute from_config(const nlohmann::json& config);

  const std::vector<int64_t>& dims() const { return dims_; }

 private:
  std::vector<int64_t> dims_;
};

// (batch, features) -> (batch, n, features).
class RepeatVector : public Layer {
 public:
  explicit RepeatVector(int64_t n, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static RepeatVector from_config(const nlohmann::json& config);

  int64_t n() const { return n_; }

 private:
  int64_t n_;
};

using SidePair = std::pair<int64_t, int64_t>;  // (before, after) along one spatial axis

// Padding or cropping amounts in the forms Keras accepts: `1` (every side of every axis), one int per axis
// for both its sides (`{1, 2}` on a 2-D layer; a 1-D layer reads two ints as (before, after)), or one
// (before, after) pair per axis (`{{1, 2}, {3, 4}}`).
class SidePairs {
 public:
  SidePairs(int64_t value) : flat_{value} {}                           // NOLINT: Keras' int form
  SidePairs(std::initializer_list<int64_t> values) : flat_(values) {}  // NOLINT
  SidePairs(std::initializer_list<SidePair> pairs) : pairs_(pairs) {}  // NOLINT
  // An int, a list of ints or a list of pairs from a Keras config.
  static SidePairs from_json(const nlohmann::json& value);
  // One non-negative pair per spatial axis; throws ValueError naming `who` and `what` otherwise.
  std::vector<SidePair> resolve(const std::string& who, const std::string& what, int64_t rank) const;

 private:
  SidePairs() = default;
  std::vector<int64_t> flat_;
  std::vector<SidePair> pairs_;
};

// An int or one int per spatial axis (UpSampling's size): `2` or `{2, 3}`.
class SpatialSizes {
 public:
  SpatialSizes(int64_t value) : values_{value} {}                           // NOLINT: Keras' int form
  SpatialSizes(std::initializer_list<int64_t> values) : values_(values) {}  // NOLINT
  explicit SpatialSizes(std::vector<int64_t> values) : values_(std::move(values)) {}
  const std::vector<int64_t>& values() const { return values_; }

 private:
  std::vector<int64_t> values_;
};

// Keyword arguments of the padding and cropping layers (1-D ones have no data_format in tf.keras; it is
// accepted here for uniformity and must be channels_last).
struct SpatialOptions {
  std::string data_format = "channels_last";
  std::string name = "";
};

// Zeros added before and after each spatial axis of a (batch, spatial..., channels) input.
class ZeroPadding : public Layer {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  int64_t rank() const { return rank_; }
  const std::vector<SidePair>& padding() const { return padding_; }

 protected:
  ZeroPadding(int64_t rank, const SidePairs& padding, SpatialOptions options);

  struct Arguments {
    SidePairs padding;
    SpatialOptions options;
  };
  // padding (default 1), data_format and name from a Keras config.
  static Arguments parse_config(const nlohmann::json& config);

 private:
  int64_t rank_;
  std::vector<SidePair> padding_;
};

template <int64_t Rank>
class ZeroPaddingND : public ZeroPadding {
 public:
  explicit ZeroPaddingND(SidePairs padding = 1, SpatialOptions options = {})
      : ZeroPadding(Rank, padding, std::move(options)) {}
  // The pairs form has its own overload: an initializer_list parameter wins overload resolution, so
  // `{{1, 1}, {0, 0}}` is never read as (padding, options) through the move constructor.
  explicit ZeroPaddingND(std::initializer_list<SidePair> padding, SpatialOptions options = {})
      : ZeroPadding(Rank, SidePairs(padding), std::move(options)) {}

  static ZeroPaddingND from_config(const nlohmann::json& config) {
    Arguments args = parse_config(config);
    ZeroPaddingND layer(args.padding, std::move(args.options));
    layer.apply_base_config(config);
    return layer;
  }
};

using ZeroPadding1D = ZeroPaddingND<1>;
using ZeroPadding2D = ZeroPaddingND<2>;
using ZeroPadding3D = ZeroPaddingND<3>;

// Removes elements before and after each spatial axis; at least one must remain on every axis.
class Cropping : public Layer {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  int64_t rank() const { return rank_; }
  const std::vector<SidePair>& cropping() const { return cropping_; }

 protected:
  Cropping(int64_t rank, const SidePairs& cropping, SpatialOptions options);

  struct Arguments {
    SidePairs cropping;
    SpatialOptions options;
  };
  // cropping (default for `rank`), data_format and name from a Keras config.
  static Arguments parse_config(const nlohmann::json& config, int64_t rank);
  // Keras' defaults: (1, 1) for 1-D, ((0, 0), (0, 0)) for 2-D, ((1, 1), (1, 1), (1, 1)) for 3-D.
  static int64_t default_cropping(int64_t rank) { return rank == 2 ? 0 : 1; }

 private:
  int64_t rank_;
  std::vector<SidePair> cropping_;
};

template <int64_t Rank>
class CroppingND : public Cropping {
 public:
  explicit CroppingND(SidePairs cropping = default_cropping(Rank), SpatialOptions options = {})
      : Cropping(Rank, cropping, std::move(options)) {}
  // See ZeroPaddingND: `{{1, 1}, {0, 0}}` must pick the pairs form.
  explicit CroppingND(std::initializer_list<SidePair> cropping, SpatialOptions options = {})
      : Cropping(Rank, SidePairs(cropping), std::move(options)) {}

  static CroppingND from_config(const nlohmann::json& config) {
    Arguments args = parse_config(config, Rank);
    CroppingND layer(args.cropping, std::move(args.options));
    layer.apply_base_config(config);
    return layer;
  }
};

using Cropping1D = CroppingND<1>;
using Cropping2D = CroppingND<2>;
using Cropping3D = CroppingND<3>;

struct UpSamplingOptions {
  std::string data_format = "channels_last";
  std::string interpolation = "nearest";  // UpSampling2D only: "nearest" or "bilinear"
  std::string name = "";
};

// Repeats each position `size` times along each spatial axis ("nearest"), or for UpSampling2D with
// "bilinear" resizes like tf.image.resize (half-pixel centers, no antialiasing).
class UpSampling : public Layer {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  int64_t rank() const { return rank_; }
  const std::vector<int64_t>& size() const { return size_; }
  const std::string& interpolation() const { return interpolation_; }

 protected:
  UpSampling(int64_t rank, const SpatialSizes& size, UpSamplingOptions options);

  struct Arguments {
    SpatialSizes size;
    UpSamplingOptions options;
  };
  // size (default 2), data_format, interpolation and name from a Keras config.
  static Arguments parse_config(const nlohmann::json& config);

 private:
  int64_t rank_;
  std::vector<int64_t> size_;
  std::string interpolation_;
};

template <int64_t Rank>
class UpSamplingND : public UpSampling {
 public:
  explicit UpSamplingND(SpatialSizes size = 2, UpSamplingOptions options = {})
      : UpSampling(Rank, size, std::move(options)) {}

  static UpSamplingND from_config(const nlohmann::json& config) {
    Arguments args = parse_config(config);
    UpSamplingND layer(args.size, std::move(args.options));
    layer.apply_base_config(config);
    return layer;
  }
};

using UpSampling1D = UpSamplingND<1>;
using UpSampling2D = UpSamplingND<2>;
using UpSampling3D = UpSamplingND<3>;

}  // namespace strata::layers
