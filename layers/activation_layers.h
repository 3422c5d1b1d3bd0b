#pragma once
// Keras' activation layers with arguments of their own: ReLU, LeakyReLU, PReLU (learned slopes), ELU
// and Softmax. (Activation, which takes any activation by name, is in activation.h.)

#include <strata/core/initializers.h>
#include <strata/layers/layer.h>

#include <optional>

namespace strata::layers {

struct ReLUOptions {
  std::optional<double> max_value = std::nullopt;  // clip above (None: no clipping)
  double negative_slope = 0.0;
  double threshold = 0.0;
  std::string name = "";
};

// f(x) = max_value for x >= max_value, x for threshold <= x < max_value, negative_slope·(x - threshold) below.
class ReLU : public Layer {
 public:
  explicit ReLU(ReLUOptions options = {});
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static ReLU from_config(const nlohmann::json& config);

 private:
  ReLUOptions options_;
};

// f(x) = x for x >= 0, negative_slope·x otherwise (Keras' layer default slope is 0.3).
class LeakyReLU : public Layer {
 public:
  explicit LeakyReLU(double negative_slope = 0.3, std::string name = "");
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static LeakyReLU from_config(const nlohmann::json& config);

 private:
  double negative_slope_;
};

struct PReLUOptions {
  initializers::Spec alpha_initializer = "zeros";
  regularizers::Spec alpha_regularizer = {};
  constraints::Spec alpha_constraint = {};
  std::vector<int64_t> shared_axes = {};  // 1-based axes (batch excluded) along which alpha is shared
  std::string name = "";
};

// f(x) = x for x >= 0, alpha·x otherwise, with alpha learned per element of a sample (or shared along axes).
class PReLU : public Layer {
 public:
  explicit PReLU(PReLUOptions options = {});
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static PReLU from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;

 private:
  PReLUOptions options_;
  at::Tensor alpha_;
};

// f(x) = x for x > 0, alpha·(exp(x) - 1) otherwise.
class ELU : public Layer {
 public:
  explicit ELU(double alpha = 1.0, std::string name = "");
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static ELU from_config(const nlohmann::json& config);

 private:
  double alpha_;
};

class Softmax : public Layer {
 public:
  explicit Softmax(int64_t axis = -1, std::string name = "");
  at::Tensor call(const at::Tensor& inputs, bool training) override;
  nlohmann::json get_config() const override;
  static Softmax from_config(const nlohmann::json& config);

 private:
  int64_t axis_;
};

}  // namespace strata::layers
