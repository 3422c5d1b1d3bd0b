// Model::summary(): tf.keras' table (65 columns; columns end at 45%, 85% and 100% of the width).

#include <strata/core/error.h>
#include <strata/models/model.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

namespace strata {
namespace {

constexpr size_t kLineLength = 65;
constexpr size_t kColumnEnds[] = {29, 55, 65};

// A table row; a field too long for its column continues on the next line, as in Keras. Columns keep
// two spaces free before the next one, and the first column is indented by one space.
std::string row(std::vector<std::string> fields) {
  std::string out;
  while (std::any_of(fields.begin(), fields.end(), [](const std::string& f) { return !f.empty(); })) {
    std::string line;
    for (size_t col = 0; col < fields.size(); ++col) {
      const size_t start = col == 0 ? 0 : kColumnEnds[col - 1];
      const size_t space = col + 1 == fields.size() ? 0 : 2;
      const size_t cutoff = kColumnEnds[col] - start - space - (col == 0 ? 1 : 0);
      if (col == 0) line += ' ';
      line += fields[col].substr(0, cutoff);
      fields[col] = fields[col].size() > cutoff ? fields[col].substr(cutoff) : "";
      line += std::string(kColumnEnds[col] - line.size(), ' ');
    }
    out += line + '\n';
  }
  return out;
}

// "397.54 KB": float32 parameters at 4 bytes each, in units of 1024.
std::string readable_size(int64_t params) {
  static const char* units[] = {"Byte", "KB", "MB", "GB", "TB"};
  double size = static_cast<double>(params) * 4.0;
  size_t unit = 0;
  while (size >= 1024.0 && unit + 1 < std::size(units)) {
    size /= 1024.0;
    ++unit;
  }
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f %s", size, units[unit]);
  return buffer;
}

int64_t count(const std::vector<at::Tensor>& tensors) {
  int64_t total = 0;
  for (const auto& t : tensors) total += t.numel();
  return total;
}

}  // namespace

void Model::summary(std::ostream& out) const {
  if (!built())
    throw StateError(describe() + ": summary() needs a built model; start it with an Input layer, or call fit() "
                     "or the model on a batch of data first");
  out << "Model: \"" << name() << "\"\n";
  out << std::string(kLineLength, '_') << '\n';
  out << row({"Layer (type)", "Output Shape", "Param #"});
  out << std::string(kLineLength, '=') << '\n';
  for (const auto& layer : sublayers()) {
    const std::string shape = layer->output_shape().empty() ? "multiple" : format_shape(layer->output_shape());
    out << row({layer->name() + " (" + layer->class_name() + ")", shape, std::to_string(layer->count_params())});
    out << std::string(kLineLength, ' ') << '\n';
  }
  out << std::string(kLineLength, '=') << '\n';
  const int64_t trainable = count(trainable_weights());
  const int64_t non_trainable = count(non_trainable_weights());
  out << "Total params: " << trainable + non_trainable << " (" << readable_size(trainable + non_trainable) << ")\n";
  out << "Trainable params: " << trainable << " (" << readable_size(trainable) << ")\n";
  out << "Non-trainable params: " << non_trainable << " (" << readable_size(non_trainable) << ")\n";
  out << std::string(kLineLength, '_') << '\n';
}

}  // namespace strata
