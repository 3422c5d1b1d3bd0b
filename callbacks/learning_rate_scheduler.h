#pragma once
// LearningRateScheduler: at the start of each epoch sets the optimizer's learning rate to
// schedule(epoch, current_lr) (epoch 0-based), as Keras 3. Keras also writes "learning_rate" into the epoch
// logs; Strata's logs are const in the hooks, so read model.optimizer().learning_rate() instead.

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

 private:
  Schedule schedule_;
  LearningRateSchedulerOptions options_;
};

}  // namespace strata::callbacks
