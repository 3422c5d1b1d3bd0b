#include <ATen/ATen.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/idx.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace strata::data {
namespace {

// A corrupt header must not be able to make us allocate absurd amounts of memory.
constexpr std::uint64_t kMaxDataBytes = std::uint64_t{1} << 34;
constexpr std::size_t kHeaderBytes = 4;
// gzread/gzwrite take an unsigned length and return an int, so large transfers go in pieces.
constexpr std::size_t kMaxChunkBytes = std::size_t{1} << 30;

struct ElementType {
  std::uint8_t code;
  at::ScalarType dtype;
  std::size_t size;
  const char* name;
};

constexpr std::array<ElementType, 6> kElementTypes{{
    {0x08, at::kByte, 1, "uint8"},
    {0x09, at::kChar, 1, "int8"},
    {0x0B, at::kShort, 2, "int16"},
    {0x0C, at::kInt, 4, "int32"},
    {0x0D, at::kFloat, 4, "float32"},
    {0x0E, at::kDouble, 8, "float64"},
}};

std::optional<ElementType> element_type_for_code(std::uint8_t code) {
  for (const auto& type : kElementTypes) {
    if (type.code == code) return type;
  }
  return std::nullopt;
}

std::optional<ElementType> element_type_for_dtype(at::ScalarType dtype) {
  for (const auto& type : kElementTypes) {
    if (type.dtype == dtype) return type;
  }
  return std::nullopt;
}

std::string hex_byte(std::uint8_t value) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02X", static_cast<unsigned>(value));
  return text;
}

// IDX stores multi-byte elements big-endian; this converts in place in either direction.
void swap_element_bytes(std::uint8_t* data, std::size_t element_count, std::size_t element_size) {
  if (element_size == 1 || std::endian::native == std::endian::big) return;
  for (std::size_t i = 0; i < element_count; ++i) {
    std::reverse(data + i * element_size, data + (i + 1) * element_size);
  }
}

class GzFile {
 public:
  GzFile(const std::string& path, const char* mode) : handle_(gzopen(path.c_str(), mode)) {}
  ~GzFile() { close(); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  bool is_open() const { return handle_ != nullptr; }
  gzFile get() const { return handle_; }

  // Returns gzclose's status; Z_OK when the file was flushed and closed cleanly.
  int close() {
    if (handle_ == nullptr) return Z_OK;
    int status = gzclose(handle_);
    handle_ = nullptr;
    return status;
  }

  std::string error_text() const {
    int code = Z_OK;
    const char* text = gzerror(handle_, &code);
    if (code == Z_ERRNO) return std::strerror(errno);
    return text != nullptr ? text : "unknown zlib error";
  }

 private:
  gzFile handle_;
};

std::string read_prefix(const std::string& path) { return "IDX file '" + path + "'"; }

// Reads up to `size` bytes; returns fewer only at end of file. A decompression or I/O error throws.
std::size_t read_up_to(GzFile& file, const std::string& path, void* destination, std::size_t size) {
  auto* out = static_cast<std::uint8_t*>(destination);
  std::size_t total = 0;
  while (total < size) {
    auto chunk = static_cast<unsigned>(std::min(size - total, kMaxChunkBytes));
    int got = gzread(file.get(), out + total, chunk);
    if (got < 0) {
      throw IOError(read_prefix(path) + ": read failed after " + std::to_string(total) + " of " +
                    std::to_string(size) + " bytes: " + file.error_text());
    }
    if (got == 0) break;
    total += static_cast<std::size_t>(got);
  }
  return total;
}

std::uint32_t big_endian_u32(const std::uint8_t* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

void append_big_endian_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 24));
  out.push_back(static_cast<std::uint8_t>(value >> 16));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

}  // namespace

struct IdxReader::State {
  explicit State(const std::string& path_) : path(path_), file(path_, "rb") {}
  std::string path;
  GzFile file;
  ElementType type{};
  std::vector<std::int64_t> dims;
  std::uint64_t record_elements = 1;  // elements per row along the first dimension
  std::int64_t position = 0;
};

