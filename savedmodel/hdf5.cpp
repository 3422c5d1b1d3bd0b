#include <ATen/ATen.h>
#include <hdf5.h>
#include <strata/core/error.h>
#include <strata/savedmodel/hdf5.h>

#include <cstring>
#include <filesystem>
#include <type_traits>

namespace strata::h5 {

static_assert(std::is_same_v<hid_t, int64_t>, "HDF5 >= 1.10 ids are 64-bit");

namespace {

// HDF5 keeps a stack of errors; the outermost says what failed, the innermost why ("truncated file ...").
herr_t collect_error(unsigned, const H5E_error2_t* error, void* data) {
  auto& messages = *static_cast<std::vector<std::string>*>(data);
  if (error->desc && *error->desc) messages.emplace_back(error->desc);
  return 0;
}

std::string hdf5_reason() {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &messages);
  H5Eclear2(H5E_DEFAULT);
  if (messages.empty()) return "HDF5 gave no reason";
  if (messages.size() == 1 || messages.front() == messages.back()) return messages.front();
  return messages.front() + ": " + messages.back();
}

template <class T>
T check(T result, const std::string& what) {
  if (result < 0) throw IOError(what + " (" + hdf5_reason() + ")");
  return result;
}

// Errors become exceptions, so HDF5's printing to stderr would only duplicate them.
void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle make(hid_t id, const std::string& what) { return Handle(check(id, what)); }

Handle link_create_plist() {
  Handle plist = make(H5Pcreate(H5P_LINK_CREATE), "cannot create a link property list");
  check(H5Pset_create_intermediate_group(plist.id(), 1), "cannot set intermediate group creation");
  return plist;
}

struct DTypeMapping {
  hid_t file_type;
  hid_t memory_type;
};

Handle bool_type() {
  // h5py's bool: an int8 enum with members FALSE = 0 and TRUE = 1.
  Handle type = make(H5Tenum_create(H5T_NATIVE_INT8), "cannot create the bool enum type");
  const int8_t no = 0, yes = 1;
  check(H5Tenum_insert(type.id(), "FALSE", &no), "cannot create the bool enum type");
  check(H5Tenum_insert(type.id(), "TRUE", &yes), "cannot create the bool enum type");
  return type;
}

Handle string_type(StringType type, size_t fixed_size) {
  Handle t = make(H5Tcopy(H5T_C_S1), "cannot create a string type");
  if (type == StringType::fixed_ascii) {
    check(H5Tset_size(t.id(), fixed_size), "cannot size a string type");
    check(H5Tset_strpad(t.id(), H5T_STR_NULLPAD), "cannot set string padding");
  } else {
    check(H5Tset_size(t.id(), H5T_VARIABLE), "cannot size a string type");
  }
  check(H5Tset_cset(t.id(), type == StringType::vlen_utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII),
        "cannot set a string character set");
  return t;
}

std::vector<hsize_t> dims_of(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

}  // namespace

Handle::Handle(int64_t id) : id_(new int64_t(id), [](int64_t* p) {
  H5Idec_ref(*p);
  delete p;
}) {}

std::string Group::full_path(const std::string& relative) const {
  if (relative.empty()) return path_;
  return path_ == "/" ? "/" + relative : path_ + "/" + relative;
}

std::string Group::where(const std::string& relative) const {
  return "'" + file_path_ + "', object '" + full_path(relative) + "'";
}

static H5I_type_t object_type(hid_t loc, const std::string& path) {
  const hid_t id = H5Oopen(loc, path.c_str(), H5P_DEFAULT);
  if (id < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  const H5I_type_t type = H5Iget_type(id);
  H5Oclose(id);
  return type;
}

bool Group::exists(const std::string& path) const {
  // H5Lexists fails rather than answers when an intermediate group is missing: walk the path.
  std::string prefix;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    prefix = path.substr(0, slash == std::string::npos ? path.size() : slash);
    const htri_t found = H5Lexists(handle_.id(), prefix.c_str(), H5P_DEFAULT);
    if (found <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) return true;
    if (object_type(handle_.id(), prefix) != H5I_GROUP) return false;
    start = slash + 1;
  }
  return true;
}

bool Group::is_group(const std::string& path) const {
  return exists(path) && object_type(handle_.id(), path) == H5I_GROUP;
}

bool Group::is_dataset(const std::string& path) const {
  return exists(path) && object_type(handle_.id(), path) == H5I_DATASET;
}

Group Group::group(const std::string& path) const {
  if (!exists(path)) throw IOError("HDF5 file " + where(path) + ": no such group");
  Handle g = make(H5Gopen2(handle_.id(), path.c_str(), H5P_DEFAULT), "HDF5 file " + where(path) + ": cannot open group");
  return Group(std::move(g), file_path_, full_path(path));
}

Group Group::create_group(const std::string& path) {
  Handle plist = link_create_plist();
  Handle g = make(H5Gcreate2(handle_.id(), path.c_str(), plist.id(), H5P_DEFAULT, H5P_DEFAULT),
                  "HDF5 file " + where(path) + ": cannot create group");
  return Group(std::move(g), file_path_, full_path(path));
}

Group Group::require_group(const std::string& path) { return exists(path) ? group(path) : create_group(path); }

static herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  check(H5Literate(handle_.id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_link, &names),
        "HDF5 file " + where() + ": cannot list the group");
  return names;
}

