#pragma once
// Whole files as bytes, and a temporary file that removes itself: the .keras archive keeps its HDF5 weights as
// a zip member, and HDF5 reads and writes files, not memory.

#include <string>

namespace strata::savedmodel {

// The file's bytes; IOError naming the path when it cannot be read.
std::string read_file_bytes(const std::string& path);

class ScratchFile {
 public:
  // A new empty file in the system's temporary directory; `suffix` ends its name (".h5").
  explicit ScratchFile(const std::string& suffix);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }
  void write(const std::string& bytes) const;

 private:
  std::string path_;
};

}  // namespace strata::savedmodel
