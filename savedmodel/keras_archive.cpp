#include <strata/core/atomic_file.h>
#include <strata/core/error.h>
#include <strata/savedmodel/compile_config.h>
#include <strata/savedmodel/hdf5.h>
#include <strata/savedmodel/json_text.h>
#include <strata/savedmodel/keras3_weights.h>
#include <strata/savedmodel/model_config.h>
#include <strata/savedmodel/model_files.h>
#include <strata/savedmodel/optimizer_state.h>
#include <strata/savedmodel/saving.h>
#include <strata/savedmodel/scratch_file.h>
#include <strata/savedmodel/zip_archive.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>

namespace strata::savedmodel {
namespace {

// The Keras release whose archive layout Strata writes; Keras' loader does not read metadata.json.
constexpr const char* kKeras3Version = "3.15.1";
constexpr const char* kStrataVersion = "0.1.0";

std::string metadata_json(int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm parts{};
  localtime_r(&t, &parts);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", &parts);  // Keras' date_saved format
  return nlohmann::json{{"keras_version", kKeras3Version}, {"strata_version", kStrataVersion}, {"date_saved", date}}
      .dump();
}

const zip::Member* find_member(const std::vector<zip::Member>& members, const std::string& name) {
  for (const auto& member : members)
    if (member.name == name) return &member;
  return nullptr;
}

}  // namespace

void write_keras_archive(const Model& model, const std::string& path, bool include_optimizer) {
  nlohmann::json config = models::serialize_model(model, models::KerasDialect::kKeras3);
  const bool with_training = include_optimizer && model.compiled();
  if (with_training) config["compile_config"] = to_compile_config(model.compile_options());
  const OptimizerState optimizer = with_training ? optimizer_state_of(model) : OptimizerState{};

  ScratchFile weights(".weights.h5");
  {
    auto file = h5::File::create(weights.path());
    write_keras3_weights(file, model, optimizer.values, with_training ? model.optimizer().name() : "");
    file.flush();
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  // Keras writes the members in this order, uncompressed.
  const std::string archive = zip::write_archive({{"metadata.json", metadata_json(now)},
                                                  {"config.json", config.dump()},
                                                  {"model.weights.h5", read_file_bytes(weights.path())}},
                                                 now);
  write_file_atomically(path, archive);
}

std::shared_ptr<Model> read_keras_archive(const std::string& path, bool compile) {
  const auto members = zip::read_archive(read_file_bytes(path), path);
  const zip::Member* config_member = find_member(members, "config.json");
  const zip::Member* weights_member = find_member(members, "model.weights.h5");
  if (config_member == nullptr)
    throw ValueError("cannot load '" + path + "': the archive has no config.json (not a Keras 3 model archive)");
  if (weights_member == nullptr)
    throw ValueError("cannot load '" + path + "': the archive has no model.weights.h5" +
                     (find_member(members, "model.weights.npz") ? " (weights stored as .npz are not supported)" : ""));

  nlohmann::json config = parse_json(config_member->data, path, "config.json");
  auto model = models::model_from_config(config);
  ScratchFile weights(".weights.h5");
  weights.write(weights_member->data);
  auto file = h5::File::open_read_only(weights.path());
  try {
    read_keras3_weights(file, *model).apply();
  } catch (const Error& e) {
    throw ValueError("cannot load '" + path + "' (model.weights.h5): " + e.what());
  }
  if (compile && config.contains("compile_config") && !config["compile_config"].is_null()) {
    model->compile(from_compile_config(config["compile_config"]));
    restore_optimizer_state(*model, read_keras3_optimizer_variables(file), path);
  }
  return model;
}

}  // namespace strata::savedmodel
