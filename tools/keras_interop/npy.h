#pragma once
// The .npy files the interop driver and its Python side exchange: version 1.0/2.0 headers, C order, little
// endian float32/float64/int32/int64 — what numpy.save writes and numpy.load reads without extra arguments.

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace interop {

inline std::string npy_descr(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "<f4";
    case at::kDouble: return "<f8";
    case at::kInt: return "<i4";
    case at::kLong: return "<i8";
    default: throw std::runtime_error(std::string("npy: unsupported dtype ") + at::toString(type));
  }
}

inline at::ScalarType npy_type(const std::string& descr, const std::string& path) {
  if (descr == "<f4") return at::kFloat;
  if (descr == "<f8") return at::kDouble;
  if (descr == "<i4") return at::kInt;
  if (descr == "<i8") return at::kLong;
  throw std::runtime_error(path + ": unsupported npy dtype '" + descr + "'");
}

inline void save_npy(const std::string& path, const at::Tensor& tensor) {
  const at::Tensor t = tensor.contiguous();
  std::ostringstream shape;
  shape << "(";
  for (int64_t d : t.sizes()) shape << d << ", ";
  shape << ")";
  std::string header =
      "{'descr': '" + npy_descr(t.scalar_type()) + "', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64 bytes.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  if (!out) throw std::runtime_error(path + ": write failed");
}

// The value of `key` in the header dict: "'<f4'", "False", "(2, 3)" (quotes and brackets kept).
inline std::string header_field(const std::string& header, const std::string& key, const std::string& path) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) throw std::runtime_error(path + ": npy header lacks '" + key + "'");
  size_t start = header.find(':', at) + 1;
  while (header[start] == ' ') ++start;
  const char open = header[start];
  const char close = open == '(' ? ')' : open == '\'' ? '\'' : ',';
  const size_t end = header.find(close, start + 1);
  return header.substr(start, end - start + (close == ',' ? 0 : 1));
}

inline at::Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not an npy file");
  uint32_t length = 0;
  unsigned char bytes[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(bytes), magic[6] == 1 ? 2 : 4);
  for (int i = 3; i >= 0; --i) length = (length << 8) | bytes[i];
  std::string header(length, '\0');
  in.read(header.data(), length);
  if (header_field(header, "fortran_order", path) != "False")
    throw std::runtime_error(path + ": Fortran-order arrays are not supported");
  std::string descr = header_field(header, "descr", path);
  descr = descr.substr(1, descr.size() - 2);
  const std::string shape_text = header_field(header, "shape", path);
  std::vector<int64_t> shape;
  std::istringstream shape_in(shape_text.substr(1, shape_text.size() - 2));
  std::string item;
  while (std::getline(shape_in, item, ','))
    if (item.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(item));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(npy_type(descr, path)));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) throw std::runtime_error(path + ": truncated data");
  return t;
}

}  // namespace interop
