#pragma once
// Pooling layers with Keras' semantics: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the global
// GlobalMaxPooling1D/2D/3D, GlobalAveragePooling1D/2D/3D. Inputs are channels_last by default (NWC, NHWC,
// NDHWC, as Keras); internally ATen's channels-first pooling kernels run on a permuted view.
//
// padding "same" follows TensorFlow: the output has ceil(in / stride) positions, the total padding is
// max((out - 1) * stride + pool - in, 0), and the odd element goes on the right (bottom, back). Max pooling
// pads with -inf; average pooling averages over the valid (non-padded) elements only.
//
// One implementation serves every rank: `Pooling` / `GlobalPooling` hold the code, and the Keras classes
// are the aliases at the end of this file (`PoolingND<rank, mode>`), which only fix rank, mode and name.

#include <strata/layers/layer.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::layers {

enum class PoolMode { kMax, kAverage };

// Keras' arguments after pool_size, in Keras' order.
struct PoolingOptions {
  std::vector<int64_t> strides = {};          // empty: equal to pool_size; one value: the same on every axis
  std::string padding = "valid";              // "valid" or "same" (case-insensitive, as Keras)
  std::string data_format = "channels_last";  // or "channels_first" (NCW, NCHW, NCDHW)
  std::string name = "";
};

class Pooling : public Layer {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  int64_t rank() const { return rank_; }  // number of spatial axes: 1, 2 or 3
  PoolMode mode() const { return mode_; }
  const std::vector<int64_t>& pool_size() const { return pool_size_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  const std::string& data_format() const { return data_format_; }

 protected:
  // An empty pool_size means Keras' default (2 on every axis); a single value applies to every axis.
  Pooling(int64_t rank, PoolMode mode, std::vector<int64_t> pool_size, PoolingOptions options);

  struct Arguments {
    std::vector<int64_t> pool_size;
    PoolingOptions options;
  };
  // pool_size (int or list), strides (null, int or list), padding, data_format and name from a Keras config.
  static Arguments parse_config(const nlohmann::json& config);

 private:
  int64_t rank_;
  PoolMode mode_;
  std::vector<int64_t> pool_size_;
  std::vector<int64_t> strides_;
  std::string padding_;
  std::string data_format_;
};

template <int64_t Rank, PoolMode Mode>
class PoolingND : public Pooling {
 public:
  explicit PoolingND(std::vector<int64_t> pool_size = {}, PoolingOptions options = {})
      : Pooling(Rank, Mode, std::move(pool_size), std::move(options)) {}

  static PoolingND from_config(const nlohmann::json& config) {
    Arguments args = parse_config(config);
    PoolingND layer(std::move(args.pool_size), std::move(args.options));
    layer.apply_base_config(config);
    return layer;
  }
};

using MaxPooling1D = PoolingND<1, PoolMode::kMax>;
using MaxPooling2D = PoolingND<2, PoolMode::kMax>;
using MaxPooling3D = PoolingND<3, PoolMode::kMax>;
using AveragePooling1D = PoolingND<1, PoolMode::kAverage>;
using AveragePooling2D = PoolingND<2, PoolMode::kAverage>;
using AveragePooling3D = PoolingND<3, PoolMode::kAverage>;

struct GlobalPoolingOptions {
  std::string data_format = "channels_last";  // or "channels_first"
  bool keepdims = false;                      // true keeps the spatial axes with size 1
  std::string name = "";
};

// Max or mean over every spatial axis: (batch, spatial..., channels) -> (batch, channels).
class GlobalPooling : public Layer {
 public:
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  // GlobalAveragePooling1D averages only the timesteps its mask (batch, steps) keeps, as Keras does; the
  // output carries no mask.
  Tensors call_many(const Tensors& inputs, const Tensors& masks, bool training) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;

  int64_t rank() const { return rank_; }
  PoolMode mode() const { return mode_; }
  const std::string& data_format() const { return data_format_; }
  bool keepdims() const { return keepdims_; }

 protected:
  GlobalPooling(int64_t rank, PoolMode mode, GlobalPoolingOptions options);
  static GlobalPoolingOptions parse_config(const nlohmann::json& config);

 private:
  int64_t rank_;
  PoolMode mode_;
  std::string data_format_;
  bool keepdims_;
};

template <int64_t Rank, PoolMode Mode>
class GlobalPoolingND : public GlobalPooling {
 public:
  explicit GlobalPoolingND(GlobalPoolingOptions options = {}) : GlobalPooling(Rank, Mode, std::move(options)) {}

  static GlobalPoolingND from_config(const nlohmann::json& config) {
    GlobalPoolingND layer(parse_config(config));
    layer.apply_base_config(config);
    return layer;
  }
};

using GlobalMaxPooling1D = GlobalPoolingND<1, PoolMode::kMax>;
using GlobalMaxPooling2D = GlobalPoolingND<2, PoolMode::kMax>;
using GlobalMaxPooling3D = GlobalPoolingND<3, PoolMode::kMax>;
using GlobalAveragePooling1D = GlobalPoolingND<1, PoolMode::kAverage>;
using GlobalAveragePooling2D = GlobalPoolingND<2, PoolMode::kAverage>;
using GlobalAveragePooling3D = GlobalPoolingND<3, PoolMode::kAverage>;

}  // namespace strata::layers
