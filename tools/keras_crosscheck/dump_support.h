#pragma once
// What both cross-check dumpers share: tensors as nested JSON lists, and the main() that runs every case
// (a case Strata cannot run is written with its error for the checker to report, not fatal) and writes them.

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace crosscheck {

inline nlohmann::json to_json(const at::Tensor& tensor) {
  at::Tensor t = tensor.to(at::kDouble).contiguous();
  if (t.dim() == 0) return t.item<double>();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(to_json(t[i]));
  return out;
}

struct NamedCase {
  nlohmann::json id;  // what the error record carries: {"id", ...}
  std::function<nlohmann::json(uint64_t seed)> run;
};

inline int run_cases(int argc, char** argv, const std::vector<NamedCase>& cases, uint64_t first_seed) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " OUT.json\n";
    return 2;
  }
  nlohmann::json out = nlohmann::json::array();
  uint64_t seed = first_seed;
  for (const auto& c : cases) {
    try {
      out.push_back(c.run(seed++));
    } catch (const std::exception& e) {
      nlohmann::json record = c.id;
      record["strata_error"] = e.what();
      out.push_back(record);
      std::cerr << record.at("id").get<std::string>() << ": " << e.what() << "\n";
    }
  }
  std::ofstream(argv[1]) << out.dump() << "\n";
  std::cout << "wrote " << out.size() << " cases to " << argv[1] << "\n";
  return 0;
}

}  // namespace crosscheck
