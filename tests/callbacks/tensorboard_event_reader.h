#pragma once
// Reading event files back in the TensorBoard tests (test_tensorboard*.cpp, which see the generated headers).

#include <strata/callbacks/event_file_writer.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "strata_tb_event.pb.h"

namespace tb_test {

inline uint64_t read_le(const std::string& bytes, size_t at, int size) {
  uint64_t v = 0;
  for (int i = size - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

// Every complete record of an event file, CRCs checked; `incomplete` tells whether bytes after the last
// complete record were left (a record cut off by a crash).
inline std::vector<strata_tb::Event> read_events(const std::string& path, bool* incomplete = nullptr) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<strata_tb::Event> events;
  size_t at = 0;
  while (at + 12 <= bytes.size()) {
    const uint64_t length = read_le(bytes, at, 8);
    REQUIRE(read_le(bytes, at + 8, 4) == strata::tensorboard::masked_crc32c(bytes.data() + at, 8));
    if (at + 16 + length > bytes.size()) break;
    const std::string data = bytes.substr(at + 12, length);
    REQUIRE(read_le(bytes, at + 12 + length, 4) == strata::tensorboard::masked_crc32c(data.data(), data.size()));
    strata_tb::Event event;
    REQUIRE(event.ParseFromString(data));
    events.push_back(event);
    at += 16 + length;
  }
  if (incomplete) *incomplete = at != bytes.size();
  return events;
}

inline std::string only_event_file(const std::filesystem::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().find("tfevents") != std::string::npos) files.push_back(entry.path().string());
  REQUIRE(files.size() == 1);
  return files[0];
}

}  // namespace tb_test
