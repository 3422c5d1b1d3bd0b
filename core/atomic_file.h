#pragma once
// Crash-safe file replacement: a save either completes or leaves the previous file as it was.

#include <functional>
#include <string>

namespace strata {

// Calls `write(temp_path)` to write the whole file at a temporary name in the same directory as `path`
// (".<name>.tmp.<pid>.<counter>", so concurrent writers never share one and a loader never mistakes it for
// the file), then fsyncs it, renames it over `path` and fsyncs the directory so the rename itself survives a
// power loss. If `write` throws, the temporary file is removed and the exception propagates; `path` is untouched.
// Errors are strata::IOError naming `path`.
void write_atomically(const std::string& path, const std::function<void(const std::string& temp_path)>& write);

// write_atomically for a file whose whole content is `bytes`.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace strata
