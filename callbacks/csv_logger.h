#pragma once
// CSVLogger: one CSV row per epoch, as Keras 3 writes it — header "epoch" then the log keys sorted (plus a
// val_ column for each key when the first epoch has no validation keys), epoch 0-based, values as Python's
// repr(float), "NA" for a missing key, "\r\n" line ends (Python's csv module), flushed after every row.
// With append, an existing non-empty file is continued without a second header.

#include <strata/callbacks/callback.h>

#include <fstream>
#include <string>
#include <vector>

namespace strata::callbacks {

struct CSVLoggerOptions {
  std::string separator = ",";
  bool append = false;
};

class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, CSVLoggerOptions options = {});
  bool chief_only() const override { return true; }

  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;

 private:
  std::string filename_;
  CSVLoggerOptions options_;
  std::ofstream file_;
  std::vector<std::string> keys_;
  bool have_keys_ = false;
  bool write_header_ = true;
};

}  // namespace strata::callbacks