void Group::write_dataset(const std::string& path, const at::Tensor& value) {
  const std::string what = "HDF5 file " + where(path);
  if (!value.defined()) throw ValueError(what + ": cannot write an undefined tensor");
  const at::Tensor data = value.detach().to(at::kCPU).contiguous();
  Handle enum_type;
  hid_t file_type, memory_type;
  switch (data.scalar_type()) {
    case at::kFloat: file_type = H5T_IEEE_F32LE, memory_type = H5T_NATIVE_FLOAT; break;
    case at::kDouble: file_type = H5T_IEEE_F64LE, memory_type = H5T_NATIVE_DOUBLE; break;
    case at::kChar: file_type = H5T_STD_I8LE, memory_type = H5T_NATIVE_INT8; break;
    case at::kShort: file_type = H5T_STD_I16LE, memory_type = H5T_NATIVE_INT16; break;
    case at::kInt: file_type = H5T_STD_I32LE, memory_type = H5T_NATIVE_INT32; break;
    case at::kLong: file_type = H5T_STD_I64LE, memory_type = H5T_NATIVE_INT64; break;
    case at::kByte: file_type = H5T_STD_U8LE, memory_type = H5T_NATIVE_UINT8; break;
    case at::kBool:
      enum_type = bool_type();
      file_type = memory_type = enum_type.id();
      break;
    default:
      throw ValueError(what + ": cannot store dtype " + std::string(c10::toString(data.scalar_type())) +
                       " (supported: float32, float64, int8, int16, int32, int64, uint8, bool)");
  }
  std::vector<hsize_t> dims(data.sizes().begin(), data.sizes().end());
  Handle space = make(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(dims.size(), dims.data(), nullptr),
                      what + ": cannot create a dataspace");
  Handle plist = link_create_plist();
  Handle dataset = make(H5Dcreate2(handle_.id(), path.c_str(), file_type, space.id(), plist.id(), H5P_DEFAULT, H5P_DEFAULT),
                        what + ": cannot create dataset");
  if (data.numel() > 0)
    check(H5Dwrite(dataset.id(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data_ptr()),
          what + ": cannot write dataset");
}

std::vector<int64_t> Group::dataset_shape(const std::string& path) const {
  const std::string what = "HDF5 file " + where(path);
  if (!is_dataset(path)) throw IOError(what + ": no such dataset");
  Handle dataset = make(H5Dopen2(handle_.id(), path.c_str(), H5P_DEFAULT), what + ": cannot open dataset");
  Handle space = make(H5Dget_space(dataset.id()), what + ": cannot read the dataset's shape");
  if (H5Sget_simple_extent_type(space.id()) == H5S_NULL) throw IOError(what + ": the dataset holds no value");
  const auto dims = dims_of(space.id());
  return {dims.begin(), dims.end()};
}

at::Tensor Group::read_dataset(const std::string& path) const {
  const std::string what = "HDF5 file " + where(path);
  const auto shape = dataset_shape(path);
  Handle dataset = make(H5Dopen2(handle_.id(), path.c_str(), H5P_DEFAULT), what + ": cannot open dataset");
  Handle type = make(H5Dget_type(dataset.id()), what + ": cannot read the dataset's type");
  const H5T_class_t type_class = H5Tget_class(type.id());
  const size_t size = H5Tget_size(type.id());
  const bool is_signed = type_class == H5T_INTEGER && H5Tget_sign(type.id()) == H5T_SGN_2;
  at::ScalarType dtype;
  hid_t memory_type = type.id();
  bool half = false, to_bool = false;
  if (type_class == H5T_FLOAT && size == 8) dtype = at::kDouble, memory_type = H5T_NATIVE_DOUBLE;
  else if (type_class == H5T_FLOAT) dtype = at::kFloat, memory_type = H5T_NATIVE_FLOAT, half = size == 2;
  else if (type_class == H5T_INTEGER && size == 1) dtype = is_signed ? at::kChar : at::kByte,
                                                   memory_type = is_signed ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
  else if (type_class == H5T_INTEGER && size == 2 && is_signed) dtype = at::kShort, memory_type = H5T_NATIVE_INT16;
  else if (type_class == H5T_INTEGER && size == 4 && is_signed) dtype = at::kInt, memory_type = H5T_NATIVE_INT32;
  else if (type_class == H5T_INTEGER) dtype = at::kLong, memory_type = H5T_NATIVE_INT64;
  else if (type_class == H5T_ENUM && size == 1) dtype = at::kByte, to_bool = true;  // h5py's bool
  else
    throw ValueError(what + ": the dataset is not a numeric array (HDF5 type class " + std::to_string(type_class) +
                     ", " + std::to_string(size) + " bytes)");
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (out.numel() > 0)
    check(H5Dread(dataset.id(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data_ptr()),
          what + ": cannot read dataset");
  if (half) return out.to(at::kHalf);
  if (to_bool) return out.ne(0);
  return out;
}

bool Group::has_attribute(const std::string& name) const {
  const htri_t found = H5Aexists(handle_.id(), name.c_str());
  if (found < 0) H5Eclear2(H5E_DEFAULT);
  return found > 0;
}

static herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

std::vector<std::string> Group::attribute_names() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  check(H5Aiterate2(handle_.id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute, &names),
        "HDF5 file " + where() + ": cannot list attributes");
  return names;
}

static void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values, StringType type,
                          bool scalar, const std::string& what) {
  if (H5Aexists(loc, name.c_str()) > 0) check(H5Adelete(loc, name.c_str()), what + ": cannot replace attribute");
  if (!scalar && values.empty()) {
    const hsize_t zero = 0;
    Handle space = make(H5Screate_simple(1, &zero, nullptr), what + ": cannot create a dataspace");
    make(H5Acreate2(loc, name.c_str(), H5T_IEEE_F64LE, space.id(), H5P_DEFAULT, H5P_DEFAULT),
         what + ": cannot create attribute");
    return;
  }
  size_t longest = 1;
  for (const auto& v : values) longest = std::max(longest, v.size());
  Handle string = string_type(type, longest);
  const hsize_t count = values.size();
  Handle space = make(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr),
                      what + ": cannot create a dataspace");
  Handle attribute = make(H5Acreate2(loc, name.c_str(), string.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
                          what + ": cannot create attribute");
  if (type == StringType::fixed_ascii) {
    std::vector<char> buffer(values.size() * longest, '\0');
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(&buffer[i * longest], values[i].data(), values[i].size());
    check(H5Awrite(attribute.id(), string.id(), buffer.data()), what + ": cannot write attribute");
  } else {
    std::vector<const char*> pointers;
    for (const auto& v : values) pointers.push_back(v.c_str());
    check(H5Awrite(attribute.id(), string.id(), pointers.data()), what + ": cannot write attribute");
  }
}

