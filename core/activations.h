#pragma once
// Keras' activation functions, usable by name ("relu") or as functions (activations::relu).

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

namespace strata::activations {

at::Tensor relu(const at::Tensor& x);
at::Tensor relu6(const at::Tensor& x);
at::Tensor sigmoid(const at::Tensor& x);
at::Tensor tanh(const at::Tensor& x);
at::Tensor softmax(const at::Tensor& x);      // over the last axis
at::Tensor log_softmax(const at::Tensor& x);  // over the last axis
at::Tensor gelu(const at::Tensor& x);         // exact (erf) form, Keras' default approximate=False
at::Tensor elu(const at::Tensor& x);          // alpha = 1
at::Tensor selu(const at::Tensor& x);
at::Tensor leaky_relu(const at::Tensor& x);   // negative_slope = 0.2, Keras' function default
at::Tensor silu(const at::Tensor& x);         // also "swish"
at::Tensor softplus(const at::Tensor& x);
at::Tensor softsign(const at::Tensor& x);
at::Tensor hard_sigmoid(const at::Tensor& x); // relu6(x + 3) / 6
at::Tensor exponential(const at::Tensor& x);
at::Tensor mish(const at::Tensor& x);         // x * tanh(softplus(x))
at::Tensor linear(const at::Tensor& x);

// An activation together with the name it serializes under.
class Function {
 public:
  using Fn = std::function<at::Tensor(const at::Tensor&)>;

  Function();                          // linear
  Function(const char* name);          // NOLINT: a Keras name, as in {.activation = "relu"}
  Function(const std::string& name);   // NOLINT
  Function(std::string name, Fn fn);   // a custom function under a name of the caller's choice

  at::Tensor operator()(const at::Tensor& x) const { return fn_(x); }
  const std::string& name() const { return name_; }
  bool is_linear() const { return name_ == "linear"; }

 private:
  std::string name_;
  Fn fn_;
};

// The function registered under `name`; throws ValueError listing the known names otherwise.
Function get(const std::string& name);

}  // namespace strata::activations
