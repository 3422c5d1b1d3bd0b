#include <strata/core/atomic_file.h>
#include <strata/core/error.h>
#include <strata/savedmodel/compile_config.h>
#include <strata/savedmodel/hdf5.h>
#include <strata/savedmodel/json_text.h>
#include <strata/savedmodel/legacy_weights.h>
#include <strata/savedmodel/model_config.h>
#include <strata/savedmodel/model_files.h>
#include <strata/savedmodel/optimizer_state.h>
#include <strata/savedmodel/saving.h>

#include <nlohmann/json.hpp>

namespace strata::savedmodel {

// tf.keras 2 writes these attributes as byte strings (h5py's fixed-length strings); readers take either form.
void write_legacy_model_file(const Model& model, const std::string& path, bool include_optimizer) {
  const std::string config = models::serialize_model(model, models::KerasDialect::kKeras2).dump();
  const bool with_training = include_optimizer && model.compiled();
  const std::string training = with_training ? to_training_config(model.compile_options()).dump() : "";
  const OptimizerState optimizer = with_training ? optimizer_state_of(model) : OptimizerState{};

  write_atomically(path, [&](const std::string& temp_path) {
    auto file = h5::File::create(temp_path);
    file.set_string_attribute("keras_version", kLegacyKerasVersion, h5::StringType::fixed_ascii);
    file.set_string_attribute("backend", "tensorflow", h5::StringType::fixed_ascii);
    file.set_string_attribute("model_config", config, h5::StringType::fixed_ascii);
    auto weights = file.create_group("model_weights");
    write_legacy_weights(weights, model);
    if (with_training) file.set_string_attribute("training_config", training, h5::StringType::fixed_ascii);
    if (!optimizer.values.empty()) {
      auto group = file.create_group("optimizer_weights");
      group.set_string_list_attribute("weight_names", optimizer.names, h5::StringType::fixed_ascii);
      for (size_t i = 0; i < optimizer.values.size(); ++i) group.write_dataset(optimizer.names[i], optimizer.values[i]);
    }
    file.flush();
  });
}

std::shared_ptr<Model> read_legacy_model_file(const std::string& path, bool compile) {
  auto file = h5::File::open_read_only(path);
  if (!file.has_attribute("model_config"))
    throw ValueError("cannot load model from '" + path + "': the HDF5 file has no model_config attribute (" +
                     (file.has_attribute("layer_names") ? "it holds weights only; build the model and use load_weights"
                                                        : "it is not a Keras model file") +
                     ")");
  if (!file.is_group("model_weights"))
    throw ValueError("cannot load model from '" + path + "': the file has no model_weights group");
  auto model = models::model_from_config(parse_json(file.string_attribute("model_config"), path, "model_config"));
  read_legacy_weights(file.group("model_weights"), *model, {}).apply();

  if (compile && file.has_attribute("training_config")) {
    auto training = parse_json(file.string_attribute("training_config"), path, "training_config");
    model->compile(from_training_config(training, model->output_names()));
    if (file.is_group("optimizer_weights")) {
      auto group = file.group("optimizer_weights");
      std::vector<at::Tensor> values;
      for (const auto& name : group.string_list_attribute("weight_names")) values.push_back(group.read_dataset(name));
      restore_optimizer_state(*model, values, path);
    }
  }
  return model;
}

}  // namespace strata::savedmodel
