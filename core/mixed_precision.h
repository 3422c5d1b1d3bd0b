#pragma once
// Keras' dtype policies (keras.mixed_precision): a layer keeps its variables in `variable_dtype` and computes in
// `compute_dtype`. "mixed_bfloat16" and "mixed_float16" keep float32 variables and compute in bf16 / fp16;
// "float32", "bfloat16", "float16" (and "float64") use one dtype for both. A layer takes the global policy
// when it is constructed, as in Keras; `layer.set_dtype_policy("float32")` overrides it (Keras' `dtype=`
// argument), e.g. for a model's final softmax.

#include <c10/core/ScalarType.h>
#include <nlohmann/json_fwd.hpp>

#include <string>

namespace strata::mixed_precision {

class DTypePolicy {
 public:
  // Throws ValueError naming the accepted names when `name` is not one of them.
  DTypePolicy(const std::string& name = "float32");  // NOLINT: a policy is spelled by its name, as in Keras
  DTypePolicy(const char* name) : DTypePolicy(std::string(name)) {}  // NOLINT

  const std::string& name() const { return name_; }
  at::ScalarType compute_dtype() const { return compute_dtype_; }
  at::ScalarType variable_dtype() const { return variable_dtype_; }
  // Variables and computations differ in dtype ("mixed_*").
  bool is_mixed() const { return compute_dtype_ != variable_dtype_; }

  // What a layer's get_config() writes under "dtype", as tf.keras 2.15 does: the plain name for a single-dtype
  // policy ("float32"), a serialized Policy object for a mixed one.
  nlohmann::json to_config() const;
  // Reads either form (and Keras 3's serialized DTypePolicy object).
  static DTypePolicy from_config(const nlohmann::json& config);

  bool operator==(const DTypePolicy& other) const { return name_ == other.name_; }

 private:
  std::string name_;
  at::ScalarType compute_dtype_;
  at::ScalarType variable_dtype_;
};

using Policy = DTypePolicy;  // tf.keras 2's name

// The policy layers constructed from now on take ("float32" until set).
void set_global_policy(const DTypePolicy& policy);
DTypePolicy global_policy();

}  // namespace strata::mixed_precision

namespace strata {
using mixed_precision::DTypePolicy;
}  // namespace strata
