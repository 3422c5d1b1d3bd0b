#pragma once
// Whole-model files: the model's config, its weights, the compile configuration and the optimizer's state, in
// the two formats Keras loads with keras.models.load_model:
//   - the legacy HDF5 model file ("m.h5", tf.keras 2's layout): root attributes model_config / training_config /
//     keras_version / backend, the group model_weights (legacy weights layout) and optimizer_weights;
//   - Keras 3's ".keras" archive: a zip of metadata.json, config.json (with compile_config) and model.weights.h5
//     (Keras 3's weights layout, optimizer variables under optimizer/vars).

#include <strata/models/model.h>

#include <memory>
#include <string>

namespace strata::savedmodel {

void write_legacy_model_file(const Model& model, const std::string& path, bool include_optimizer);
std::shared_ptr<Model> read_legacy_model_file(const std::string& path, bool compile);

void write_keras_archive(const Model& model, const std::string& path, bool include_optimizer);
std::shared_ptr<Model> read_keras_archive(const std::string& path, bool compile);

}  // namespace strata::savedmodel
