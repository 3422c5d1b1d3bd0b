#pragma once
// Runs bench/torch_baseline.py (the PyTorch Python baseline) and reads its JSON line, plus the small
// statistics the benchmarks share.

#include <optional>
#include <string>
#include <vector>

namespace strata::bench {

struct TorchBaselineResult {
  std::optional<double> ms_per_step;  // empty when the baseline could not run
  std::string reason;                 // why it could not run
  std::string torch_version;
};

// `python` runs STRATA_BENCH_DIR/torch_baseline.py with `arguments` (each passed as one word).
TorchBaselineResult run_torch_baseline(const std::string& python, const std::vector<std::string>& arguments);

struct PythonScriptResult {
  std::vector<std::string> json_lines;  // the stdout lines that parse as JSON objects, in order
  std::string reason;                   // empty when the script ran and exited 0, else why it did not
};

// `python` runs STRATA_BENCH_DIR/`script` with `arguments`; other output lines are echoed to stderr.
PythonScriptResult run_python_script(const std::string& python, const std::string& script,
                                     const std::vector<std::string>& arguments);

double median(std::vector<double> values);
double round4(double value);

}  // namespace strata::bench
