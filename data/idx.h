#pragma once
// Reader and writer for the IDX format used by MNIST-style datasets:
//   byte 0-1  zero
//   byte 2    element type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)
//   byte 3    number of dimensions
//   then one big-endian uint32 per dimension, then the elements in big-endian, row-major order.

#include <ATen/core/Tensor.h>

#include <string>

namespace strata::data {

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
