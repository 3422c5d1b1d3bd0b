#pragma once
// LambdaCallback: a callback made of plain functions, one per hook (any left empty does nothing), as Keras 3:
//   callbacks::LambdaCallback({.on_epoch_end = [](int epoch, const Logs& logs) { ... }})

#include <strata/callbacks/callback.h>

#include <functional>

namespace strata::callbacks {

struct LambdaCallbackOptions {
  std::function<void(int epoch, const Logs& logs)> on_epoch_begin;
  std::function<void(int epoch, const Logs& logs)> on_epoch_end;
  std::function<void(const Logs& logs)> on_train_begin;
  std::function<void(const Logs& logs)> on_train_end;
  std::function<void(int64_t batch, const Logs& logs)> on_train_batch_begin;
  std::function<void(int64_t batch, const Logs& logs)> on_train_batch_end;
  // on_train_batch_* see the batch's loss and metrics only when this is set (a device sync per batch).
  bool needs_batch_logs = false;
};

class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackOptions options = {}) : options_(std::move(options)) {}

  bool needs_batch_logs() const override { return options_.needs_batch_logs; }
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_begin(const Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  void on_train_batch_begin(int64_t batch, const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;

 private:
  LambdaCallbackOptions options_;
};

}  // namespace strata::callbacks
