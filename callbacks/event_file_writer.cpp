#include <strata/callbacks/event_file_writer.h>
#include <strata/core/error.h>

#include <ATen/ATen.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "strata_tb_event.pb.h"

namespace strata::tensorboard {
namespace {

std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    table[i] = crc;
  }
  return table;
}

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void png_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::string body(type, 4);
  body += data;
  out += body;
  put_be32(out, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

void set_plugin(strata_tb::Summary::Value* value, const std::string& plugin_name, const std::string& content) {
  auto* plugin = value->mutable_metadata()->mutable_plugin_data();
  plugin->set_plugin_name(plugin_name);
  plugin->set_content(content);
}

strata_tb::TensorProto string_scalar(const std::string& text) {
  strata_tb::TensorProto tensor;
  tensor.set_dtype(strata_tb::DT_STRING);
  tensor.mutable_tensor_shape();  // rank 0
  tensor.add_string_val(text);
  return tensor;
}

// TensorBoard's summary_v2 histogram: `buckets` equal-width buckets over [min, max], the last one closed;
// constant data puts every count in the last bucket with both edges at the value.
std::vector<std::array<double, 3>> histogram_buckets(const at::Tensor& values, int64_t buckets) {
  std::vector<std::array<double, 3>> rows(static_cast<size_t>(buckets), {0.0, 0.0, 0.0});
  at::Tensor flat = values.detach().to(at::kCPU, at::kDouble).contiguous().view({-1});
  const int64_t n = flat.numel();
  if (n == 0 || buckets == 0) return rows;
  const double* data = flat.data_ptr<double>();
  double lo = data[0], hi = data[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, data[i]);
    hi = std::max(hi, data[i]);
  }
  if (lo == hi) {
    for (auto& row : rows) row = {lo, hi, 0.0};
    rows.back()[2] = static_cast<double>(n);
    return rows;
  }
  const double width = (hi - lo) / static_cast<double>(buckets);
  for (int64_t i = 0; i < n; ++i) {
    auto index = static_cast<int64_t>(std::floor((data[i] - lo) / width));
    rows[static_cast<size_t>(std::clamp<int64_t>(index, 0, buckets - 1))][2] += 1.0;
  }
  for (int64_t b = 0; b < buckets; ++b) {
    // linspace(lo, hi, buckets + 1), as numpy computes it
    rows[b][0] = lo + (hi - lo) * static_cast<double>(b) / static_cast<double>(buckets);
    rows[b][1] = b + 1 == buckets ? hi : lo + (hi - lo) * static_cast<double>(b + 1) / static_cast<double>(buckets);
  }
  return rows;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  const auto* bytes = static_cast<const uint8_t*>(data);
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

std::string encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels) {
  static const int color_types[] = {0, 0, 4, 2, 6};
  if (channels < 1 || channels > 4 || width <= 0 || height <= 0)
    throw ValueError("encode_png: expected width, height > 0 and 1 to 4 channels, got " + std::to_string(width) +
                     "x" + std::to_string(height) + "x" + std::to_string(channels));
  std::string header;
  put_be32(header, static_cast<uint32_t>(width));
  put_be32(header, static_cast<uint32_t>(height));
  header += std::string{8, static_cast<char>(color_types[channels]), 0, 0, 0};
  // Each scanline starts with filter type 0 (None).
  const size_t row_bytes = static_cast<size_t>(width) * channels;
  std::string raw;
  raw.reserve((row_bytes + 1) * height);
  for (int64_t y = 0; y < height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(pixels) + y * row_bytes, row_bytes);
  }
  uLongf compressed_size = compressBound(raw.size());
  std::string compressed(compressed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size,
                reinterpret_cast<const Bytef*>(raw.data()), raw.size(), Z_DEFAULT_COMPRESSION) != Z_OK)
    throw Error("encode_png: zlib could not compress the image");
  compressed.resize(compressed_size);
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png_chunk(png, "IHDR", header);
  png_chunk(png, "IDAT", compressed);
  png_chunk(png, "IEND", "");
  return png;
}

EventFileWriter::EventFileWriter(const std::string& logdir) {
  static std::atomic<int> file_count{0};
  std::error_code error;
  std::filesystem::create_directories(logdir, error);
  if (error) throw IOError("TensorBoard: cannot create log directory '" + logdir + "': " + error.message());
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%010lld", static_cast<long long>(std::time(nullptr)));
  path_ = (std::filesystem::path(logdir) / ("events.out.tfevents." + std::string(seconds) + "." + host_name() + "." +
                                            std::to_string(getpid()) + "." + std::to_string(file_count++)))
              .string();
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) throw IOError("TensorBoard: cannot create event file '" + path_ + "': " + std::strerror(errno));
  strata_tb::Event event;
  event.set_wall_time(wall_time());
  event.set_file_version("brain.Event:2");
  event.mutable_source_metadata()->set_writer("strata");
  write_record(event.SerializeAsString());
}

