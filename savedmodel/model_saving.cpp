// Model::save and models::load_model: the file name picks the format when saving, as in Keras; loading looks at
// the file's first bytes, so a misnamed or foreign file is reported for what it is.
#include <strata/core/error.h>
#include <strata/savedmodel/model_files.h>
#include <strata/savedmodel/saving.h>

#include <fstream>

namespace strata {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Zip archives start with a local file header; HDF5 files (without a user block) with HDF5's signature.
enum class FileKind { kZip, kHdf5, kOther };

FileKind kind_of_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError("cannot load model: '" + path + "' cannot be opened (missing or unreadable)");
  char head[8] = {};
  in.read(head, sizeof head);
  const std::string magic(head, static_cast<size_t>(in.gcount()));
  if (magic.rfind("PK\x03\x04", 0) == 0) return FileKind::kZip;
  if (magic == std::string("\x89HDF\r\n\x1a\n", 8)) return FileKind::kHdf5;
  return FileKind::kOther;
}

}  // namespace

void Model::save(const std::string& filepath, SaveOptions options) const {
  if (!built())
    throw StateError(describe() + ": save('" + filepath + "') needs a built model; call it on data, fit() it, or start it with Input()");
  if (ends_with(filepath, ".keras"))
    savedmodel::write_keras_archive(*this, filepath, options.include_optimizer);
  else if (ends_with(filepath, ".h5") || ends_with(filepath, ".hdf5"))
    savedmodel::write_legacy_model_file(*this, filepath, options.include_optimizer);
  else
    throw ValueError(describe() + ": save() takes a file name ending in .keras (Keras 3's archive) or .h5 (the legacy "
                     "HDF5 model file), got '" + filepath + "'");
}

namespace models {

std::shared_ptr<Model> load_model(const std::string& filepath, LoadModelOptions options) {
  switch (kind_of_file(filepath)) {
    case FileKind::kZip:
      return savedmodel::read_keras_archive(filepath, options.compile);
    case FileKind::kHdf5:
      return savedmodel::read_legacy_model_file(filepath, options.compile);
    case FileKind::kOther:
      break;
  }
  throw ValueError("cannot load model from '" + filepath +
                   "': it is neither a .keras archive (zip) nor an HDF5 model file");
}

}  // namespace models
}  // namespace strata
