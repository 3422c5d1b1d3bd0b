#pragma once
// BackupAndRestore (Keras 3's keras.callbacks.BackupAndRestore): fault-tolerant fit(). It backs up the training
// state into `backup_dir` at the end of each epoch (or every `save_freq` batches); when the process is killed and
// the same program runs again, fit()'s on_train_begin restores the model it was given (weights, and the
// optimizer's state so updates continue bit for bit) and the position, and fit() carries on from there (see
// Model::fit_start). When fit() completes, the backup is deleted (delete_checkpoint).
//
// Unlike Keras 3, which resumes at the start of the epoch the backup was made in, a backup made every N
// batches resumes after the last backed-up batch: fit() skips the batches of that epoch's shuffled order that
// were already trained, so a resumed run ends with the same weights as one that was never interrupted. Metric
// state is not backed up: the logs of an epoch resumed part way cover only the batches trained after the
// restart, and the History that fit() returns holds only the epochs it ran.
//
// Files in backup_dir: two weights slots, "backup_a.weights.h5" and "backup_b.weights.h5" (Keras 3's weights
// layout, with the optimizer's variables under "optimizer/vars"), and "training_metadata.json", which names
// the slot holding the latest backup with its position: {"epoch": E, "batch": B, "steps": S, "weights": ...},
// resume at epoch E after its first B batches (of S per epoch). A backup writes the slot the metadata does not
// name, then replaces the metadata; both writes are atomic (core/atomic_file.h), so a kill at any moment leaves
// the previous or the new backup whole, never a mix. With double_checkpoint the previous metadata is kept as
// "training_metadata.json.bkp" (its slot is left alone), and a latest backup that cannot be read falls back to it.
//
// In a distributed job only the chief writes and deletes backups; a worker that can read backup_dir restores
// from it too, and fit() then copies the chief's weights, optimizer state and position to every worker.

#include <strata/callbacks/callback.h>

#include <cstdint>
#include <string>
#include <variant>

namespace strata::callbacks {

struct BackupAndRestoreOptions {
  std::string backup_dir;
  // "epoch", or a number of batches: back up after every that many batches (counted across epochs, as Keras).
  std::variant<std::string, int64_t> save_freq = "epoch";
  // Keep the previous backup too, and fall back to it when the latest cannot be read.
  bool double_checkpoint = false;
  // Delete backup_dir when fit() ends (not when training is stopped by an exception or a kill).
  bool delete_checkpoint = true;
};

class BackupAndRestore : public Callback {
 public:
  // Throws ValueError for an empty backup_dir or a save_freq that is neither "epoch" nor a positive count.
  explicit BackupAndRestore(BackupAndRestoreOptions options);

  void on_train_begin(const Logs& logs) override;
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  const BackupAndRestoreOptions& options() const { return options_; }
  std::string metadata_path() const;

 private:
  // Restores the model and moves fit()'s start from the backup that `metadata` names (nothing when absent).
  // Checks everything before it changes the model; errors are strata::Error naming the unreadable file.
  void restore_from(const std::string& metadata);
  // Backs up the model now, to resume at `epoch` after its first `batch` batches.
  void back_up(int epoch, int64_t batch);

  BackupAndRestoreOptions options_;
  int64_t batch_interval_ = 0;  // save_freq as a count; 0 for "epoch"
  int current_epoch_ = 0;
  int64_t batches_since_backup_ = 0;
  // The latest whole backup (restored or written): its metadata as JSON text and its slot; empty when none.
  std::string latest_metadata_;
  std::string latest_slot_;
};

}  // namespace strata::callbacks
