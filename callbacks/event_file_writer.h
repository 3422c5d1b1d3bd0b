#pragma once
// TensorBoard event files: TFRecord framing (length, masked CRC-32C of the length, an Event protobuf, masked
// CRC-32C of the data) and the summaries TensorBoard's plugins read (scalars, histograms, images, text and the
// Keras conceptual graph) in their current tensor form. Every write is flushed to the file, so a crash
// leaves every earlier event readable.

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace strata::tensorboard {

// CRC-32C (Castagnoli), as TFRecord uses; masked_crc32c applies LevelDB's rotate-and-add mask.
uint32_t crc32c(const void* data, size_t size);
uint32_t masked_crc32c(const void* data, size_t size);

// A PNG file of 8-bit pixels, row-major, `channels` 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA).
std::string encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels);

class EventFileWriter {
 public:
  // Creates `logdir` (and its parents) and a new file `events.out.tfevents.<seconds>.<hostname>.<pid>.<n>` in it,
  // whose first record is Event{file_version: "brain.Event:2"}.
  explicit EventFileWriter(const std::string& logdir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // tf.summary.scalar: a rank-0 float32 tensor, plugin "scalars".
  void scalar(const std::string& tag, double value, int64_t step);
  // tf.summary.histogram: a [buckets, 3] float64 tensor of (left edge, right edge, count), plugin "histograms".
  void histogram(const std::string& tag, const at::Tensor& values, int64_t step, int64_t buckets = 30);
  // tf.summary.image: `images` is [k, height, width, channels] with channels 1, 3 or 4; floats are taken as
  // [0, 1] and saturated, uint8 is used as is. Plugin "images", PNG encoded.
  void image(const std::string& tag, const at::Tensor& images, int64_t step);
  // tf.summary.text: a rank-0 string tensor (Markdown), plugin "text".
  void text(const std::string& tag, const std::string& text, int64_t step);
  // keras_model_summary: the model's to_json() as a rank-0 string tensor, plugin "graph_keras_model".
  void keras_model(const std::string& tag, const std::string& model_json, int64_t step);
  // A Summary.Value with any tensor, already serialized as a TensorProto, under `plugin_name`/`plugin_content`.
  void tensor_summary(const std::string& tag, const std::string& tensor_proto, const std::string& plugin_name,
                      const std::string& plugin_content, int64_t step);

  void flush();
  const std::string& path() const { return path_; }

 private:
  // Frames one serialized Event and writes it to the file, flushed.
  void write_record(const std::string& event);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace strata::tensorboard
