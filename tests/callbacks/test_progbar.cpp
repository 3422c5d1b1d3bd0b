// The Keras progress bar and its formatting helpers, written to a string stream (a non-interactive output, as
// a log file or CI would be). Expected strings follow tf.keras' Progbar format: a 30-character bar, "ETA"
// only while running, values with 4 decimals (scientific at or below 1e-3), time per step in s, ms or us.

#include <strata/callbacks/history.h>
#include <strata/callbacks/progbar.h>
#include <strata/callbacks/progbar_logger.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

using namespace strata;
using Catch::Matchers::Contains;
using Catch::Matchers::Matches;
using Catch::Matchers::StartsWith;

namespace {

Logs loss_logs(double loss) {
  Logs logs;
  logs.set("loss", loss);
  return logs;
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("format_eta, format_time_per_step and format_log_value", "[callbacks][progbar]") {
  CHECK(callbacks::format_eta(5) == "5s");
  CHECK(callbacks::format_eta(59.4) == "59s");
  CHECK(callbacks::format_eta(65) == "1:05");       // 65 s = 1 min 5 s
  CHECK(callbacks::format_eta(3725) == "1:02:05");  // 3725 s = 1 h 2 min 5 s
  CHECK(callbacks::format_time_per_step(2.0) == "2s/step");
  CHECK(callbacks::format_time_per_step(0.004) == "4ms/step");
  CHECK(callbacks::format_time_per_step(850e-6) == "850us/step");
  CHECK(callbacks::format_log_value(0.5) == "0.5000");
  CHECK(callbacks::format_log_value(1.23456) == "1.2346");
  CHECK(callbacks::format_log_value(0.0) == "0.0000");
  CHECK(callbacks::format_log_value(0.0001) == "1.0000e-04");  // |v| <= 1e-3 switches to scientific
  CHECK(callbacks::format_log_value(-0.0005) == "-5.0000e-04");
  CHECK(callbacks::format_log_value(0.002) == "0.0020");
}

TEST_CASE("a non-interactive Progbar prints only the final line", "[callbacks][progbar]") {
  std::ostringstream out;
  callbacks::Progbar bar(10, 1, out);
  CHECK_FALSE(bar.interactive());  // a string stream is not a terminal
  for (int64_t step = 1; step < 10; ++step) bar.update(step, loss_logs(0.9));
  CHECK(out.str().empty());
  bar.update(10, loss_logs(0.5), true);
  const std::string text = out.str();
  INFO(text);
  CHECK(count_lines(text) == 1);
  CHECK_THAT(text, StartsWith("10/10 [==============================] - 0s "));
  CHECK_THAT(text, Matches(R"(10/10 \[={30}\] - 0s \d+(ms|us)/step - loss: 0\.5000\n)"));
  CHECK_THAT(text, !Contains("ETA"));
}

TEST_CASE("Progbar verbose 2 prints the short form", "[callbacks][progbar]") {
  std::ostringstream out;
  callbacks::Progbar bar(10, 2, out, false);
  bar.update(4, loss_logs(1.0));
  CHECK(out.str().empty());
  Logs logs = loss_logs(0.25);
  logs.set("accuracy", 0.875);
  bar.update(10, logs, true);
  const std::string text = out.str();
  INFO(text);
  CHECK_THAT(text, StartsWith("10/10 - "));
  CHECK_THAT(text, Matches(R"(10/10 - 0s - \d+(ms|us)/step - loss: 0\.2500 - accuracy: 0\.8750\n)"));
}

TEST_CASE("Progbar pads the count to the target's width and verbose 0 prints nothing",
          "[callbacks][progbar]") {
  std::ostringstream out;
  callbacks::Progbar bar(100, 1, out, false);
  bar.update(7, loss_logs(0.1), true);  // an interrupted epoch: 7 of 100
  CHECK_THAT(out.str(), StartsWith("  7/100 [="));
  // 7/100 of 30 characters is 2.1 -> 2 filled, the last an arrow: "=>" followed by 28 dots.
  CHECK_THAT(out.str(), Contains("[=>" + std::string(28, '.') + "]"));

  std::ostringstream silent;
  callbacks::Progbar quiet(10, 0, silent, false);
  quiet.update(10, loss_logs(0.1), true);
  CHECK(silent.str().empty());
}

TEST_CASE("an interactive Progbar redraws in place with an ETA", "[callbacks][progbar]") {
  std::ostringstream out;
  callbacks::Progbar bar(4, 1, out, true);
  bar.update(1, loss_logs(2.0));
  const std::string running = out.str();
  INFO(running);
  CHECK_THAT(running, StartsWith("\r1/4 [======>"));  // 1/4 of 30 = 7.5 -> 7 filled: 6 '=' and '>'
  CHECK_THAT(running, Contains("ETA: ") && Contains("loss: 2.0000"));
  bar.update(4, loss_logs(1.5), true);
  CHECK_THAT(out.str(), Contains("\r4/4 [==============================] - 0s ") && Contains("loss: 1.5000"));
}

TEST_CASE("ProgbarLogger prints the epoch header and one line per epoch", "[callbacks][progbar]") {
  std::ostringstream out;
  callbacks::ProgbarLogger logger(out);
  logger.set_params({.epochs = 3, .steps = 5, .verbose = 2});
  CHECK_FALSE(logger.needs_batch_logs());
  logger.on_train_begin({});
  logger.on_epoch_begin(0, {});
  for (int64_t batch = 0; batch < 5; ++batch) logger.on_train_batch_end(batch, {});
  Logs epoch_logs = loss_logs(0.25);
  logger.on_epoch_end(0, epoch_logs);
  logger.on_train_end({});
  const std::string text = out.str();
  INFO(text);
  CHECK_THAT(text, Matches(R"(Epoch 1/3\n5/5 - 0s - \d+(ms|us)/step - loss: 0\.2500\n)"));
}

TEST_CASE("History records one value per epoch per key", "[callbacks][history]") {
  callbacks::History history;
  history.on_train_begin({});
  Logs first = loss_logs(1.0);
  first.set("val_loss", 1.5);
  history.on_epoch_end(0, first);
  Logs second = loss_logs(0.5);
  second.set("val_loss", 0.75);
  history.on_epoch_end(1, second);
  CHECK(history.epoch == std::vector<int>{0, 1});
  CHECK(history.history.at("loss") == std::vector<double>{1.0, 0.5});
  CHECK(history.history.at("val_loss") == std::vector<double>{1.5, 0.75});
  history.on_train_begin({});  // a new fit starts empty
  CHECK(history.history.empty());
  CHECK(history.epoch.empty());
}
