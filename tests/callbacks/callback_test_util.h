#pragma once
// Shared by the callback tests: a small compiled model to attach, scripted logs, and captured std::cout.

#include <strata/strata.h>

#include "../support/capture_stream.h"

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include <unistd.h>

namespace strata::testing {

inline std::shared_ptr<Sequential> small_model(double learning_rate = 0.1) {
  auto model = std::make_shared<Sequential>(std::vector<LayerRef>{layers::Input({3}), layers::Dense(2)});
  model->compile({.optimizer = optimizers::SGD({.learning_rate = learning_rate}), .loss = "mse", .metrics = {"mae"}});
  return model;
}

inline Logs make_logs(std::initializer_list<std::pair<const char*, double>> entries) {
  Logs logs;
  for (const auto& [key, value] : entries) logs.set(key, value);
  return logs;
}

// The whole file as bytes ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Ends an epoch with `logs` and returns them as the callback left them (callbacks may add entries).
inline Logs end_epoch(Callback& callback, int epoch, Logs logs) {
  callback.on_epoch_end(epoch, logs);
  return logs;
}

// Everything written to std::cout while it lives.
class CaptureCout : public CaptureStream {
 public:
  CaptureCout() : CaptureStream(std::cout) {}
};

// A fresh empty directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("strata_cb_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& file) const { return (path_ / file).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace strata::testing
