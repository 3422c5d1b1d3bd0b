#pragma once
// Reader and writer for the IDX format used by MNIST-style datasets:
//   byte 0-1  zero
//   byte 2    element type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)
//   byte 3    number of dimensions
//   then one big-endian uint32 per dimension, then the elements in big-endian, row-major order.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata::data {

// Streams one IDX file (gzip-compressed or plain) record by record, so a dataset larger than memory can be
// read in pieces: the constructor opens the file and reads the header, read_records() the next rows along
// the first dimension. Errors are strata::IOError naming the path, as for read_idx. Not thread-safe.
class IdxReader {
 public:
  explicit IdxReader(const std::string& path);
  ~IdxReader();
  IdxReader(IdxReader&&) noexcept;
  IdxReader& operator=(IdxReader&&) noexcept;

  const std::string& path() const;
  at::ScalarType dtype() const;
  // The stored shape; shape()[0] is the number of records (rows along the first dimension).
  const std::vector<int64_t>& shape() const;
  // Records read so far.
  int64_t position() const;

  // The next `count` records as a tensor [count, shape()[1:]...] (fewer than asked when the file has fewer
  // left). Throws when the file is rank 0 or ends before the header says it should.
  at::Tensor read_records(int64_t count);
  // Everything not read yet, in the stored shape when nothing was read before (scalars included).
  at::Tensor read_rest();
  // Throws when bytes follow the data the header declares.
  void expect_end();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Reads an IDX file, gzip-compressed or plain (detected from the content, not the name), and returns
// a CPU tensor of the matching dtype (uint8 -> kByte, int8 -> kChar, int16 -> kShort, int32 -> kInt,
// float32 -> kFloat, float64 -> kDouble) in host byte order with the stored shape.
// Throws strata::IOError naming the path when the file is missing, unreadable, has a bad header,
// is truncated, has bytes after the data, or declares more than 2^34 bytes of data.
at::Tensor read_idx(const std::string& path);

// Writes `t` (any device, any layout; one of the dtypes above) as an IDX file, gzip-compressed when
// `gzip` is true. Writes `path + ".tmp"` first and renames it, so readers never see half a file.
// Throws strata::ValueError for an unsupported dtype or shape, strata::IOError when writing fails.
void write_idx(const std::string& path, const at::Tensor& t, bool gzip);

}  // namespace strata::data