IdxReader::IdxReader(const std::string& path) {
  const std::string prefix = read_prefix(path);
  std::error_code fs_error;
  if (std::filesystem::is_directory(path, fs_error)) {
    throw IOError(prefix + " cannot be read: it is a directory, expected a file");
  }

  errno = 0;  // gzopen leaves errno untouched when it fails for lack of memory
  state_ = std::make_unique<State>(path);
  GzFile& file = state_->file;
  if (!file.is_open()) {
    int open_errno = errno;
    throw IOError(prefix +
                  " cannot be opened: " + (open_errno != 0 ? std::strerror(open_errno) : "out of memory"));
  }
  // A larger buffer than zlib's 8 KiB default makes decompressing big datasets noticeably faster.
  gzbuffer(file.get(), 128 * 1024);

  std::uint8_t header[kHeaderBytes];
  std::size_t header_got = read_up_to(file, path, header, kHeaderBytes);
  if (header_got != kHeaderBytes) {
    throw IOError(prefix + ": truncated header: expected " + std::to_string(kHeaderBytes) + " bytes, got " +
                  std::to_string(header_got));
  }
  if (header[0] != 0 || header[1] != 0) {
    throw IOError(prefix + ": bad magic: expected first two bytes 0x00 0x00, got " + hex_byte(header[0]) +
                  " " + hex_byte(header[1]) + " (not an IDX file?)");
  }
  auto type = element_type_for_code(header[2]);
  if (!type) {
    throw IOError(prefix + ": unknown element type byte " + hex_byte(header[2]) +
                  ", expected one of 0x08 (uint8), 0x09 (int8), 0x0B (int16), 0x0C (int32), "
                  "0x0D (float32), 0x0E (float64)");
  }

  const std::size_t rank = header[3];
  std::vector<std::uint8_t> size_bytes(rank * 4);
  std::size_t sizes_got = read_up_to(file, path, size_bytes.data(), size_bytes.size());
  if (sizes_got != size_bytes.size()) {
    throw IOError(prefix + ": truncated header: " + std::to_string(rank) + " dimensions need " +
                  std::to_string(size_bytes.size()) + " size bytes, got " + std::to_string(sizes_got));
  }
  std::vector<std::int64_t> dims(rank);
  bool has_zero_dim = false;
  for (std::size_t i = 0; i < rank; ++i) {
    dims[i] = big_endian_u32(&size_bytes[i * 4]);
    has_zero_dim = has_zero_dim || dims[i] == 0;
  }

  // Multiply step by step against the limit so a hostile header cannot overflow the count.
  std::uint64_t element_count = has_zero_dim ? 0 : 1;
  const std::uint64_t max_elements = kMaxDataBytes / type->size;
  for (std::size_t i = 0; i < rank && !has_zero_dim; ++i) {
    auto dim = static_cast<std::uint64_t>(dims[i]);
    if (element_count > max_elements / dim) {
      throw IOError(prefix + ": header declares shape " + format_dims(dims) + " of " + type->name +
                    ", more than the " + std::to_string(kMaxDataBytes) + "-byte limit (corrupt header?)");
    }
    element_count *= dim;
  }

  state_->type = *type;
  state_->dims = std::move(dims);
  for (std::size_t i = 1; i < rank; ++i) state_->record_elements *= static_cast<std::uint64_t>(state_->dims[i]);
}

IdxReader::~IdxReader() = default;
IdxReader::IdxReader(IdxReader&&) noexcept = default;
IdxReader& IdxReader::operator=(IdxReader&&) noexcept = default;

const std::string& IdxReader::path() const { return state_->path; }
at::ScalarType IdxReader::dtype() const { return state_->type.dtype; }
const std::vector<std::int64_t>& IdxReader::shape() const { return state_->dims; }
std::int64_t IdxReader::position() const { return state_->position; }

at::Tensor IdxReader::read_records(std::int64_t count) {
  State& s = *state_;
  const std::string prefix = read_prefix(s.path);
  if (s.dims.empty()) throw IOError(prefix + ": holds a scalar, which has no records to read one by one");
  if (count < 0) throw ValueError(prefix + ": cannot read a negative number (" + std::to_string(count) + ") of records");
  const std::int64_t first = s.position;
  count = std::min(count, s.dims[0] - first);
  std::vector<std::int64_t> dims = s.dims;
  dims[0] = count;
  at::Tensor result = at::empty(dims, at::TensorOptions().dtype(s.type.dtype));
  const std::uint64_t element_count = static_cast<std::uint64_t>(count) * s.record_elements;
  const std::uint64_t data_bytes = element_count * s.type.size;
  auto* data = static_cast<std::uint8_t*>(result.data_ptr());
  std::size_t data_got = read_up_to(s.file, s.path, data, data_bytes);
  if (data_got != data_bytes) {
    const std::string what = first == 0 && count == s.dims[0]
                                 ? "shape " + format_dims(s.dims)
                                 : "records " + std::to_string(first) + ".." + std::to_string(first + count - 1) +
                                       " of shape " + format_dims(s.dims);
    throw IOError(prefix + ": truncated data: " + what + " of " + s.type.name + " needs " +
                  std::to_string(data_bytes) + " bytes, got " + std::to_string(data_got));
  }
  swap_element_bytes(data, element_count, s.type.size);
  s.position += count;
  return result;
}

