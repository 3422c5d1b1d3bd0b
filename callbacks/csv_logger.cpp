#include <strata/callbacks/csv_logger.h>
#include <strata/callbacks/python_format.h>
#include <strata/core/error.h>

#include <algorithm>

namespace strata::callbacks {

CSVLogger::CSVLogger(std::string filename, CSVLoggerOptions options)
    : filename_(std::move(filename)), options_(std::move(options)) {
  if (options_.separator.size() != 1)
    throw ValueError("CSVLogger: expected a one-character separator, got \"" + options_.separator + "\"");
}

void CSVLogger::on_train_begin(const Logs& logs) {
  write_header_ = true;
  if (options_.append) {
    // Keras writes the header only when the file is missing or its first line is empty.
    std::ifstream existing(filename_);
    std::string first_line;
    if (existing && std::getline(existing, first_line)) write_header_ = first_line.empty();
  }
  file_.close();
  file_.open(filename_, options_.append ? std::ios::app : std::ios::trunc);
  if (!file_) throw IOError("CSVLogger: cannot open \"" + filename_ + "\" for writing");
  keys_.clear();
  have_keys_ = false;
}

void CSVLogger::on_epoch_end(int epoch, Logs& logs) {
  if (!file_.is_open()) on_train_begin({});
  if (!have_keys_) {
    for (const auto& [key, value] : logs) keys_.push_back(key);
    std::sort(keys_.begin(), keys_.end());
    // Keras reserves val_ columns when the first epoch has none (validation may start later).
    const bool has_val = std::any_of(keys_.begin(), keys_.end(), [](const std::string& k) { return k.rfind("val_", 0) == 0; });
    if (!has_val && !keys_.empty()) {
      const size_t n = keys_.size();
      for (size_t i = 0; i < n; ++i) keys_.push_back("val_" + keys_[i]);
    }
    have_keys_ = true;
    if (write_header_) {
      file_ << "epoch";
      for (const auto& key : keys_) file_ << options_.separator << key;
      file_ << "\r\n";
    }
  }
  file_ << epoch;
  for (const auto& key : keys_) {
    const std::optional<double> value = logs.get(key);
    file_ << options_.separator << (value ? python_float_repr(*value) : "NA");
  }
  file_ << "\r\n";
  file_.flush();
  if (!file_) throw IOError("CSVLogger: writing \"" + filename_ + "\" failed");
}

void CSVLogger::on_train_end(const Logs& logs) {
  file_.close();
  have_keys_ = false;
}

}  // namespace strata::callbacks
