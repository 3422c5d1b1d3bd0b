#pragma once
// Model::save_weights / load_weights (defined in weights_files.cpp): which layout a file name or a file's content
// stands for, and the loader a whole-model file reuses on an already open file.

#include <strata/models/model.h>
#include <strata/savedmodel/hdf5.h>

#include <string>

namespace strata::savedmodel {

enum class WeightsLayout { keras3, legacy };

// As Keras: "*.weights.h5" is Keras 3's layout, any other "*.h5" / "*.hdf5" tf.keras 2's; anything else is a
// ValueError naming the path and the accepted suffixes.
WeightsLayout weights_layout_for_path(const std::string& filepath);

// Loads weights from an open file (or group) of either layout, detected from its content; checks everything
// before assigning anything. by_name applies to the legacy layout only (ValueError with a Keras 3 file).
void load_weights_from_group(const h5::Group& root, Model& model, const LoadWeightsOptions& options);

}  // namespace strata::savedmodel
