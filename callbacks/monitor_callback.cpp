#include <strata/callbacks/monitor_callback.h>
#include <strata/core/error.h>
#include <strata/models/model.h>

#include <cmath>

namespace strata::callbacks {

MonitorCallback::MonitorCallback(std::string class_name, std::string monitor, std::string mode,
                                 std::optional<double> baseline, double min_delta)
    : class_name_(std::move(class_name)),
      monitor_(std::move(monitor)),
      mode_(std::move(mode)),
      best_(baseline),
      min_delta_(std::abs(min_delta)) {
  // Keras warns and falls back to "auto"; a typo here silently flips what "better" means, so it is an error.
  if (mode_ != "auto" && mode_ != "min" && mode_ != "max")
    throw ValueError(class_name_ + ": expected mode \"auto\", \"min\" or \"max\", got \"" + mode_ + "\"");
}

namespace {

// The metrics whose Keras 3 classes declare _direction = "up".
bool increases(const std::string& name) {
  for (const char* part : {"acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "r2_score", "iou"})
    if (name.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

void MonitorCallback::resolve_mode() {
  if (resolved_) return;
  std::string name = monitor_;
  if (name.rfind("val_", 0) == 0) name = name.substr(4);
  if (mode_ == "max") {
    greater_ = true;
  } else if (mode_ == "min" || name == "loss") {
    greater_ = false;
  } else if (increases(name)) {
    greater_ = true;
  } else {
    bool known = false;
    if (model() != nullptr)
      for (const auto& key : model()->metrics_names()) known = known || key == name;
    if (!known)
      throw ValueError(class_name_ + " callback received monitor=" + monitor_ +
                       ", but Keras isn't able to automatically determine whether that metric should be maximized "
                       "or minimized. Pass `mode='max'` in order to monitor based on the highest metric value, or "
                       "pass `mode='min'` in order to use the lowest value.");
    greater_ = false;
  }
  if (!greater_) min_delta_ = -min_delta_;
  resolved_ = true;
}

bool MonitorCallback::is_improvement(double current, std::optional<double> reference) const {
  if (!reference) return true;
  return greater_ ? current - min_delta_ > *reference : current - min_delta_ < *reference;
}

}  // namespace strata::callbacks
