#include <strata/callbacks/python_format.h>
#include <strata/callbacks/reduce_lr_on_plateau.h>
#include <strata/core/error.h>
#include <strata/models/model.h>

#include <algorithm>
#include <iostream>

namespace strata::callbacks {

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : MonitorCallback("ReduceLROnPlateau", options.monitor, options.mode, std::nullopt, options.min_delta),
      options_(std::move(options)) {
  if (options_.factor >= 1.0)
    throw ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=" +
                     python_float_repr(options_.factor));
}

void ReduceLROnPlateau::on_train_begin(const Logs& logs) {
  best_.reset();
  cooldown_counter_ = 0;
  wait_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(int epoch, Logs& logs) {
  resolve_mode();
  logs.set("learning_rate", static_cast<float>(model()->optimizer().learning_rate()));  // Keras' float32 variable
  const std::optional<double> current = logs.get(monitor_);
  if (!current) {
    std::string available;
    for (const auto& [key, value] : logs) available += (available.empty() ? "" : ",") + key;
    std::cerr << "Warning: Learning rate reduction is conditioned on metric `" << monitor_
              << "` which is not available. Available metrics are: " << available << ".\n";
    return;
  }
  if (in_cooldown()) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (is_improvement(*current, best_)) {
    best_ = *current;
    wait_ = 0;
    return;
  }
  if (in_cooldown()) return;
  if (++wait_ < options_.patience) return;
  optimizers::Optimizer& optimizer = model()->optimizer();
  const double old_lr = optimizer.learning_rate();
  // Keras holds the rate in a float32 variable and compares it with float32(min_lr), so a rate that has
  // reached min_lr is left alone (no message, no new cooldown).
  if (!(static_cast<float>(old_lr) > static_cast<float>(options_.min_lr))) return;
  const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
  optimizer.set_learning_rate(new_lr);
  if (options_.verbose > 0)
    std::cout << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to " << python_float_repr(new_lr)
              << ".\n";
  cooldown_counter_ = options_.cooldown;
  wait_ = 0;
}

}  // namespace strata::callbacks
