#include <strata/callbacks/learning_rate_scheduler.h>
#include <strata/callbacks/python_format.h>
#include <strata/core/error.h>
#include <strata/models/model.h>

#include <cmath>
#include <iostream>

namespace strata::callbacks {

LearningRateScheduler::LearningRateScheduler(Schedule schedule, LearningRateSchedulerOptions options)
    : schedule_(std::move(schedule)), options_(options) {
  if (!schedule_) throw ValueError("LearningRateScheduler: expected a schedule function, got an empty one");
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs& logs) {
  optimizers::Optimizer& optimizer = model()->optimizer();
  const double learning_rate = schedule_(epoch, optimizer.learning_rate());
  // Keras only checks the type; a NaN or infinite rate would silently ruin every weight.
  if (!std::isfinite(learning_rate))
    throw ValueError("LearningRateScheduler: the schedule returned " + python_float_repr(learning_rate) +
                     " for epoch " + std::to_string(epoch) + "; expected a finite learning rate");
  optimizer.set_learning_rate(learning_rate);
  if (options_.verbose > 0)
    std::cout << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to "
              << python_float_repr(learning_rate) << ".\n";
}

void LearningRateScheduler::on_epoch_end(int epoch, Logs& logs) {
  logs.set("learning_rate", static_cast<float>(model()->optimizer().learning_rate()));  // Keras' float32 variable
}

}  // namespace strata::callbacks
