#pragma once
// Weight values read from a file, held back until every one has been checked, so a load that fails part way
// leaves the model exactly as it was.

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace strata::savedmodel {

class PendingWeights {
 public:
  // What is wrong with assigning `value` to `target` ("expected shape [4, 3], got [3, 4]"), or "" when it fits.
  // A floating weight takes any floating array (cast, as Keras' assign does); an integer or bool weight takes an
  // integer or bool array.
  static std::string mismatch(const at::Tensor& target, const at::Tensor& value);
  // Queues a checked value (cast to the target's dtype now, so apply() cannot fail).
  void add(const at::Tensor& target, const at::Tensor& value);
  void append(PendingWeights other);
  // Copies every queued value into its target.
  void apply();
  size_t size() const { return assignments_.size(); }

 private:
  std::vector<std::pair<at::Tensor, at::Tensor>> assignments_;
};

}  // namespace strata::savedmodel