at::Tensor IdxReader::read_rest() {
  State& s = *state_;
  if (!s.dims.empty()) return read_records(s.dims[0] - s.position);
  at::Tensor result = at::empty({}, at::TensorOptions().dtype(s.type.dtype));
  auto* data = static_cast<std::uint8_t*>(result.data_ptr());
  std::size_t got = read_up_to(s.file, s.path, data, s.type.size);
  if (got != s.type.size) {
    throw IOError(read_prefix(s.path) + ": truncated data: shape [] of " + s.type.name + " needs " +
                  std::to_string(s.type.size) + " bytes, got " + std::to_string(got));
  }
  swap_element_bytes(data, 1, s.type.size);
  return result;
}

void IdxReader::expect_end() {
  State& s = *state_;
  std::uint8_t extra;
  if (read_up_to(s.file, s.path, &extra, 1) != 0) {
    const std::uint64_t data_bytes =
        (s.dims.empty() ? 1 : static_cast<std::uint64_t>(s.dims[0]) * s.record_elements) * s.type.size;
    throw IOError(read_prefix(s.path) + ": trailing data: expected the file to end after the " +
                  std::to_string(data_bytes) + " data bytes of shape " + format_dims(s.dims) +
                  ", but more bytes follow");
  }
}

at::Tensor read_idx(const std::string& path) {
  IdxReader reader(path);
  at::Tensor result = reader.read_rest();
  reader.expect_end();
  return result;
}

void write_idx(const std::string& path, const at::Tensor& t, bool gzip) {
  const std::string prefix = "write_idx('" + path + "')";
  if (!t.defined()) throw ValueError(prefix + ": tensor is undefined");
  auto type = element_type_for_dtype(t.scalar_type());
  if (!type) {
    throw ValueError(prefix + ": dtype " + std::string(c10::toString(t.scalar_type())) +
                     " cannot be stored in IDX, expected uint8, int8, int16, int32, float32 or float64");
  }
  if (t.dim() > UINT8_MAX) {
    throw ValueError(prefix + ": IDX stores at most 255 dimensions, tensor has " + std::to_string(t.dim()));
  }

  std::vector<std::uint8_t> header{0, 0, type->code, static_cast<std::uint8_t>(t.dim())};
  for (std::int64_t dim : t.sizes()) {
    if (dim > std::int64_t{UINT32_MAX}) {
      throw ValueError(prefix + ": dimension size " + std::to_string(dim) + " exceeds the IDX limit " +
                       std::to_string(UINT32_MAX));
    }
    append_big_endian_u32(header, static_cast<std::uint32_t>(dim));
  }

  const at::Tensor host = t.to(at::kCPU).contiguous();
  const auto* data = static_cast<const std::uint8_t*>(host.data_ptr());
  const std::size_t data_bytes = static_cast<std::size_t>(host.numel()) * type->size;

  const std::string temp_path = path + ".tmp";
  auto fail = [&](const std::string& what) {
    std::remove(temp_path.c_str());
    throw IOError(prefix + ": " + what);
  };

  // "T" makes zlib write the bytes as they are, so both variants share one code path.
  GzFile file(temp_path, gzip ? "wb" : "wbT");
  if (!file.is_open()) {
    fail("cannot create '" + temp_path + "': " + std::strerror(errno));
  }
  auto write_bytes = [&](const std::uint8_t* bytes, std::size_t size) {
    for (std::size_t offset = 0; offset < size;) {
      auto chunk = static_cast<unsigned>(std::min(size - offset, kMaxChunkBytes));
      if (gzwrite(file.get(), bytes + offset, chunk) != static_cast<int>(chunk)) {
        fail("writing '" + temp_path + "' failed: " + file.error_text());
      }
      offset += chunk;
    }
  };
  write_bytes(header.data(), header.size());

  // Convert to big-endian through a bounded buffer rather than copying the whole tensor.
  std::vector<std::uint8_t> buffer;
  const std::size_t buffer_bytes = (std::size_t{1} << 20) / type->size * type->size;
  for (std::size_t offset = 0; offset < data_bytes; offset += buffer_bytes) {
    std::size_t size = std::min(buffer_bytes, data_bytes - offset);
    buffer.assign(data + offset, data + offset + size);
    swap_element_bytes(buffer.data(), size / type->size, type->size);
    write_bytes(buffer.data(), size);
  }

  if (file.close() != Z_OK) fail("closing '" + temp_path + "' failed (disk full?)");
  if (std::rename(temp_path.c_str(), path.c_str()) != 0) {
    fail("renaming '" + temp_path + "' to the final name failed: " + std::strerror(errno));
  }
}

}  // namespace strata::data
