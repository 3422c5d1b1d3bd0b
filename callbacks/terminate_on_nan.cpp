#include <strata/callbacks/python_format.h>
#include <strata/callbacks/terminate_on_nan.h>
#include <strata/core/error.h>
#include <strata/models/model.h>

#include <cmath>
#include <iostream>

namespace strata::callbacks {

void TerminateOnNaN::on_train_batch_end(int64_t batch, const Logs& logs) {
  const std::optional<double> loss = logs.get("loss");
  if (!loss || std::isfinite(*loss)) return;
  if (options_.raise_error)
    throw Error("NaN or Inf loss encountered at batch " + std::to_string(batch) + ". Loss value: " +
                python_float_repr(*loss) + ". Terminating training immediately.");
  std::cout << "Batch " << batch << ": Invalid loss, terminating training\n";
  model()->stop_training = true;
}

}  // namespace strata::callbacks
