#pragma once
// MonitorCallback: what EarlyStopping, ReduceLROnPlateau and ModelCheckpoint share in Keras 3 — a monitored
// log key, a mode ("auto", "min", "max"), a best value and the improvement test
// `op(current - min_delta, best)` (min_delta negated in min mode).

#include <strata/callbacks/callback.h>

#include <optional>
#include <string>

namespace strata::callbacks {

class MonitorCallback : public Callback {
 public:
  MonitorCallback(std::string class_name, std::string monitor, std::string mode, std::optional<double> baseline,
                  double min_delta);

  const std::string& monitor() const { return monitor_; }
  std::optional<double> best() const { return best_; }

 protected:
  // Resolves the direction on first use, as Keras does once the model's metrics exist. "auto": "loss" and
  // "val_loss" decrease; a name Keras' metrics mark as increasing (accuracy, AUC, precision, recall, F-scores,
  // R2, IoU, their val_ forms) increases; another compiled metric of the model decreases; anything else is
  // Keras' ValueError asking for mode="min" or "max".
  void resolve_mode();
  bool is_improvement(double current, std::optional<double> reference) const;

  std::string class_name_;
  std::string monitor_;
  std::string mode_;
  std::optional<double> best_;
  double min_delta_;
  bool greater_ = false;
  bool resolved_ = false;
};

}  // namespace strata::callbacks
