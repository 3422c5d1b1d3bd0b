#include "torch_baseline.h"

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <iostream>

#ifndef STRATA_BENCH_DIR
#define STRATA_BENCH_DIR "bench"
#endif

namespace strata::bench {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

PythonScriptResult run_python_script(const std::string& python, const std::string& script_name,
                                     const std::vector<std::string>& arguments) {
  PythonScriptResult result;
  if (access(python.c_str(), X_OK) != 0) {
    result.reason = python + " not found or not executable";
    return result;
  }
  const std::string script = std::string(STRATA_BENCH_DIR) + "/" + script_name;
  if (access(script.c_str(), R_OK) != 0) {
    result.reason = script + " not found";
    return result;
  }
  std::string command = shell_quote(python) + " " + shell_quote(script);
  for (const auto& argument : arguments) command += " " + shell_quote(argument);
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    result.reason = "popen failed for: " + command;
    return result;
  }
  std::string line, last_diagnostic;
  std::array<char, 4096> buffer{};
  auto handle_line = [&](const std::string& text) {
    if (!text.empty() && text.front() == '{' && nlohmann::json::accept(text)) {
      result.json_lines.push_back(text);
      return;
    }
    std::cerr << "  [python] " << text << '\n';
    if (!text.empty()) last_diagnostic = text;
  };
  while (fgets(buffer.data(), static_cast<int>(buffer.size()), pipe)) {
    line += buffer.data();
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      handle_line(line);
      line.clear();
    }
  }
  if (!line.empty()) handle_line(line);
  const int status = pclose(pipe);
  if (status != 0) {
    const std::string how = status == -1          ? std::string("could not be waited for")
                            : WIFEXITED(status)   ? "exited with status " + std::to_string(WEXITSTATUS(status))
                            : WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                                  : "ended with wait status " + std::to_string(status);
    result.reason = script_name + " " + how + (last_diagnostic.empty() ? std::string() : ": " + last_diagnostic);
  }
  return result;
}

TorchBaselineResult run_torch_baseline(const std::string& python, const std::vector<std::string>& arguments) {
  TorchBaselineResult result;
  PythonScriptResult run = run_python_script(python, "torch_baseline.py", arguments);
  for (const auto& text : run.json_lines) {
    const auto parsed = nlohmann::json::parse(text);
    if (parsed.contains("ms_per_step")) result.ms_per_step = parsed.at("ms_per_step").get<double>();
    if (parsed.contains("torch_version")) result.torch_version = parsed.at("torch_version").get<std::string>();
  }
  if (!run.reason.empty() || !result.ms_per_step) {
    result.ms_per_step.reset();
    result.reason = run.reason.empty() ? "torch_baseline.py printed no ms_per_step" : run.reason;
  }
  return result;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double round4(double value) { return std::round(value * 1e4) / 1e4; }

}  // namespace strata::bench
