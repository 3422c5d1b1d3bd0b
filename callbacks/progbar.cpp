#include <strata/callbacks/progbar.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

namespace strata::callbacks {
namespace {

constexpr int kBarWidth = 30;
constexpr double kRedrawInterval = 0.05;  // seconds; redrawing every batch would dominate fast steps

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

std::string format_values(const Logs& values) {
  std::string out;
  for (const auto& [name, value] : values) out += " - " + name + ": " + format_log_value(value);
  return out;
}

}  // namespace

std::string format_eta(double seconds) {
  const auto s = static_cast<long>(std::lround(seconds));
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%ld:%02ld:%02ld", s / 3600, (s % 3600) / 60, s % 60);
  else if (s >= 60)
    std::snprintf(buffer, sizeof buffer, "%ld:%02ld", s / 60, s % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%lds", s);
  return buffer;
}

std::string format_time_per_step(double seconds) {
  if (seconds >= 1.0) return format("%.0fs/step", seconds);
  if (seconds >= 1e-3) return format("%.0fms/step", seconds * 1e3);
  return format("%.0fus/step", seconds * 1e6);
}

std::string format_log_value(double value) {
  if (value != 0.0 && std::abs(value) <= 1e-3) return format("%.4e", value);
  return format("%.4f", value);
}

Progbar::Progbar(int64_t target, int verbose, std::ostream& out, std::optional<bool> interactive)
    : target_(target),
      verbose_(verbose),
      out_(out),
      interactive_(interactive.value_or(&out == &std::cout && isatty(STDOUT_FILENO))),
      start_(Clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

std::string Progbar::bar(int64_t current) const {
  if (target_ < 0) return format("%7.0f/Unknown", static_cast<double>(current));
  const int digits = static_cast<int>(std::to_string(target_).size());
  std::string count = std::to_string(current);
  count = std::string(std::max<int>(0, digits - static_cast<int>(count.size())), ' ') + count + "/" + std::to_string(target_);
  if (verbose_ == 2) return count;
  const double progress = target_ > 0 ? static_cast<double>(current) / static_cast<double>(target_) : 1.0;
  const int filled = std::min(kBarWidth, static_cast<int>(kBarWidth * progress));
  std::string bar = count + " [";
  if (filled > 0) bar += std::string(filled - 1, '=') + (current < target_ ? '>' : '=');
  return bar + std::string(kBarWidth - filled, '.') + "]";
}

void Progbar::update(int64_t current, const Logs& values, bool finalize) {
  if (verbose_ == 0) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (!finalize) {
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    if (verbose_ != 1 || !interactive_ || since_draw < kRedrawInterval) return;
    last_draw_ = now;
    const double per_step = current > 0 ? elapsed / static_cast<double>(current) : 0.0;
    const std::string timing = target_ < 0 ? " - " + format("%.0fs", elapsed)
                                           : " - ETA: " + format_eta(per_step * static_cast<double>(target_ - current));
    std::string line = bar(current) + timing + format_values(values);
    const size_t width = line.size();
    if (width < last_width_) line += std::string(last_width_ - width, ' ');
    last_width_ = width;
    out_ << '\r' << line << std::flush;
    return;
  }
  const double per_step = current > 0 ? elapsed / static_cast<double>(current) : 0.0;
  std::string line = bar(current) + " - " + format("%.0fs", elapsed) + (verbose_ == 2 ? " - " : " ") +
                     format_time_per_step(per_step) + format_values(values);
  if (interactive_ && verbose_ == 1) {
    if (line.size() < last_width_) line += std::string(last_width_ - line.size(), ' ');
    out_ << '\r';
  }
  out_ << line << '\n' << std::flush;
}

}  // namespace strata::callbacks
