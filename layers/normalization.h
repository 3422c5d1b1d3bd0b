#pragma once
// Normalization layers with Keras' semantics and defaults: BatchNormalization, LayerNormalization,
// GroupNormalization and UnitNormalization. Axes follow Keras (channels_last: the features are axis -1).
// Layers with weights compute in their weights' dtype (float32), casting other floating inputs as Keras'
// autocast does; UnitNormalization has no weights and keeps the input's floating dtype.

#include <strata/core/initializers.h>
#include <strata/layers/layer.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::layers {

struct BatchNormalizationOptions {
  int64_t axis = -1;  // the features axis; statistics are taken over every other axis
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;  // beta
  bool scale = true;   // gamma
  initializers::Spec beta_initializer = "zeros";
  initializers::Spec gamma_initializer = "ones";
  initializers::Spec moving_mean_initializer = "zeros";
  initializers::Spec moving_variance_initializer = "ones";
  regularizers::Spec beta_regularizer = {};
  regularizers::Spec gamma_regularizer = {};
  constraints::Spec beta_constraint = {};
  constraints::Spec gamma_constraint = {};
  // Keras' synchronized: in training under a distribution strategy with several replicas, normalize with the
  // mean and variance of the global batch (every replica's rows), as SyncBatchNormalization does; the
  // statistics' gradients are summed across replicas too. Without replicas it changes nothing.
  bool synchronized = false;
  std::string name = "";
};

// Weights in Keras' order: gamma, beta (trainable, present with scale / center), moving_mean, moving_variance
// (non-trainable).
//
// Called with training=true on a trainable layer it normalizes with the batch's mean and biased variance
// and then, without gradient, updates moving = moving * momentum + batch_statistic * (1 - momentum), where
// the variance is the biased one, as Keras 3 (ops.moments) does. (PyTorch and TF's fused kernel feed
// the unbiased variance into the moving average instead.) With training=false, or when the layer is frozen
// (set_trainable(false)), it runs in inference mode: it uses the moving statistics and updates nothing.
class BatchNormalization : public Layer {
 public:
  explicit BatchNormalization(BatchNormalizationOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static BatchNormalization from_config(const nlohmann::json& config);

  const BatchNormalizationOptions& options() const { return options_; }
  const at::Tensor& gamma() const { return gamma_; }  // undefined without scale
  const at::Tensor& beta() const { return beta_; }    // undefined without center
  const at::Tensor& moving_mean() const { return moving_mean_; }
  const at::Tensor& moving_variance() const { return moving_variance_; }

 protected:
  void build(const Shape& input_shape) override;

 private:
  // Training with the global batch's statistics (options.synchronized under several replicas); x has the
  // channels on axis 1.
  at::Tensor synchronized_batch_norm(const at::Tensor& x_cf);

  BatchNormalizationOptions options_;
  int64_t axis_ = -1;  // resolved to a non-negative axis by build()
  at::Tensor gamma_, beta_, moving_mean_, moving_variance_;
};

struct LayerNormalizationOptions {
  std::vector<int64_t> axis = {-1};  // one or several axes; statistics and gamma/beta span them
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  initializers::Spec beta_initializer = "zeros";
  initializers::Spec gamma_initializer = "ones";
  regularizers::Spec beta_regularizer = {};
  regularizers::Spec gamma_regularizer = {};
  constraints::Spec beta_constraint = {};
  constraints::Spec gamma_constraint = {};
  std::string name = "";
};

// Per sample: (x - mean) / sqrt(var + epsilon) * gamma + beta, mean and (biased) var over `axis`. gamma and
// beta have the sizes of those axes in increasing axis order (the axes are sorted at build).
class LayerNormalization : public Layer {
 public:
  explicit LayerNormalization(LayerNormalizationOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static LayerNormalization from_config(const nlohmann::json& config);

  const at::Tensor& gamma() const { return gamma_; }
  const at::Tensor& beta() const { return beta_; }

 protected:
  void build(const Shape& input_shape) override;

 private:
  LayerNormalizationOptions options_;
  std::vector<int64_t> axes_;  // sorted, non-negative, set by build()
  at::Tensor gamma_, beta_;
};

struct GroupNormalizationOptions {
  int64_t groups = 32;  // must divide the number of channels
  int64_t axis = -1;    // the channels axis
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  initializers::Spec beta_initializer = "zeros";
  initializers::Spec gamma_initializer = "ones";
  regularizers::Spec beta_regularizer = {};
  regularizers::Spec gamma_regularizer = {};
  constraints::Spec beta_constraint = {};
  constraints::Spec gamma_constraint = {};
  std::string name = "";
};

// Splits the channels into `groups` consecutive groups and normalizes each group of each sample over its
// channels and every other non-batch axis; gamma and beta are per channel.
class GroupNormalization : public Layer {
 public:
  explicit GroupNormalization(GroupNormalizationOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static GroupNormalization from_config(const nlohmann::json& config);

  const at::Tensor& gamma() const { return gamma_; }
  const at::Tensor& beta() const { return beta_; }

 protected:
  void build(const Shape& input_shape) override;

 private:
  GroupNormalizationOptions options_;
  int64_t axis_ = -1;
  at::Tensor gamma_, beta_;
};

struct UnitNormalizationOptions {
  std::vector<int64_t> axis = {-1};
  std::string name = "";
};

// x / sqrt(max(sum(x^2 over axis), 1e-12)), as Keras (tf.math.l2_normalize's epsilon on the squared sum).
class UnitNormalization : public Layer {
 public:
  explicit UnitNormalization(UnitNormalizationOptions options = {});

  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static UnitNormalization from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;

 private:
  UnitNormalizationOptions options_;
  std::vector<int64_t> axes_;
};

}  // namespace strata::layers