void Group::set_string_attribute(const std::string& name, const std::string& value, StringType type) {
  write_strings(handle_.id(), name, {value}, type, true, "HDF5 file " + where() + ", attribute '" + name + "'");
}

void Group::set_string_list_attribute(const std::string& name, const std::vector<std::string>& values,
                                      StringType type) {
  write_strings(handle_.id(), name, values, type, false, "HDF5 file " + where() + ", attribute '" + name + "'");
}

static std::vector<std::string> read_strings(hid_t loc, const std::string& name, const std::string& what) {
  Handle attribute = make(H5Aopen(loc, name.c_str(), H5P_DEFAULT), what + ": cannot open attribute");
  Handle type = make(H5Aget_type(attribute.id()), what + ": cannot read the attribute's type");
  Handle space = make(H5Aget_space(attribute.id()), what + ": cannot read the attribute's shape");
  const hssize_t count = check(H5Sget_simple_extent_npoints(space.id()), what + ": cannot read the attribute's shape");
  if (H5Tget_class(type.id()) != H5T_STRING) {
    if (count == 0 || H5Sget_simple_extent_type(space.id()) == H5S_NULL) return {};  // h5py's empty list
    throw ValueError(what + ": expected strings, got a non-string attribute");
  }
  std::vector<std::string> out;
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle memory = make(H5Tcopy(H5T_C_S1), what + ": cannot create a string type");
    check(H5Tset_size(memory.id(), H5T_VARIABLE), what + ": cannot size a string type");
    check(H5Tset_cset(memory.id(), H5Tget_cset(type.id())), what + ": cannot set a character set");
    std::vector<char*> pointers(count, nullptr);
    check(H5Aread(attribute.id(), memory.id(), pointers.data()), what + ": cannot read attribute");
    for (char* p : pointers) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(memory.id(), space.id(), H5P_DEFAULT, pointers.data());
  } else {
    const size_t size = H5Tget_size(type.id());
    std::vector<char> buffer(count * size + 1, '\0');
    check(H5Aread(attribute.id(), type.id(), buffer.data()), what + ": cannot read attribute");
    const bool space_padded = H5Tget_strpad(type.id()) == H5T_STR_SPACEPAD;
    for (hssize_t i = 0; i < count; ++i) {
      std::string s(&buffer[i * size], size);
      s = s.substr(0, s.find('\0'));
      if (space_padded) s = s.substr(0, s.find_last_not_of(' ') + 1);
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string Group::string_attribute(const std::string& name) const {
  const std::string what = "HDF5 file " + where() + ", attribute '" + name + "'";
  if (!has_attribute(name)) throw IOError(what + ": missing");
  auto values = read_strings(handle_.id(), name, what);
  if (values.size() != 1)
    throw ValueError(what + ": expected one string, got " + std::to_string(values.size()));
  return values.front();
}

std::vector<std::string> Group::string_list_attribute(const std::string& name) const {
  const std::string what = "HDF5 file " + where() + ", attribute '" + name + "'";
  if (has_attribute(name)) return read_strings(handle_.id(), name, what);
  if (!has_attribute(name + "0")) throw IOError(what + ": missing");
  std::vector<std::string> out;
  for (int chunk = 0; has_attribute(name + std::to_string(chunk)); ++chunk) {
    const std::string part = name + std::to_string(chunk);
    auto values = read_strings(handle_.id(), part, "HDF5 file " + where() + ", attribute '" + part + "'");
    out.insert(out.end(), values.begin(), values.end());
  }
  return out;
}

File File::create(const std::string& path) {
  quiet();
  Handle file = make(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                     "Cannot create HDF5 file '" + path + "'");
  return File(std::move(file), path, "/");
}

File File::open_read_only(const std::string& path) {
  quiet();
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) throw IOError("No such file: '" + path + "'");
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw IOError("'" + path + "' is not an HDF5 file (no HDF5 signature; is it truncated or of another format?)");
  }
  Handle file = make(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                     "Cannot open HDF5 file '" + path + "' (truncated or corrupt?)");
  return File(std::move(file), path, "/");
}

void File::flush() { check(H5Fflush(handle_.id(), H5F_SCOPE_GLOBAL), "Cannot flush HDF5 file '" + file_path_ + "'"); }

}  // namespace strata::h5
