#pragma once
// tf.keras 2's HDF5 weights layout (what `model.save_weights("x.h5")` writes, and the `model_weights` group of a
// whole-model .h5 file): root attributes layer_names / backend / keras_version, one group per layer with a
// `weight_names` attribute and a dataset at each weight name ("dense/kernel:0"), and top_level_model_weights.

#include <strata/models/model.h>
#include <strata/savedmodel/hdf5.h>
#include <strata/savedmodel/pending_weights.h>

#include <string>
#include <utility>
#include <vector>

namespace strata::savedmodel {

// The keras_version written into legacy files: the tf.keras release whose layout these files follow. Keras 2
// applies Keras 1 conversions to files without one, so it is always written.
inline constexpr const char* kLegacyKerasVersion = "2.15.0";

// `layer`'s weights as tf.keras saves them: trainable then non-trainable, each with its Keras 2 name
// ("lstm/lstm_cell/kernel:0"; a nested model's are named by its own layers: "dense_1/kernel:0").
std::vector<std::pair<std::string, at::Tensor>> legacy_layer_weights(const Layer& layer);

// Writes `model`'s weights into `group` (the root of a weights file, or a whole-model file's model_weights).
void write_legacy_weights(h5::Group& group, const Model& model);

// True when `group` holds this layout: a `layer_names` attribute, or a whole-model file's `model_weights` group.
bool is_legacy_weights(const h5::Group& group);

// Reads and checks every weight for `model` (Keras' load_weights_from_hdf5_group: layers with weights matched in
// order, or by layer name with options.by_name; options.skip_mismatch skips, with a warning, layers whose
// weight count or shapes differ). Nothing is assigned; apply() the result. Every mismatch is reported in one
// strata::ValueError naming the file, the layers and the weights; unreadable data is a strata::IOError.
PendingWeights read_legacy_weights(const h5::Group& group, const Model& model, const LoadWeightsOptions& options);

}  // namespace strata::savedmodel
