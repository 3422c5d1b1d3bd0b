#pragma once
// LearningRateScheduler: at the start of each epoch sets the optimizer's learning rate to
// schedule(epoch, current_lr) (epoch 0-based), and at its end adds the rate to the epoch logs as
// "learning_rate" (so History, CSVLogger and TensorBoard record it), as Keras 3.

#include <strata/callbacks/callback.h>

#include <functional>

namespace strata::callbacks {

struct LearningRateSchedulerOptions {
  int verbose = 0;  // 1: print "Epoch N: LearningRateScheduler setting learning rate to X."
};

class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int epoch, double learning_rate)>;

  explicit LearningRateScheduler(Schedule schedule, LearningRateSchedulerOptions options = {});

  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;

 private:
  Schedule schedule_;
  LearningRateSchedulerOptions options_;
};

}  // namespace strata::callbacks
