#pragma once
// Models back from what Model::to_json(), Model::save() and Model::save_weights() wrote, or from the same
// files written by Python Keras (Keras 3, and tf.keras 2 for the legacy formats).

#include <nlohmann/json_fwd.hpp>
#include <strata/models/model.h>

#include <memory>
#include <string>

namespace strata::models {

// Keras' model_from_json / model_from_config: a new, uncompiled model (Sequential, functional, or a registered
// custom class) from its serialized config, in Keras 3's or tf.keras 2's dialect. Its weights are freshly
// initialised.
std::shared_ptr<Model> model_from_json(const std::string& json);
std::shared_ptr<Model> model_from_config(const nlohmann::json& spec);
// Keras' clone_model: a new, uncompiled model of the same architecture (model_from_config of its config), with
// freshly initialised weights. The model must be Sequential, functional or a registered custom class.
std::shared_ptr<Model> clone_model(const Model& model);

struct LoadModelOptions {
  bool compile = true;  // compile with the saved configuration and restore the optimizer's state
};

// Keras' load_model: a ".keras" archive or a legacy ".h5" model file. Errors name the file and what is wrong.
std::shared_ptr<Model> load_model(const std::string& filepath, LoadModelOptions options = {});

}  // namespace strata::models
