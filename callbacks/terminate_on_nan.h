#pragma once
// TerminateOnNaN: stops fit() after a batch whose loss is NaN or infinite, as Keras 3 (or, with raise_error,
// throws). It asks for batch logs, which costs one device sync per batch.

#include <strata/callbacks/callback.h>

namespace strata::callbacks {

struct TerminateOnNaNOptions {
  bool raise_error = false;  // throw strata::Error instead of printing and setting stop_training
};

class TerminateOnNaN : public Callback {
 public:
  explicit TerminateOnNaN(TerminateOnNaNOptions options = {}) : options_(options) {}

  bool needs_batch_logs() const override { return true; }
  void on_train_batch_end(int64_t batch, const Logs& logs) override;

 private:
  TerminateOnNaNOptions options_;
};

}  // namespace strata::callbacks
