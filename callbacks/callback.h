#pragma once
// Callbacks: hooks the training, evaluation and prediction loops call with Keras' names and order.
// Epoch numbers are 0-based, as in Keras; messages print epoch + 1.

#include <strata/core/logs.h>
#include <strata/core/ref.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace strata {

class Model;

// What a loop tells its callbacks before it starts (Keras' `params`).
struct TrainingParams {
  int epochs = 1;
  int64_t steps = 0;  // batches per epoch (or per evaluate/predict run)
  int verbose = 1;
};

class Callback {
 public:
  virtual ~Callback() = default;

  void set_model(Model* model) { model_ = model; }
  void set_params(const TrainingParams& params) { params_ = params; }

  // Whether on_*_batch_end needs the metric values in its logs. Reading them costs a device sync per
  // batch, so loops fill batch logs only when some callback asks.
  virtual bool needs_batch_logs() const { return false; }
  // Whether only the chief of a distributed job runs it: callbacks that print or write files (the progress
  // bar, TensorBoard, checkpoints, CSV logs), so workers neither repeat the output nor race on the files.
  virtual bool chief_only() const { return false; }

  virtual void on_train_begin(const Logs& logs) {}
  virtual void on_train_end(const Logs& logs) {}
  virtual void on_epoch_begin(int epoch, const Logs& logs) {}
  // `logs` may be added to (Keras' callbacks share one dict): later callbacks see the additions.
  virtual void on_epoch_end(int epoch, Logs& logs) {}
  virtual void on_train_batch_begin(int64_t batch, const Logs& logs) {}
  virtual void on_train_batch_end(int64_t batch, const Logs& logs) {}
  virtual void on_test_begin(const Logs& logs) {}
  virtual void on_test_end(const Logs& logs) {}
  virtual void on_test_batch_begin(int64_t batch, const Logs& logs) {}
  virtual void on_test_batch_end(int64_t batch, const Logs& logs) {}
  virtual void on_predict_begin(const Logs& logs) {}
  virtual void on_predict_end(const Logs& logs) {}
  virtual void on_predict_batch_begin(int64_t batch, const Logs& logs) {}
  virtual void on_predict_batch_end(int64_t batch, const Logs& logs) {}

 protected:
  Model* model() const { return model_; }
  const TrainingParams& params() const { return params_; }

 private:
  Model* model_ = nullptr;
  TrainingParams params_;
};

using CallbackRef = Ref<Callback>;

// Calls every callback in order.
class CallbackList {
 public:
  CallbackList(std::vector<std::shared_ptr<Callback>> callbacks, Model* model, const TrainingParams& params);

  bool needs_batch_logs() const { return needs_batch_logs_; }

  void on_train_begin(const Logs& logs);
  void on_train_end(const Logs& logs);
  void on_epoch_begin(int epoch, const Logs& logs);
  void on_epoch_end(int epoch, Logs& logs);
  void on_train_batch_begin(int64_t batch, const Logs& logs);
  void on_train_batch_end(int64_t batch, const Logs& logs);
  void on_test_begin(const Logs& logs);
  void on_test_end(const Logs& logs);
  void on_test_batch_begin(int64_t batch, const Logs& logs);
  void on_test_batch_end(int64_t batch, const Logs& logs);
  void on_predict_begin(const Logs& logs);
  void on_predict_end(const Logs& logs);
  void on_predict_batch_begin(int64_t batch, const Logs& logs);
  void on_predict_batch_end(int64_t batch, const Logs& logs);

 private:
  std::vector<std::shared_ptr<Callback>> callbacks_;
  bool needs_batch_logs_ = false;
};

}  // namespace strata
