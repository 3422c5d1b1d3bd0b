#include <strata/core/atomic_file.h>
#include <strata/core/error.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace strata {
namespace {

std::string errno_text() { return std::strerror(errno); }

void fsync_path(const std::string& path, int flags, const std::string& what, const std::string& target) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw IOError("Saving '" + target + "': cannot open " + what + " '" + path + "' to flush it: " + errno_text());
  const bool ok = ::fsync(fd) == 0;
  const std::string error = ok ? "" : errno_text();
  ::close(fd);
  if (!ok) throw IOError("Saving '" + target + "': fsync of " + what + " '" + path + "' failed: " + error);
}

}  // namespace

void write_atomically(const std::string& path, const std::function<void(const std::string& temp_path)>& write) {
  static std::atomic<unsigned long> counter{0};
  const std::filesystem::path target(path);
  if (target.filename().empty()) throw IOError("Cannot save to '" + path + "': the path names a directory");
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir))
    throw IOError("Cannot save to '" + path + "': directory '" + dir.string() + "' does not exist");
  const std::string temp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                                   std::to_string(counter++)))
                               .string();
  try {
    write(temp);
    fsync_path(temp, O_RDONLY, "file", path);
    if (std::rename(temp.c_str(), path.c_str()) != 0)
      throw IOError("Saving '" + path + "': cannot rename '" + temp + "' over it: " + errno_text());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw;
  }
  fsync_path(dir.string(), O_RDONLY | O_DIRECTORY, "directory", path);
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  write_atomically(path, [&](const std::string& temp_path) {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw IOError("Saving '" + path + "': cannot write '" + temp_path + "'");
  });
}

}  // namespace strata
