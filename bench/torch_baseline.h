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

double median(std::vector<double> values);
double round4(double value);

}  // namespace strata::bench
