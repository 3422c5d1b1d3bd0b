#pragma once
// The Keras progress bar. verbose=1 on a terminal redraws one line per update:
//    7/469 [..............................] - ETA: 3s - loss: 1.2345 - accuracy: 0.5678
// and ends with the epoch's total time and time per step:
//  469/469 [==============================] - 2s 4ms/step - loss: 0.5012 - accuracy: 0.8123
// When the output is not a terminal (a log file, CI) only that final line is written; verbose=2
// writes one short line at the end: "469/469 - 2s - 4ms/step - loss: 0.5012 - ...".
// A negative target is an unknown length (a dataset of unknown cardinality): "     27/Unknown - 3s - loss: ...".

#include <strata/core/logs.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>

namespace strata::callbacks {

class Progbar {
 public:
  // `interactive` defaults to whether `out` is standard output attached to a terminal.
  Progbar(int64_t target, int verbose, std::ostream& out, std::optional<bool> interactive = std::nullopt);

  void update(int64_t current, const Logs& values, bool finalize = false);

  bool interactive() const { return interactive_; }
  // Once the length is known (the end of the first pass over a dataset of unknown length).
  void set_target(int64_t target) { target_ = target; }

 private:
  using Clock = std::chrono::steady_clock;

  std::string bar(int64_t current) const;

  int64_t target_;
  int verbose_;
  std::ostream& out_;
  bool interactive_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  size_t last_width_ = 0;
};

// "3s", "1:02", "1:00:05" for an ETA.
std::string format_eta(double seconds);
// "4ms/step", "2s/step", "850us/step".
std::string format_time_per_step(double seconds);
// Keras' value format: 4 decimals, or scientific when |value| <= 1e-3 (and not 0).
std::string format_log_value(double value);

}  // namespace strata::callbacks
