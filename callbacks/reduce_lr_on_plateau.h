#pragma once
// ReduceLROnPlateau: multiplies the optimizer's learning rate by `factor` when the monitored quantity has not
// improved for `patience` epochs, then waits `cooldown` epochs before counting again, as Keras 3.
// Each epoch end first adds the rate in use to the logs as "learning_rate", as Keras 3.

#include <strata/callbacks/monitor_callback.h>

#include <string>

namespace strata::callbacks {

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;  // new_lr = max(lr * factor, min_lr); must be < 1
  int patience = 10;
  int verbose = 0;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};

class ReduceLROnPlateau : public MonitorCallback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});

  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;

  int wait() const { return wait_; }
  int cooldown_counter() const { return cooldown_counter_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

 private:
  ReduceLROnPlateauOptions options_;
  int wait_ = 0;
  int cooldown_counter_ = 0;
};

}  // namespace strata::callbacks
