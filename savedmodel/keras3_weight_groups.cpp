// Where Keras 3 keeps each built-in layer's weights: the overrides of Layer::keras3_weight_groups for the
// layers whose Keras attribute names differ from the default walk. Every path here was checked against a file
// written by Keras 3.15's save_weights (tests/savedmodel/test_keras3_layout.cpp holds the same facts).

#include <strata/core/naming.h>
#include <strata/layers/attention.h>
#include <strata/layers/recurrent.h>
#include <strata/layers/wrappers.h>
#include <strata/models/model.h>

namespace strata {

std::vector<WeightGroup> Model::keras3_weight_groups() const {
  std::vector<WeightGroup> out{{"", name(), own_variables()}};
  std::map<std::string, int> used;
  for (const auto& layer : layers()) {
    const std::string base = to_snake_case(layer->class_name());
    const int seen = used[base]++;
    nest_weight_groups(out, "layers/" + (seen == 0 ? base : base + "_" + std::to_string(seen)), *layer);
  }
  return out;
}

namespace layers {

std::vector<WeightGroup> RNNBase::keras3_weight_groups() const {
  return {{"", name(), {}}, {"cell", to_snake_case(class_name()) + "_cell", own_variables()}};
}

std::vector<WeightGroup> Bidirectional::keras3_weight_groups() const {
  std::vector<WeightGroup> out{{"", name(), {}}};
  nest_weight_groups(out, "forward_layer", *forward_);
  nest_weight_groups(out, "backward_layer", *backward_);
  return out;
}

std::vector<WeightGroup> TimeDistributed::keras3_weight_groups() const {
  std::vector<WeightGroup> out{{"", name(), {}}};
  nest_weight_groups(out, "layer", *layer_);
  return out;
}

std::vector<WeightGroup> MultiHeadAttention::keras3_weight_groups() const {
  // Strata keeps the four projections as own variables named "query/kernel", ...; Keras has an EinsumDense each.
  const std::pair<const char*, const char*> projections[] = {
      {"query_dense", "query"}, {"key_dense", "key"}, {"value_dense", "value"}, {"output_dense", "attention_output"}};
  std::vector<WeightGroup> out{{"", name(), {}}};
  const auto own = own_variables();
  for (const auto& [path, object] : projections) {
    WeightGroup group{path, object, {}};
    const std::string prefix = std::string(object) + "/";
    for (const auto& var : own)
      if (var.name.rfind(prefix, 0) == 0) group.variables.push_back(var);
    out.push_back(std::move(group));
  }
  out.push_back({"_dropout_layer", "dropout", {}});
  out.push_back({"_softmax", "softmax", {}});
  return out;
}

}  // namespace layers
}  // namespace strata
