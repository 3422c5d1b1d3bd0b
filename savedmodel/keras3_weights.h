#pragma once
// Keras 3's HDF5 weights layout (`model.save_weights("x.weights.h5")`, and model.weights.h5 inside a .keras
// archive): each saved object is a group path ("layers/dense", "layers/lstm/cell") whose `vars` group holds
// datasets "0", "1", ... in Keras' variable order and a `name` attribute (the object's name); the model's own
// variables are the root's `vars`, and an optimizer's are `optimizer/vars`. Paths come from
// Layer::keras3_weight_groups().

#include <strata/models/model.h>
#include <strata/savedmodel/hdf5.h>
#include <strata/savedmodel/pending_weights.h>

#include <string>
#include <vector>

namespace strata::savedmodel {

// Writes `model`'s weights into `root`; with optimizer variables (in Keras 3's optimizer.variables order), also
// `optimizer/vars/0..` with `optimizer_name` as its name attribute.
void write_keras3_weights(h5::Group& root, const Model& model, const std::vector<at::Tensor>& optimizer_variables = {},
                          const std::string& optimizer_name = "");

// True when `root` holds this layout (a `layers` or `vars` group).
bool is_keras3_weights(const h5::Group& root);

// Reads and checks every weight of `model` (nothing is assigned; apply() the result). A missing path reads as no
// variables, as in Keras. Every object whose count or shapes differ is reported in one strata::ValueError naming
// the file, the path, the layer and the weight, unless skip_mismatch, which skips such objects with a warning.
PendingWeights read_keras3_weights(const h5::Group& root, const Model& model, bool skip_mismatch = false);

// The arrays of `optimizer/vars`, in order; empty when the file has none.
std::vector<at::Tensor> read_keras3_optimizer_variables(const h5::Group& root);

}  // namespace strata::savedmodel