EventFileWriter::~EventFileWriter() {
  if (file_) std::fclose(file_);
}

void EventFileWriter::write_record(const std::string& event) {
  std::string record;
  record.reserve(event.size() + 16);
  put_le(record, event.size(), 8);
  put_le(record, masked_crc32c(record.data(), 8), 4);
  record += event;
  put_le(record, masked_crc32c(event.data(), event.size()), 4);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() || std::fflush(file_) != 0)
    throw IOError("TensorBoard: cannot write to event file '" + path_ + "': " + std::strerror(errno));
}

void EventFileWriter::flush() { std::fflush(file_); }

void EventFileWriter::tensor_summary(const std::string& tag, const std::string& tensor_proto,
                                     const std::string& plugin_name, const std::string& plugin_content, int64_t step) {
  strata_tb::Event event;
  event.set_wall_time(wall_time());
  event.set_step(step);
  auto* value = event.mutable_summary()->add_value();
  value->set_tag(tag);
  set_plugin(value, plugin_name, plugin_content);
  if (!value->mutable_tensor()->ParseFromString(tensor_proto))
    throw ValueError("TensorBoard: the tensor for tag '" + tag + "' is not a serialized TensorProto");
  write_record(event.SerializeAsString());
}

void EventFileWriter::scalar(const std::string& tag, double value, int64_t step) {
  strata_tb::TensorProto tensor;
  tensor.set_dtype(strata_tb::DT_FLOAT);
  tensor.mutable_tensor_shape();
  const float as_float = static_cast<float>(value);
  std::string content;
  uint32_t bits;
  std::memcpy(&bits, &as_float, 4);
  put_le(content, bits, 4);
  tensor.set_tensor_content(content);
  tensor_summary(tag, tensor.SerializeAsString(), "scalars", "", step);
}

void EventFileWriter::histogram(const std::string& tag, const at::Tensor& values, int64_t step, int64_t buckets) {
  if (buckets < 0) throw ValueError("TensorBoard histogram '" + tag + "': buckets must be >= 0, got " +
                                    std::to_string(buckets));
  strata_tb::TensorProto tensor;
  tensor.set_dtype(strata_tb::DT_DOUBLE);
  tensor.mutable_tensor_shape()->add_dim()->set_size(buckets);
  tensor.mutable_tensor_shape()->add_dim()->set_size(3);
  for (const auto& row : histogram_buckets(values, buckets))
    for (double x : row) tensor.add_double_val(x);
  tensor_summary(tag, tensor.SerializeAsString(), "histograms", "", step);
}

void EventFileWriter::image(const std::string& tag, const at::Tensor& images, int64_t step) {
  if (images.dim() != 4 || (images.size(3) != 1 && images.size(3) != 3 && images.size(3) != 4))
    throw ShapeError("TensorBoard image '" + tag + "': expected [k, height, width, channels] with 1, 3 or 4 channels");
  at::Tensor pixels = images.detach().to(at::kCPU);
  if (pixels.scalar_type() != at::kByte)  // tf.image.convert_image_dtype(..., saturate=True)
    pixels = (pixels.to(at::kDouble) * 255.5).clamp(0.0, 255.0).to(at::kByte);
  pixels = pixels.contiguous();
  const int64_t height = pixels.size(1), width = pixels.size(2);
  strata_tb::TensorProto tensor;
  tensor.set_dtype(strata_tb::DT_STRING);
  tensor.mutable_tensor_shape()->add_dim()->set_size(pixels.size(0) + 2);
  tensor.add_string_val(std::to_string(width));
  tensor.add_string_val(std::to_string(height));
  for (int64_t i = 0; i < pixels.size(0); ++i)
    tensor.add_string_val(encode_png(pixels[i].data_ptr<uint8_t>(), width, height, static_cast<int>(pixels.size(3))));
  tensor_summary(tag, tensor.SerializeAsString(), "images", "", step);
}

void EventFileWriter::text(const std::string& tag, const std::string& text, int64_t step) {
  tensor_summary(tag, string_scalar(text).SerializeAsString(), "text", "", step);
}

void EventFileWriter::keras_model(const std::string& tag, const std::string& model_json, int64_t step) {
  tensor_summary(tag, string_scalar(model_json).SerializeAsString(), "graph_keras_model", "1", step);
}

}  // namespace strata::tensorboard
