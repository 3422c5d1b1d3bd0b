#include <nlohmann/json.hpp>
#include <strata/callbacks/backup_and_restore.h>
#include <strata/core/atomic_file.h>
#include <strata/core/error.h>
#include <strata/models/model.h>
#include <strata/savedmodel/keras3_weights.h>
#include <strata/savedmodel/optimizer_state.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace strata::callbacks {
namespace {

namespace fs = std::filesystem;

const char* const kSlotA = "backup_a.weights.h5";
const char* const kSlotB = "backup_b.weights.h5";
const char* const kWho = "BackupAndRestore";

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

nlohmann::json read_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(std::string(kWho) + ": cannot open backup metadata '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  const auto fail = [&](const std::string& why) {
    return IOError(std::string(kWho) + ": backup metadata '" + path + "' is corrupt: " + why +
                   "; delete the backup directory to train from the start");
  };
  nlohmann::json metadata = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (metadata.is_discarded() || !metadata.is_object()) throw fail("not a JSON object");
  for (const char* key : {"epoch", "batch", "steps"})
    if (!metadata.contains(key) || !metadata[key].is_number_integer() || metadata[key].get<int64_t>() < 0)
      throw fail(std::string("expected a non-negative integer \"") + key + "\"");
  if (!metadata.contains("weights") || !metadata["weights"].is_string() ||
      (metadata["weights"] != kSlotA && metadata["weights"] != kSlotB))
    throw fail(std::string("expected \"weights\": \"") + kSlotA + "\" or \"" + kSlotB + "\"");
  return metadata;
}

}  // namespace

BackupAndRestore::BackupAndRestore(BackupAndRestoreOptions options) : options_(std::move(options)) {
  if (options_.backup_dir.empty()) throw ValueError(std::string(kWho) + ": empty backup_dir");
  if (const auto* text = std::get_if<std::string>(&options_.save_freq)) {
    if (*text != "epoch")
      throw ValueError(std::string(kWho) + ": expected save_freq \"epoch\" or a number of batches, got \"" + *text +
                       "\"");
  } else {
    batch_interval_ = std::get<int64_t>(options_.save_freq);
    if (batch_interval_ < 1)
      throw ValueError(std::string(kWho) + ": expected save_freq \"epoch\" or a number of batches >= 1, got " +
                       std::to_string(batch_interval_));
  }
}

std::string BackupAndRestore::metadata_path() const { return join(options_.backup_dir, "training_metadata.json"); }

void BackupAndRestore::on_train_begin(const Logs&) {
  if (!model()->built())
    throw StateError(std::string(kWho) + ": the model must be built before fit() so a backup can be restored into it");
  latest_metadata_.clear();
  latest_slot_.clear();
  batches_since_backup_ = 0;
  const std::string latest = metadata_path();
  const std::string previous = latest + ".bkp";
  if (fs::exists(latest)) {
    try {
      restore_from(latest);
    } catch (const Error& error) {
      if (!options_.double_checkpoint || !fs::exists(previous)) throw;
      std::cerr << "WARNING: " << error.what() << "; restoring the previous backup ('" << previous << "') instead\n";
      restore_from(previous);
    }
  }
  current_epoch_ = model()->fit_start.epoch;
}

void BackupAndRestore::restore_from(const std::string& metadata_file) {
  Model& model = *this->model();
  nlohmann::json metadata = read_metadata(metadata_file);
  const auto epoch = metadata["epoch"].get<int64_t>();
  const auto batch = metadata["batch"].get<int64_t>();
  const auto steps = metadata["steps"].get<int64_t>();
  if (batch > 0 && steps != params().steps)
    throw ValueError(std::string(kWho) + ": the backup in '" + metadata_file + "' stopped after batch " +
                     std::to_string(batch) + " of " + std::to_string(steps) + " per epoch, but this fit() has " +
                     std::to_string(params().steps) + " batches per epoch (another batch_size or data set?)");
  const std::string weights_path = join(options_.backup_dir, metadata["weights"].get<std::string>());
  // Everything is read and checked before the model or its optimizer changes.
  const auto file = h5::File::open_read_only(weights_path);
  savedmodel::PendingWeights pending = savedmodel::read_keras3_weights(file, model);
  const std::vector<at::Tensor> optimizer_values = savedmodel::read_keras3_optimizer_variables(file);
  if (!optimizer_values.empty()) {
    std::vector<at::Tensor> variables;
    std::vector<std::string> names;
    for (const auto& variable : model.variables()) {
      if (!variable.trainable) continue;
      variables.push_back(variable.value);
      names.push_back(variable.name);
    }
    model.optimizer().build(variables, names);  // as fit() builds it, so set_state's order matches
    try {
      model.optimizer().set_state(optimizer_values);  // checks every tensor before it assigns any
    } catch (const Error& error) {
      throw ValueError(std::string(kWho) + ": the optimizer state in '" + weights_path + "' does not fit " +
                       model.optimizer().class_name() + " on this model: " + error.what());
    }
  }
  pending.apply();
  model.fit_start = {static_cast<int>(epoch), batch};
  latest_metadata_ = metadata.dump();
  latest_slot_ = metadata["weights"].get<std::string>();
}

void BackupAndRestore::on_epoch_begin(int epoch, const Logs&) { current_epoch_ = epoch; }

void BackupAndRestore::on_train_batch_end(int64_t batch, const Logs&) {
  if (batch_interval_ == 0 || ++batches_since_backup_ < batch_interval_) return;
  batches_since_backup_ = 0;
  back_up(current_epoch_, batch + 1);
}

void BackupAndRestore::on_epoch_end(int epoch, Logs&) {
  if (batch_interval_ == 0) back_up(epoch + 1, 0);
}

void BackupAndRestore::on_train_end(const Logs&) {
  if (!options_.delete_checkpoint || !model()->distribute_strategy().is_chief()) return;
  std::error_code error;
  fs::remove_all(options_.backup_dir, error);
  if (error)
    throw IOError(std::string(kWho) + ": cannot delete backup_dir '" + options_.backup_dir + "': " + error.message());
}

void BackupAndRestore::back_up(int epoch, int64_t batch) {
  const Model& model = *this->model();
  // In a distributed job only the chief writes; every worker restores (fit() then copies the chief's state).
  if (!model.distribute_strategy().is_chief()) return;
  std::error_code error;
  fs::create_directories(options_.backup_dir, error);
  if (error)
    throw IOError(std::string(kWho) + ": cannot create backup_dir '" + options_.backup_dir + "': " + error.message());
  // The order keeps a whole backup on disk at every moment: the previous metadata is kept first (its slot is
  // the one not written now), then the new weights go to the other slot, and the new metadata commits them.
  if (options_.double_checkpoint && !latest_metadata_.empty())
    write_file_atomically(metadata_path() + ".bkp", latest_metadata_);
  const std::string slot = latest_slot_ == kSlotA ? kSlotB : kSlotA;
  const savedmodel::OptimizerState optimizer = savedmodel::optimizer_state_of(model);
  write_atomically(join(options_.backup_dir, slot), [&](const std::string& temp_path) {
    auto file = h5::File::create(temp_path);
    savedmodel::write_keras3_weights(file, model, optimizer.values,
                                     optimizer.values.empty() ? "" : model.optimizer().name());
    file.flush();
  });
  nlohmann::json metadata = {{"epoch", epoch}, {"batch", batch}, {"steps", params().steps}, {"weights", slot}};
  write_file_atomically(metadata_path(), metadata.dump());
  latest_metadata_ = metadata.dump();
  latest_slot_ = slot;
}

}  // namespace strata::callbacks
