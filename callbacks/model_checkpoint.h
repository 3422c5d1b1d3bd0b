#pragma once
// ModelCheckpoint: saves the model (Model::save) or its weights (Model::save_weights) at the end of every epoch
// or every `save_freq` batches, optionally only when the monitored quantity improves, as Keras 3.
// `filepath` is a Python format string filled with epoch (1-based), batch (1-based, batch-frequency saves
// only) and the log values: "ckpt-{epoch:02d}-{val_loss:.2f}.keras". As in Keras 3 it must end in ".keras"
// or ".h5" (whole model) or, with save_weights_only, ".weights.h5".

#include <strata/callbacks/monitor_callback.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace strata::callbacks {

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  int verbose = 0;
  bool save_best_only = false;  // save only when `monitor` improves on the best so far
  bool save_weights_only = false;
  std::string mode = "auto";
  // "epoch", or a number of batches: saves after every that many training batches (counted across epochs).
  std::variant<std::string, int64_t> save_freq = std::string("epoch");
  // With save_best_only: the value to beat before the first save.
  std::optional<double> initial_value_threshold;
};

class ModelCheckpoint : public MonitorCallback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});

  // Batch-frequency saves format the filepath and test `monitor` with the batch's logs.
  bool needs_batch_logs() const override { return save_every_batches_ > 0; }
  bool chief_only() const override { return true; }
  void on_epoch_begin(int epoch, const Logs& logs) override { current_epoch_ = epoch; }
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;

  // The path a save at this point would use (epoch and batch 0-based, batch < 0 for an epoch-end save).
  std::string file_path(int epoch, int64_t batch, const Logs& logs) const;

 private:
  bool should_save_on_batch(int64_t batch);
  bool should_save(int epoch, const Logs& logs, const std::string& filepath);
  void save(int epoch, int64_t batch, const Logs& logs);

  std::string filepath_;
  ModelCheckpointOptions options_;
  int64_t save_every_batches_ = 0;  // 0: save at epoch ends
  int64_t batches_since_save_ = 0;
  std::optional<int64_t> last_batch_seen_;
  int current_epoch_ = 0;
};

}  // namespace strata::callbacks
