#include <strata/callbacks/model_checkpoint.h>
#include <strata/callbacks/python_format.h>
#include <strata/core/error.h>
#include <strata/models/model.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace strata::callbacks {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Python's f"{value:.5f}" (inf/nan spelled as Python does).
std::string fixed5(double value) {
  if (!std::isfinite(value)) return python_float_repr(value);
  char text[64];
  std::snprintf(text, sizeof(text), "%.5f", value);
  return text;
}

}  // namespace

ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : MonitorCallback("ModelCheckpoint", options.monitor, options.mode, options.initial_value_threshold, 0.0),
      filepath_(std::move(filepath)),
      options_(std::move(options)) {
  if (const auto* text = std::get_if<std::string>(&options_.save_freq)) {
    if (*text != "epoch")
      throw ValueError("Unrecognized save_freq: " + *text + ". Expected save_freq are 'epoch' or integer values");
  } else {
    save_every_batches_ = std::get<int64_t>(options_.save_freq);
    if (save_every_batches_ <= 0)
      throw ValueError("ModelCheckpoint: expected save_freq \"epoch\" or a positive number of batches, got " +
                       std::to_string(save_every_batches_));
  }
  if (options_.save_weights_only) {
    if (!ends_with(filepath_, ".weights.h5"))
      throw ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must end in "
                       "`.weights.h5` (Keras weights format). Received: filepath=" + filepath_);
  } else if (!ends_with(filepath_, ".keras") && !ends_with(filepath_, ".h5")) {
    throw ValueError("The filepath provided must end in `.keras` (Keras model format). Received: filepath=" + filepath_);
  }
}

std::string ModelCheckpoint::file_path(int epoch, int64_t batch, const Logs& logs) const {
  std::map<std::string, FormatValue> values;
  for (const auto& [key, value] : logs) values[key] = value;
  values["epoch"] = static_cast<int64_t>(epoch + 1);
  if (batch >= 0 && !logs.contains("batch")) values["batch"] = batch + 1;
  try {
    return python_format(filepath_, values);
  } catch (const ValueError& e) {
    throw ValueError(std::string("Failed to format this callback filepath: \"") + filepath_ + "\". Reason: " + e.what());
  }
}

void ModelCheckpoint::on_epoch_end(int epoch, Logs& logs) {
  resolve_mode();
  if (save_every_batches_ == 0) save(epoch, -1, logs);
}

void ModelCheckpoint::on_train_batch_end(int64_t batch, const Logs& logs) {
  if (should_save_on_batch(batch)) save(current_epoch_, batch, logs);
}

bool ModelCheckpoint::should_save_on_batch(int64_t batch) {
  if (save_every_batches_ == 0) return false;
  // A batch index not above the last one means a new epoch began; batches count across epochs.
  const int64_t added = (!last_batch_seen_ || batch <= *last_batch_seen_) ? batch + 1 : batch - *last_batch_seen_;
  batches_since_save_ += added;
  last_batch_seen_ = batch;
  if (batches_since_save_ < save_every_batches_) return false;
  batches_since_save_ = 0;
  return true;
}

bool ModelCheckpoint::should_save(int epoch, const Logs& logs, const std::string& filepath) {
  if (!options_.save_best_only) {
    if (options_.verbose > 0) std::cout << "\nEpoch " << epoch + 1 << ": saving model to " << filepath << "\n";
    return true;
  }
  const std::optional<double> current = logs.get(monitor_);
  if (!current) {
    std::cerr << "Warning: Can save best model only with " << monitor_ << " available.\n";
    return true;  // Keras 3 then saves anyway
  }
  resolve_mode();
  const std::string best_text = best_ ? fixed5(*best_) : "None";
  if (is_improvement(*current, best_)) {
    if (options_.verbose > 0)
      std::cout << "\nEpoch " << epoch + 1 << ": " << monitor_ << " improved from " << best_text << " to "
                << fixed5(*current) << ", saving model to " << filepath << "\n";
    best_ = *current;
    return true;
  }
  if (options_.verbose > 0)
    std::cout << "\nEpoch " << epoch + 1 << ": " << monitor_ << " did not improve from " << best_text << "\n";
  return false;
}

void ModelCheckpoint::save(int epoch, int64_t batch, const Logs& logs) {
  const std::string filepath = file_path(epoch, batch, logs);
  if (!should_save(epoch, logs, filepath)) return;
  if (std::filesystem::is_directory(filepath))
    throw IOError("Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing "
                  "directory: " + filepath);
  const std::filesystem::path dir = std::filesystem::path(filepath).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  if (options_.save_weights_only) {
    model()->save_weights(filepath);
  } else {
    model()->save(filepath);
  }
  if (options_.verbose > 0) std::cout << "\nEpoch " << epoch + 1 << ": finished saving model to " << filepath << "\n";
}

}  // namespace strata::callbacks
