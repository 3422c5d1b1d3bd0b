#include <ATen/ATen.h>
#include <strata/core/activations.h>
#include <strata/core/error.h>
#include <strata/core/registry.h>

#include <map>

namespace strata::activations {

// SELU's constants from Klambauer et al. 2017, as Keras uses them.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

at::Tensor relu(const at::Tensor& x) { return at::relu(x); }
at::Tensor relu6(const at::Tensor& x) { return at::clamp(x, 0.0, 6.0); }
at::Tensor sigmoid(const at::Tensor& x) { return at::sigmoid(x); }
at::Tensor tanh(const at::Tensor& x) { return at::tanh(x); }
at::Tensor softmax(const at::Tensor& x) { return at::softmax(x, -1); }
at::Tensor log_softmax(const at::Tensor& x) { return at::log_softmax(x, -1); }
at::Tensor gelu(const at::Tensor& x) { return at::gelu(x); }
at::Tensor elu(const at::Tensor& x) { return at::elu(x, 1.0); }
at::Tensor selu(const at::Tensor& x) { return kSeluScale * at::elu(x, kSeluAlpha); }
at::Tensor leaky_relu(const at::Tensor& x) { return at::leaky_relu(x, 0.2); }
at::Tensor silu(const at::Tensor& x) { return at::silu(x); }
at::Tensor softplus(const at::Tensor& x) { return at::softplus(x); }
at::Tensor softsign(const at::Tensor& x) { return x / (at::abs(x) + 1.0); }
at::Tensor hard_sigmoid(const at::Tensor& x) { return at::clamp(x / 6.0 + 0.5, 0.0, 1.0); }
at::Tensor exponential(const at::Tensor& x) { return at::exp(x); }
at::Tensor mish(const at::Tensor& x) { return x * at::tanh(at::softplus(x)); }
at::Tensor linear(const at::Tensor& x) { return x; }

namespace {

const std::map<std::string, Function::Fn>& builtins() {
  static const std::map<std::string, Function::Fn> table = {
      {"relu", relu},         {"relu6", relu6},       {"sigmoid", sigmoid},
      {"tanh", tanh},         {"softmax", softmax},   {"log_softmax", log_softmax},
      {"gelu", gelu},         {"elu", elu},           {"selu", selu},
      {"leaky_relu", leaky_relu}, {"silu", silu},     {"swish", silu},
      {"softplus", softplus}, {"softsign", softsign}, {"hard_sigmoid", hard_sigmoid},
      {"exponential", exponential}, {"linear", linear},
      {"mish", mish},
  };
  return table;
}

}  // namespace

Function::Function() : Function("linear") {}
Function::Function(const char* name) : Function(std::string(name)) {}
Function::Function(const std::string& name) : Function(get(name)) {}
Function::Function(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {
  if (!fn_) throw ValueError("activation '" + name_ + "': the function is empty");
}

Function get(const std::string& name) {
  const std::string key = name.empty() ? "linear" : name;
  auto it = builtins().find(key);
  if (it == builtins().end())
    throw ValueError("unknown activation '" + name + "'; expected one of: " + joined_keys(builtins()));
  return Function(key, it->second);
}

}  // namespace strata::activations
