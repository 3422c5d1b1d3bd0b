// Model::summary(): tf.keras 2's table, with the "Connected to" column for functional models that are not a
// plain chain.

#include <strata/core/error.h>
#include <strata/layers/input_layer.h>
#include <strata/models/functional_graph.h>
#include <strata/models/model.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>

namespace strata {
namespace {

// Sequential models, subclassed models and functional models that are a plain chain: 65 columns, the
// columns ending at 45%, 85% and 100% of the width.
constexpr size_t kLineLength = 65;
const std::vector<size_t> kColumnEnds = {29, 55, 65};
// Other functional models add "Connected to": 98 columns, ending at 30%, 60%, 70% and 100%.
constexpr size_t kGraphLineLength = 98;
const std::vector<size_t> kGraphColumnEnds = {29, 58, 68, 98};

// A table row as Keras prints it: a field too long for its column continues on the next line, broken early
// after the first "),", "},", "]," or "'," so list entries start their own lines. Each column but the last
// keeps two spaces free before the next one, and the first column is indented by one space.
std::string row(std::vector<std::string> fields, const std::vector<size_t>& ends) {
  static const char* kBreaks[] = {"),", "},", "],", "',"};
  std::string out;
  while (std::any_of(fields.begin(), fields.end(), [](const std::string& f) { return !f.empty(); })) {
    std::string line;
    for (size_t col = 0; col < fields.size(); ++col) {
      const bool last = col + 1 == fields.size();
      const size_t start = col == 0 ? 0 : ends[col - 1];
      size_t cutoff = ends[col] - start - (last ? 0 : 3);
      const std::string fits = fields[col].substr(0, cutoff);
      for (const char* mark : kBreaks)
        if (const size_t at = fits.find(mark); at != std::string::npos) cutoff = std::min(cutoff, at + 2);
      if (col == 0) line += ' ';
      line += fields[col].substr(0, cutoff);
      fields[col] = fields[col].size() > cutoff ? fields[col].substr(cutoff) : "";
      line += std::string(ends[col] - std::min(ends[col], line.size()), ' ');
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

// The graph's nodes that call `layer`, in the layer's node order (Keras' inbound nodes in this model).
std::vector<const Node*> nodes_of(const FunctionalGraph& graph, const Layer& layer) {
  std::vector<const Node*> nodes;
  for (const auto& node : graph.nodes())
    if (node->layer.get() == &layer) nodes.push_back(node.get());
  std::sort(nodes.begin(), nodes.end(),
            [](const Node* a, const Node* b) { return a->node_index < b->node_index; });
  return nodes;
}

// Keras' layer.output_shape: an InputLayer's is a list of one shape, "[(None, 32)]"; a layer with several
// outputs gives the list of their shapes; a layer whose calls in this model give different shapes,
// "multiple".
std::string graph_output_shape(const FunctionalGraph& graph, const Layer& layer) {
  const std::vector<const Node*> nodes = nodes_of(graph, layer);
  for (const Node* node : nodes)
    if (node->output_shapes != nodes.front()->output_shapes) return "multiple";
  const std::vector<Shape>& shapes = nodes.front()->output_shapes;
  if (shapes.size() == 1 && !dynamic_cast<const layers::InputLayer*>(&layer))
    return format_shape(shapes.front());
  std::string list;
  for (const auto& shape : shapes) list += (list.empty() ? "" : ", ") + format_shape(shape);
  return "[" + list + "]";
}

// The Python repr of the list of 'layer[node][tensor]' that the layer's calls in this model read.
std::string connected_to(const FunctionalGraph& graph, const Layer& layer) {
  std::string list;
  for (const Node* node : nodes_of(graph, layer))
    for (const auto& input : node->inputs) list += (list.empty() ? "'" : ", '") + input.describe() + "'";
  return "[" + list + "]";
}

// Keras prints a functional model in the Sequential format when it is a plain chain: one node per depth, none
// reading more than one tensor, and no layer called twice.
bool sequential_like(const FunctionalGraph& graph) {
  std::map<int, std::vector<const Node*>> by_depth;
  for (size_t i = 0; i < graph.nodes().size(); ++i)
    by_depth[graph.node_depths()[i]].push_back(graph.nodes()[i].get());
  for (const auto& [depth, nodes] : by_depth)
    if (nodes.size() > 1 || nodes.front()->inputs.size() > 1) return false;
  for (const auto& layer : graph.layers())
    if (nodes_of(graph, *layer).size() > 1) return false;
  return true;
}

}  // namespace

void Model::summary(std::ostream& out) const {
  if (!built())
    throw StateError(describe() +
                     ": summary() needs a built model; start it with an Input layer, or call fit() "
                     "or the model on a batch of data first");
  const bool connections = graph_ && !sequential_like(*graph_);
  const size_t width = connections ? kGraphLineLength : kLineLength;
  const std::vector<size_t>& ends = connections ? kGraphColumnEnds : kColumnEnds;
  std::vector<std::string> header = {"Layer (type)", "Output Shape", "Param #"};
  if (connections) header.push_back("Connected to");
  out << "Model: \"" << name() << "\"\n";
  out << std::string(width, '_') << '\n';
  out << row(header, ends);
  out << std::string(width, '=') << '\n';
  for (const auto& layer : sublayers()) {
    std::string shape;
    if (graph_) {
      shape = graph_output_shape(*graph_, *layer);
    } else {
      shape = layer->output_shape().empty() ? "multiple" : format_shape(layer->output_shape());
    }
    std::vector<std::string> fields = {layer->name() + " (" + layer->class_name() + ")", shape,
                                       std::to_string(layer->count_params())};
    if (connections) fields.push_back(connected_to(*graph_, *layer));
    out << row(fields, ends);
    out << std::string(width, ' ') << '\n';
  }
  out << std::string(width, '=') << '\n';
  const int64_t trainable = count(trainable_weights());
  const int64_t non_trainable = count(non_trainable_weights());
  out << "Total params: " << trainable + non_trainable << " (" << readable_size(trainable + non_trainable)
      << ")\n";
  out << "Trainable params: " << trainable << " (" << readable_size(trainable) << ")\n";
  out << "Non-trainable params: " << non_trainable << " (" << readable_size(non_trainable) << ")\n";
  out << std::string(width, '_') << '\n';
}

}  // namespace strata
