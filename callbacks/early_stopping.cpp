#include <strata/callbacks/early_stopping.h>
#include <strata/models/model.h>

#include <iostream>

namespace strata::callbacks {

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : MonitorCallback("EarlyStopping", options.monitor, options.mode, std::nullopt, options.min_delta),
      options_(std::move(options)) {}

void EarlyStopping::on_train_begin(const Logs& logs) {
  // Reset so one instance can serve several fit() calls, as in Keras.
  wait_ = 0;
  stopped_epoch_ = 0;
  best_.reset();
  best_weights_.clear();
  have_best_weights_ = false;
  best_epoch_ = 0;
}

void EarlyStopping::on_epoch_end(int epoch, Logs& logs) {
  resolve_mode();
  const std::optional<double> current = logs.get(monitor_);
  if (!current) {
    std::string available;
    for (const auto& [key, value] : logs) available += (available.empty() ? "" : ",") + key;
    std::cerr << "Warning: Early stopping conditioned on metric `" << monitor_
              << "` which is not available. Available metrics are: " << available << "\n";
    return;
  }
  if (epoch < options_.start_from_epoch) return;
  if (options_.restore_best_weights && !have_best_weights_) {
    // Until something improves, the first monitored epoch's weights are the best.
    best_weights_ = model()->get_weights();
    have_best_weights_ = true;
    best_epoch_ = epoch;
  }
  ++wait_;
  if (is_improvement(*current, best_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) best_weights_ = model()->get_weights();
    // The counter restarts only when the value beats both the previous best and the baseline.
    if (!options_.baseline || is_improvement(*current, options_.baseline)) wait_ = 0;
    return;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model()->stop_training = true;
  }
}

void EarlyStopping::on_train_end(const Logs& logs) {
  if (stopped_epoch_ > 0 && options_.verbose > 0) std::cout << "Epoch " << stopped_epoch_ + 1 << ": early stopping\n";
  if (options_.restore_best_weights && have_best_weights_) {
    if (options_.verbose > 0)
      std::cout << "Restoring model weights from the end of the best epoch: " << best_epoch_ + 1 << ".\n";
    model()->set_weights(best_weights_);
  }
}

}  // namespace strata::callbacks
