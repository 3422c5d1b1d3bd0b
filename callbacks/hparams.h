#pragma once
// TensorBoard's HParams dashboard, mirroring tensorboard.plugins.hparams.api (`hp`):
//   - HParam, Discrete / RealInterval / IntInterval and Metric declare an experiment, which write_experiment
//     logs (hp.hparams_config) as tag `_hparams_/experiment` in the top-level log directory;
//   - KerasCallback (hp.KerasCallback) logs one trial's values as `_hparams_/session_start_info` when fit
//     starts and `_hparams_/session_end_info` when it ends, in the trial's run directory;
//   - run_trials (not in `hp`; the loop every HParams tutorial writes by hand) trains one model per combination,
//     grid or random, each in `<log_dir>/run-<N>`, so the HParams table, parallel coordinates and scatter views
//     show every run with its metrics.
// Numbers are doubles, as TensorBoard stores them (google.protobuf.Value's number_value).

#include <strata/callbacks/callback.h>
#include <strata/callbacks/tensorboard.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace strata::tensorboard {
class EventFileWriter;
}

namespace strata::hparams {

using Value = std::variant<bool, double, std::string>;

// A finite set of values of one type (all bool, all numbers or all strings); TensorBoard shows them sorted.
struct Discrete {
  std::vector<Value> values;
};
struct RealInterval {
  double min_value;
  double max_value;
};
// Integers in [min_value, max_value]; TensorBoard has no integer type, so it shows a float interval.
struct IntInterval {
  int64_t min_value;
  int64_t max_value;
};
using Domain = std::variant<Discrete, RealInterval, IntInterval>;

struct HParam {
  std::string name;
  Domain domain;
  std::string display_name = "";
  std::string description = "";
};

enum class DatasetType { Unknown, Training, Validation };

// A scalar the dashboard shows per run: the last value of `tag` in the run's `group` subdirectory, e.g.
// {.tag = "epoch_accuracy", .group = "validation"} for what the TensorBoard callback logs.
struct Metric {
  std::string tag;
  std::string group = "";
  std::string display_name = "";
  std::string description = "";
  DatasetType dataset_type = DatasetType::Unknown;
};

// hp.hparams_config: checks the declarations (names non-empty and unique, discrete values of one type, intervals
// with min <= max) and logs the experiment into `log_dir`. Throws ValueError naming what is wrong.
void write_experiment(const std::string& log_dir, const std::vector<HParam>& hparams,
                      const std::vector<Metric>& metrics);

// hp.KerasCallback: one fit is one session. Its group name is `trial_id`, or else, as in Python, the SHA-256 of
// the values as compact JSON with sorted keys (integral numbers written as ints, like the ints a Python user
// passes, other numbers as Python's repr of a float). A session that began and is destroyed before
// on_train_end (fit threw) is logged as failed.
class KerasCallback : public Callback {
 public:
  KerasCallback(std::string writer_dir, std::map<std::string, Value> hparams, std::string trial_id = "");
  ~KerasCallback() override;
  KerasCallback(KerasCallback&&) noexcept;
  bool chief_only() const override { return true; }

  void on_train_begin(const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  const std::string& group_name() const { return group_name_; }

 private:
  void end_session(bool success);

  std::string writer_dir_;
  std::map<std::string, Value> hparams_;
  std::string group_name_;
  std::unique_ptr<tensorboard::EventFileWriter> writer_;  // open from on_train_begin to the session's end
  bool ended_ = false;  // one callback, one fit, as in Python
};

// Python's group name for a set of values (see KerasCallback).
std::string session_group_name(const std::map<std::string, Value>& hparams);

// One combination of values, and where its run is logged.
struct Trial {
  int64_t index;
  std::string run_dir;  // <log_dir>/run-<index>
  std::map<std::string, Value> values;
  std::vector<std::string> command_line;

  // The value of hparam `name`; ValueError naming it when it is missing or of another type.
  double number(const std::string& name) const;
  const std::string& string(const std::string& name) const;
  bool boolean(const std::string& name) const;

  // What a trial's fit adds to its callbacks: TensorBoard logging into run_dir (`train`, `validation`), the
  // hparams session, and, when fit starts, the model summary and the command line as text (write_run_text).
  std::vector<CallbackRef> callbacks(callbacks::TensorBoardOptions tensorboard = {}) const;
};

struct SearchOptions {
  // "grid": every combination of the Discrete domains, in declaration order (the last hparam varies fastest),
  // values in TensorBoard's sorted order; intervals cannot be enumerated, so grid rejects them.
  // "random": max_trials draws, each value uniform over its domain (discrete values, real or integer interval).
  std::string mode = "grid";
  int64_t max_trials = 0;  // grid: the first max_trials combinations, 0 for all; random: the number of draws (> 0)
  uint64_t seed = 0;       // random draws are the same for the same seed
  std::vector<std::string> command_line;  // logged as text with each run (e.g. main's argv)
};

struct TrialResult {
  Trial trial;
  Logs logs;  // what the trial function returned (the last epoch's logs)
};

// The combinations `options` selects, with run directories under `log_dir`; checks like write_experiment.
std::vector<Trial> enumerate_trials(const std::string& log_dir, const std::vector<HParam>& hparams,
                                    const SearchOptions& options);

// Writes the experiment into log_dir, then calls `train_trial` for every trial in order (it builds and fits a
// model, adding trial.callbacks() to fit, and returns the final logs), printing one line per trial.
std::vector<TrialResult> run_trials(const std::string& log_dir, const std::vector<HParam>& hparams,
                                    const std::vector<Metric>& metrics, const SearchOptions& options,
                                    const std::function<Logs(Trial&)>& train_trial);

}  // namespace strata::hparams
