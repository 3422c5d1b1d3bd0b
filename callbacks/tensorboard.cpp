#include <strata/callbacks/tensorboard.h>
#include <strata/callbacks/event_file_writer.h>
#include <strata/core/error.h>
#include <strata/models/model.h>
#include <strata/savedmodel/model_config.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

namespace strata::callbacks {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

int64_t batch_interval(const std::variant<std::string, int64_t>& update_freq) {
  if (const auto* every = std::get_if<int64_t>(&update_freq)) {
    if (*every < 1) throw ValueError("TensorBoard: update_freq must be 'epoch', 'batch' or a number of batches >= 1, got " +
                                     std::to_string(*every));
    return *every;
  }
  const auto& name = std::get<std::string>(update_freq);
  if (name == "epoch") return 0;
  if (name == "batch") return 1;
  throw ValueError("TensorBoard: update_freq must be 'epoch', 'batch' or a number of batches >= 1, got '" + name + "'");
}

// Keras 3's _log_weight_as_image: squeezed weights as [k, height, width, 1] images (a bias as one column, a
// matrix with its longer side as width, a 3-D kernel as one image per leading slice); undefined when Keras
// writes no image for this shape.
at::Tensor weight_as_image(const at::Tensor& weight) {
  at::Tensor w = weight.detach().to(at::kCPU, at::kFloat).squeeze();
  if (w.dim() == 1) {
    w = w.reshape({1, w.size(0), 1, 1});
  } else if (w.dim() == 2) {
    if (w.size(0) > w.size(1)) w = w.t();
    w = w.reshape({1, w.size(0), w.size(1), 1});
  } else if (w.dim() == 3) {
    w = w.permute({2, 0, 1}).reshape({w.size(2), w.size(0), w.size(1), 1});
  }
  if (w.dim() == 4 && (w.size(3) == 1 || w.size(3) == 3 || w.size(3) == 4)) return w;
  return {};
}

}  // namespace

TensorBoard::TensorBoard(TensorBoardOptions options)
    : options_(std::move(options)), batch_interval_(batch_interval(options_.update_freq)) {
  if (options_.histogram_freq < 0)
    throw ValueError("TensorBoard: histogram_freq must be >= 0, got " + std::to_string(options_.histogram_freq));
  if (options_.write_grads && options_.histogram_freq == 0)
    throw ValueError("TensorBoard: write_grads needs histogram_freq >= 1 (gradients are written with the histograms)");
}

TensorBoard::~TensorBoard() = default;
TensorBoard::TensorBoard(TensorBoard&&) noexcept = default;

tensorboard::EventFileWriter& TensorBoard::train_writer() {
  if (!train_writer_)
    train_writer_ = std::make_unique<tensorboard::EventFileWriter>(
        (std::filesystem::path(options_.log_dir) / "train").string());
  return *train_writer_;
}

tensorboard::EventFileWriter& TensorBoard::val_writer() {
  if (!val_writer_)
    val_writer_ = std::make_unique<tensorboard::EventFileWriter>(
        (std::filesystem::path(options_.log_dir) / "validation").string());
  return *val_writer_;
}

void TensorBoard::on_train_begin(const Logs& logs) {
  global_train_batch_ = 0;
  previous_epoch_iterations_ = model() && model()->compiled() ? model()->optimizer().iterations() : 0;
  in_fit_ = true;
  train_writer();
  if (options_.write_graph) write_model_graph();
}

void TensorBoard::on_train_end(const Logs& logs) {
  in_fit_ = false;
  train_writer_.reset();
  val_writer_.reset();
}

void TensorBoard::on_epoch_begin(int epoch, const Logs& logs) { epoch_start_time_ = now_seconds(); }

void TensorBoard::on_train_batch_begin(int64_t batch, const Logs& logs) { ++global_train_batch_; }

void TensorBoard::on_train_batch_end(int64_t batch, const Logs& logs) {
  if (batch_interval_ == 0 || global_train_batch_ % batch_interval_ != 0) return;
  auto& writer = train_writer();
  for (const auto& [name, value] : logs) writer.scalar("batch_" + name, value, global_train_batch_);
}

void TensorBoard::on_epoch_end(int epoch, Logs& logs) {
  auto& train = train_writer();
  bool has_validation = false;
  for (const auto& [name, value] : logs) {
    if (starts_with(name, "val_")) {
      has_validation = true;
      continue;
    }
    train.scalar("epoch_" + name, value, epoch);
  }
  if (model() && model()->compiled()) {
    // Keras 3's _collect_learning_rate: the rate the optimizer uses now (a schedule evaluated at iterations).
    if (!logs.contains("learning_rate")) train.scalar("epoch_learning_rate", model()->optimizer().learning_rate(), epoch);
    if (options_.write_steps_per_second) {
      const int64_t iterations = model()->optimizer().iterations();
      const double elapsed = std::max(now_seconds() - epoch_start_time_, 1e-9);
      train.scalar("epoch_steps_per_second", static_cast<double>(iterations - previous_epoch_iterations_) / elapsed,
                   epoch);
      previous_epoch_iterations_ = iterations;
    }
  }
  if (has_validation) {
    auto& validation = val_writer();
    for (const auto& [name, value] : logs)
      if (starts_with(name, "val_")) validation.scalar("epoch_" + name.substr(4), value, epoch);
  }
  if (options_.histogram_freq > 0 && epoch % options_.histogram_freq == 0) log_weights(epoch);
}

void TensorBoard::on_test_end(const Logs& logs) {
  if (!model() || !model()->compiled()) return;
  const int64_t iterations = model()->optimizer().iterations();
  auto& validation = val_writer();
  for (const auto& [name, value] : logs)
    validation.scalar("evaluation_" + name + "_vs_iterations", value, iterations);
}

void TensorBoard::log_weights(int epoch) {
  auto& writer = train_writer();
  for (const auto& layer : model()->layers()) {
    for (const auto& variable : layer->variables()) {
      std::string name = variable.name;
      std::replace(name.begin(), name.end(), ':', '_');
      writer.histogram(name + "/histogram", variable.value, epoch);
      const at::Tensor& grad = variable.value.grad();
      // backward() left the last batch's gradient of the scaled loss; scale_loss(1) is the factor to undo.
      if (options_.write_grads && grad.defined())
        writer.histogram(name + "_grad/histogram", grad / model()->optimizer().scale_loss(at::ones({})), epoch);
      if (!options_.write_images) continue;
      at::Tensor image = weight_as_image(variable.value);
      if (image.defined()) writer.image(name + "/image", image, epoch);
    }
  }
}

void TensorBoard::write_model_graph() {
  // Keras writes the conceptual graph for Sequential and functional models only.
  if (!model() || (model()->class_name() != "Sequential" && !model()->graph())) return;
  train_writer().keras_model("keras", models::serialize_model(*model(), KerasDialect::kKeras3).dump(), 0);
}

void write_run_text(const std::string& log_dir, const Model& model, const std::vector<std::string>& command_line) {
  std::ostringstream summary;
  model.summary(summary);
  std::string quoted;
  for (const auto& arg : command_line) {
    if (!quoted.empty()) quoted += ' ';
    const bool plain = !arg.empty() && arg.find_first_of(" \t'\"$\\") == std::string::npos;
    quoted += plain ? arg : "'" + arg + "'";
  }
  tensorboard::EventFileWriter writer((std::filesystem::path(log_dir) / "train").string());
  writer.text("model_summary", "```\n" + summary.str() + "```", 0);
  writer.text("command_line", "`" + quoted + "`", 0);
}

}  // namespace strata::callbacks
