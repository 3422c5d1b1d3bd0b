#include <strata/core/error.h>
#include <strata/savedmodel/scratch_file.h>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace strata::savedmodel {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw IOError("cannot read '" + path + "'");
  return std::move(bytes).str();
}

ScratchFile::ScratchFile(const std::string& suffix) {
  std::string pattern = (std::filesystem::temp_directory_path() / ("strata-XXXXXX" + suffix)).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  int fd = mkstemps(name.data(), static_cast<int>(suffix.size()));
  if (fd < 0) throw IOError("cannot create a temporary file like '" + pattern + "': " + std::strerror(errno));
  close(fd);
  path_ = name.data();
}

ScratchFile::~ScratchFile() { std::remove(path_.c_str()); }

void ScratchFile::write(const std::string& bytes) const {
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) throw IOError("cannot write the temporary file '" + path_ + "'");
}

}  // namespace strata::savedmodel
