#pragma once
// A callback for tests that records every hook call in order, as "name" or "name:index", with the logs of the
// epoch ends (and of the batch ends when asked for: they cost a metric read per batch).

#include <strata/callbacks/callback.h>
#include <strata/models/model.h>

#include <string>
#include <vector>

namespace strata::testing {

class Recorder : public Callback {
 public:
  explicit Recorder(bool want_batch_logs = false) : want_batch_logs_(want_batch_logs) {}

  std::vector<std::string> events;
  std::vector<Logs> epoch_logs;
  std::vector<Logs> batch_logs;  // filled only with want_batch_logs
  TrainingParams seen_params;
  Model* seen_model = nullptr;

  bool needs_batch_logs() const override { return want_batch_logs_; }
  void on_train_begin(const Logs&) override {
    seen_params = params();
    seen_model = model();
    events.push_back("train_begin");
  }
  void on_train_end(const Logs&) override { events.push_back("train_end"); }
  void on_epoch_begin(int epoch, const Logs&) override {
    events.push_back("epoch_begin:" + std::to_string(epoch));
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    events.push_back("epoch_end:" + std::to_string(epoch));
    epoch_logs.push_back(logs);
  }
  void on_train_batch_begin(int64_t batch, const Logs&) override {
    events.push_back("batch_begin:" + std::to_string(batch));
  }
  void on_train_batch_end(int64_t batch, const Logs& logs) override {
    events.push_back("batch_end:" + std::to_string(batch));
    if (want_batch_logs_) batch_logs.push_back(logs);
  }
  void on_test_begin(const Logs&) override { events.push_back("test_begin"); }
  void on_test_end(const Logs&) override { events.push_back("test_end"); }
  void on_test_batch_begin(int64_t batch, const Logs&) override {
    events.push_back("test_batch_begin:" + std::to_string(batch));
  }
  void on_test_batch_end(int64_t batch, const Logs&) override {
    events.push_back("test_batch_end:" + std::to_string(batch));
  }
  void on_predict_begin(const Logs&) override { events.push_back("predict_begin"); }
  void on_predict_end(const Logs&) override { events.push_back("predict_end"); }
  void on_predict_batch_begin(int64_t batch, const Logs&) override {
    events.push_back("predict_batch_begin:" + std::to_string(batch));
  }
  void on_predict_batch_end(int64_t batch, const Logs&) override {
    events.push_back("predict_batch_end:" + std::to_string(batch));
  }
 private:
  bool want_batch_logs_;
};

}  // namespace strata::testing
