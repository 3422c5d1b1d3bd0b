#pragma once
// TensorBoard: Keras' callback that logs training to event files TensorBoard reads
// (callbacks/event_file_writer.h). As in Keras 3:
//   - `<log_dir>/train` gets `epoch_<name>` for every log without the val_ prefix, plus `epoch_learning_rate`
//     (and `epoch_steps_per_second` with write_steps_per_second) at step = epoch; `<log_dir>/validation` gets the
//     val_ entries without their prefix (`epoch_loss`), so both curves share a chart, and
//     `evaluation_<name>_vs_iterations` at step = optimizer iterations after each validation;
//   - with update_freq N (or "batch" = 1), `batch_<name>` every N training batches at step = the global batch count;
//   - histogram_freq: `<layer>/<weight>/histogram` of every layer's weights each histogram_freq epochs, with
//     write_grads their last gradients too, and with write_images the weights as images (`.../image`) where Keras
//     can show them;
//   - write_graph: the model config (tag "keras", plugin graph_keras_model) for Sequential and functional models.
// The validation run is created on first use, so a fit without validation has no validation directory.

#include <strata/callbacks/callback.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace strata {
class Model;
}

namespace strata::tensorboard {
class EventFileWriter;
}

namespace strata::callbacks {

struct TensorBoardOptions {
  std::string log_dir = "logs";
  int histogram_freq = 0;  // epochs between weight histograms; 0 writes none
  // With histogram_freq: also the gradients of the last training batch as `<layer>/<weight>_grad/histogram`
  // (Keras 1's write_grads; Keras 3 has no gradient histograms).
  bool write_grads = false;
  bool write_graph = true;
  bool write_images = false;
  bool write_steps_per_second = false;
  // "epoch", "batch" (every batch) or a number of batches between batch-level scalars.
  std::variant<std::string, int64_t> update_freq = std::string("epoch");
};

class TensorBoard : public Callback {
 public:
  explicit TensorBoard(TensorBoardOptions options = {});
  ~TensorBoard() override;
  TensorBoard(TensorBoard&&) noexcept;

  bool needs_batch_logs() const override { return batch_interval_ > 0; }
  bool chief_only() const override { return true; }

  void on_train_begin(const Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_batch_begin(int64_t batch, const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  void on_test_end(const Logs& logs) override;

  const TensorBoardOptions& options() const { return options_; }

 private:
  tensorboard::EventFileWriter& train_writer();
  tensorboard::EventFileWriter& val_writer();
  void log_weights(int epoch);
  void write_model_graph();

  TensorBoardOptions options_;
  int64_t batch_interval_ = 0;  // 0: epoch-level only
  std::unique_ptr<tensorboard::EventFileWriter> train_writer_;
  std::unique_ptr<tensorboard::EventFileWriter> val_writer_;
  int64_t global_train_batch_ = 0;
  int64_t previous_epoch_iterations_ = 0;
  double epoch_start_time_ = 0.0;
  bool in_fit_ = false;
};

// Notes for a run (not part of Keras' callback): model.summary() as a Markdown code block under tag
// "model_summary" and the command line (arguments quoted where needed) under "command_line", as text summaries at
// step 0 in `<log_dir>/train`, where TensorBoard's text dashboard shows them beside the curves.
void write_run_text(const std::string& log_dir, const Model& model, const std::vector<std::string>& command_line);

}  // namespace strata::callbacks
