#pragma once
// A model's compile() arguments as the JSON Keras saves with the model, so a loaded model compiles the same
// way: Keras 3's `compile_config` (the .keras archive's config.json) and tf.keras 2's `training_config` (the
// legacy .h5 root attribute). Per-output forms (one value, a list by output position, a map by output name)
// keep their form, and losses and metrics given by name ("mse", "accuracy") stay names.

#include <nlohmann/json_fwd.hpp>
#include <strata/models/model.h>

#include <string>
#include <vector>

namespace strata::savedmodel {

// Keras 3: {"optimizer": serialized, "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly": false,
// "steps_per_execution": 1, "jit_compile": false}; unset options are null.
nlohmann::json to_compile_config(const CompileOptions& options);
CompileOptions from_compile_config(const nlohmann::json& config);

// tf.keras 2: {"loss", "metrics", "weighted_metrics", "loss_weights", "optimizer_config": {"class_name",
// "config"}}. tf.keras 2 writes each metric as an object named after its output ("out_accuracy", a
// MeanMetricWrapper); given the model's `output_names`, reading strips those prefixes, and a MeanMetricWrapper
// named like a metric Keras knows by name ("accuracy", "mae") comes back as that name.
nlohmann::json to_training_config(const CompileOptions& options);
CompileOptions from_training_config(const nlohmann::json& config, const std::vector<std::string>& output_names = {});

}  // namespace strata::savedmodel
