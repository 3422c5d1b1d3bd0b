#pragma once
// EarlyStopping: stops fit() when the monitored quantity has not improved for `patience` epochs, as Keras 3.

#include <strata/callbacks/monitor_callback.h>

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

namespace strata::callbacks {

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;  // a change smaller than this (in absolute value) is no improvement
  int patience = 0;        // epochs without improvement before stopping
  int verbose = 0;         // 1: print "Epoch N: early stopping" and the restore message
  std::string mode = "auto";
  std::optional<double> baseline;     // the patience counter restarts only for values better than this
  bool restore_best_weights = false;  // at the end of training, load the weights of the best epoch
  int start_from_epoch = 0;           // epochs before this one are not monitored (warm-up)
};

class EarlyStopping : public MonitorCallback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});

  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  int wait() const { return wait_; }
  int stopped_epoch() const { return stopped_epoch_; }  // 0 when training was not stopped
  int best_epoch() const { return best_epoch_; }

 private:
  EarlyStoppingOptions options_;
  int wait_ = 0;
  int stopped_epoch_ = 0;
  int best_epoch_ = 0;
  std::vector<at::Tensor> best_weights_;
  bool have_best_weights_ = false;
};

}  // namespace strata::callbacks
