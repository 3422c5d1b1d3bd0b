#pragma once
// A small RAII wrapper over the HDF5 C API for Keras' weight files (and whole-model files built on them).
// Objects are addressed by '/'-separated paths relative to a group ("layers/dense/vars/0", "dense/kernel:0").
// HDF5's own error printing is off; every failure is a strata::IOError (or ValueError for unsupported
// values) whose message names the file, the object path and HDF5's reason. Handles close in destructors, so
// an exception never leaks one. <hdf5.h> stays inside hdf5.cpp: ids are plain int64_t here.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata::h5 {

// How a string attribute is stored. h5py writes `str` as variable-length UTF-8, a list of `bytes` passed as an
// object array (what tf.keras 2.15 writes) as variable-length ASCII, and a numpy bytes array as fixed-length
// NULL-padded ASCII. Readers accept all three.
enum class StringType { vlen_utf8, vlen_ascii, fixed_ascii };

// An open HDF5 identifier; closed (H5Idec_ref) when the last copy goes.
class Handle {
 public:
  Handle() = default;
  explicit Handle(int64_t id);
  int64_t id() const { return id_ ? *id_ : -1; }
  bool valid() const { return id_ != nullptr; }

 private:
  std::shared_ptr<int64_t> id_;
};

class Group {
 public:
  // The file's path and this group's path inside it ("/" for the root), for messages.
  const std::string& file_path() const { return file_path_; }
  const std::string& path() const { return path_; }

  bool exists(const std::string& path) const;  // a link at this relative path, intermediate groups included
  bool is_group(const std::string& path) const;
  bool is_dataset(const std::string& path) const;
  Group group(const std::string& path) const;         // opens an existing group
  Group create_group(const std::string& path);        // creates it and missing intermediate groups
  Group require_group(const std::string& path);       // opens it, or creates it when absent
  std::vector<std::string> children() const;          // link names, in HDF5's name order

  // Datasets: contiguous, native little-endian. float32/float64/float16 (as IEEE half)/int8/int16/int32/int64/
  // uint8 and bool (an int8 enum FALSE/TRUE, as h5py). A 0-d tensor is a scalar dataset.
  void write_dataset(const std::string& path, const at::Tensor& value);
  at::Tensor read_dataset(const std::string& path) const;
  std::vector<int64_t> dataset_shape(const std::string& path) const;

  // Attributes on this group. A string list of zero entries is written as h5py writes an empty list: a
  // float64 array of shape (0,).
  bool has_attribute(const std::string& name) const;
  std::vector<std::string> attribute_names() const;
  void set_string_attribute(const std::string& name, const std::string& value,
                            StringType type = StringType::vlen_utf8);
  void set_string_list_attribute(const std::string& name, const std::vector<std::string>& values,
                                 StringType type = StringType::vlen_ascii);
  // Either string form; a scalar string or a one-entry list for string_attribute.
  std::string string_attribute(const std::string& name) const;
  // Any string form, scalar or array; an empty array of any type is an empty list. Keras splits a list too big
  // for an object header into name0, name1, ...; those are joined when `name` itself is absent.
  std::vector<std::string> string_list_attribute(const std::string& name) const;

 protected:
  Group(Handle handle, std::string file_path, std::string path)
      : handle_(std::move(handle)), file_path_(std::move(file_path)), path_(std::move(path)) {}
  // "'file.h5', object '/layers/dense'" for messages.
  std::string where(const std::string& relative = "") const;
  std::string full_path(const std::string& relative) const;

  Handle handle_;
  std::string file_path_;
  std::string path_;

  friend class File;
};

class File : public Group {
 public:
  // Creates (truncating) a file for writing.
  static File create(const std::string& path);
  // Opens an existing file read-only; IOError when it is missing or not an HDF5 file.
  static File open_read_only(const std::string& path);
  // Writes everything buffered to the file; call before closing a file that must be complete on disk.
  void flush();

 private:
  using Group::Group;
};

}  // namespace strata::h5
