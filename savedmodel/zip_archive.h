#pragma once
// The zip container of Keras 3's ".keras" files: members stored uncompressed, as Keras writes them. Reading also
// takes deflated members (another zip tool may have re-packed the archive). Every member's CRC-32 is checked.
// Zip64 (members or archives over 4 GiB) is refused with a clear error.

#include <cstdint>
#include <string>
#include <vector>

namespace strata::zip {

struct Member {
  std::string name;
  std::string data;
};

// The bytes of a zip archive holding `members` in this order, stored, with `unix_time` as their date.
std::string write_archive(const std::vector<Member>& members, int64_t unix_time);

// Every member of the archive in `bytes`; `source` (the file name) is what errors name.
std::vector<Member> read_archive(const std::string& bytes, const std::string& source);

}  // namespace strata::zip
