#pragma once
// Keras' regularization layers: Dropout, SpatialDropout1D/2D/3D, GaussianDropout, GaussianNoise,
// AlphaDropout and ActivityRegularization. The random ones act only when called with training=true
// (identity at inference) and draw from their own generator when given a seed, so their noise differs
// step to step yet repeats run to run. All of them pass a Keras mask through unchanged.

#include <ATen/core/Generator.h>
#include <strata/core/initializers.h>
#include <strata/layers/layer.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::layers {

struct DropoutOptions {
  // The shape of the keep mask, broadcast against the input (e.g. {kNone, 1, kNone} drops the same
  // features at every timestep); kNone entries take the input's size. Empty: the input's shape.
  std::vector<int64_t> noise_shape = {};
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

// While training, zeroes each input (or each slice of noise_shape) with probability `rate` and scales the
// rest by 1 / (1 - rate) so the expected sum is unchanged; at inference it passes inputs through.
class Dropout : public Layer {
 public:
  explicit Dropout(double rate, DropoutOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static Dropout from_config(const nlohmann::json& config);

  double rate() const { return rate_; }
  const std::vector<int64_t>& noise_shape() const { return noise_shape_; }

 protected:
  Dropout(std::string class_name, double rate, DropoutOptions options);
  // The keep mask's shape for `inputs`; empty means the inputs' own shape.
  virtual std::vector<int64_t> noise_shape_for(const at::Tensor& inputs) const;

  initializers::Seed seed_;

 private:
  double rate_;
  std::vector<int64_t> noise_shape_;
  at::Generator generator_;
};

struct SpatialDropout1DOptions {
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

struct SpatialDropoutOptions {
  std::string data_format = "channels_last";  // or "channels_first"
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

// Dropout of whole feature maps: one keep decision per (sample, channel), shared over every spatial
// position, for inputs (batch, steps, channels), (batch, rows, cols, channels) or (batch, d1, d2, d3,
// channels) (channels second with channels_first).
class SpatialDropout : public Dropout {
 public:
  nlohmann::json get_config() const override;
  const std::string& data_format() const { return data_format_; }

 protected:
  SpatialDropout(std::string class_name, int64_t rank, double rate, std::string data_format,
                 initializers::Seed seed, std::string name);
  std::vector<int64_t> noise_shape_for(const at::Tensor& inputs) const override;
  // Options read from a Keras config (rate is read by the caller).
  static SpatialDropoutOptions options_from_config(const nlohmann::json& config);

 private:
  int64_t rank_;  // spatial axes
  std::string data_format_;
};

class SpatialDropout1D : public SpatialDropout {
 public:
  explicit SpatialDropout1D(double rate, SpatialDropout1DOptions options = {});
  static SpatialDropout1D from_config(const nlohmann::json& config);
};

class SpatialDropout2D : public SpatialDropout {
 public:
  explicit SpatialDropout2D(double rate, SpatialDropoutOptions options = {});
  static SpatialDropout2D from_config(const nlohmann::json& config);
};

class SpatialDropout3D : public SpatialDropout {
 public:
  explicit SpatialDropout3D(double rate, SpatialDropoutOptions options = {});
  static SpatialDropout3D from_config(const nlohmann::json& config);
};

struct GaussianOptions {
  initializers::Seed seed = std::nullopt;
  std::string name = "";
};

// While training, multiplies the inputs by noise drawn from N(1, rate / (1 - rate)) (the variance of
// Dropout's scaled keep mask); identity at inference.
class GaussianDropout : public Layer {
 public:
  explicit GaussianDropout(double rate, GaussianOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static GaussianDropout from_config(const nlohmann::json& config);

  double rate() const { return rate_; }

 private:
  double rate_;
  initializers::Seed seed_;
  at::Generator generator_;
};

// While training, adds noise drawn from N(0, stddev^2); identity at inference.
class GaussianNoise : public Layer {
 public:
  explicit GaussianNoise(double stddev, GaussianOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static GaussianNoise from_config(const nlohmann::json& config);

  double stddev() const { return stddev_; }

 private:
  double stddev_;
  initializers::Seed seed_;
  at::Generator generator_;
};

// Dropout for SELU networks: while training, sets each input (or slice of noise_shape) with probability
// `rate` to SELU's negative saturation -alpha * scale, then applies a * x + b with
// a = ((1 - rate) * (1 + rate * alpha_p^2))^-1/2 and b = -a * alpha_p * rate (alpha_p = -alpha * scale), so
// inputs of mean 0 and variance 1 keep them. Identity at inference.
class AlphaDropout : public Layer {
 public:
  explicit AlphaDropout(double rate, DropoutOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static AlphaDropout from_config(const nlohmann::json& config);

  double rate() const { return rate_; }

 private:
  double rate_;
  std::vector<int64_t> noise_shape_;
  initializers::Seed seed_;
  at::Generator generator_;
};

// Passes inputs through and adds l1 * sum(|x|) + l2 * sum(x^2), divided by the batch size, to losses().
class ActivityRegularization : public Layer {
 public:
  explicit ActivityRegularization(double l1 = 0.0, double l2 = 0.0, std::string name = "");

  at::Tensor call(const at::Tensor& inputs, bool training) override { return inputs; }
  nlohmann::json get_config() const override;
  static ActivityRegularization from_config(const nlohmann::json& config);

  double l1() const { return l1_; }
  double l2() const { return l2_; }

 private:
  double l1_;
  double l2_;
};

}  // namespace strata::layers
