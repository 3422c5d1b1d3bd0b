#include <strata/core/atomic_file.h>
#include <strata/core/error.h>
#include <strata/savedmodel/keras3_weights.h>
#include <strata/savedmodel/legacy_weights.h>
#include <strata/savedmodel/weights_files.h>

namespace strata {
namespace savedmodel {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

WeightsLayout weights_layout_for_path(const std::string& filepath) {
  if (ends_with(filepath, ".weights.h5")) return WeightsLayout::keras3;
  if (ends_with(filepath, ".h5") || ends_with(filepath, ".hdf5")) return WeightsLayout::legacy;
  throw ValueError("Cannot save weights to '" + filepath +
                   "': the file name must end in '.weights.h5' (Keras 3 layout) or '.h5' / '.hdf5' (tf.keras layout)");
}

void load_weights_from_group(const h5::Group& root, Model& model, const LoadWeightsOptions& options) {
  PendingWeights pending;
  if (is_legacy_weights(root)) {
    pending = read_legacy_weights(root, model, options);
  } else if (is_keras3_weights(root)) {
    if (options.by_name)
      throw ValueError("load_weights('" + root.file_path() +
                       "'): by_name applies to tf.keras .h5 files only; this file has Keras 3's layout, which matches "
                       "weights by model structure");
    pending = read_keras3_weights(root, model, options.skip_mismatch);
  } else {
    std::string found;
    for (const auto& child : root.children()) found += (found.empty() ? "" : ", ") + child;
    throw IOError("'" + root.file_path() +
                  "' is an HDF5 file but holds no Keras weights: expected a 'layer_names' attribute (tf.keras .h5), a "
                  "'model_weights' group (whole-model .h5) or 'layers'/'vars' groups (Keras 3 .weights.h5); found [" +
                  found + "]");
  }
  pending.apply();
}

}  // namespace savedmodel

void Model::save_weights(const std::string& filepath) const {
  const auto layout = savedmodel::weights_layout_for_path(filepath);
  if (!built())
    throw StateError(describe() + ": save_weights('" + filepath +
                     "') needs a built model, as in Keras: call it on data, fit it or give it an Input first");
  write_atomically(filepath, [&](const std::string& temp_path) {
    auto file = h5::File::create(temp_path);
    if (layout == savedmodel::WeightsLayout::keras3) savedmodel::write_keras3_weights(file, *this);
    else savedmodel::write_legacy_weights(file, *this);
    file.flush();
  });
}

void Model::load_weights(const std::string& filepath, LoadWeightsOptions options) {
  if (!built())
    throw StateError(describe() + ": load_weights('" + filepath +
                     "') needs a built model, as in Keras: call it on data or give it an Input first");
  const auto file = h5::File::open_read_only(filepath);
  savedmodel::load_weights_from_group(file, *this, options);
}

}  // namespace strata
