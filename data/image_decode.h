#pragma once
// PNG and JPEG decoding (Debian's libpng and libjpeg-turbo), as tf.io.decode_image does for those two formats:
// the format comes from the file's first bytes, not its name, and the result is uint8 [height, width, channels].

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace strata::data {

// Decodes an encoded PNG or JPEG into a uint8 tensor [height, width, channels], channels 1 (gray), 3 (RGB)
// or 4 (RGBA), converting as tf.io.decode_image(channels=...) does: gray expands to RGB, colour becomes gray
// with the weights 0.299, 0.587, 0.114, an alpha channel is dropped or added (opaque), palettes and tRNS
// expand, 16-bit PNG samples keep their high byte, interlaced PNGs and progressive JPEGs are read whole, and
// JPEGs use libjpeg's fast integer IDCT as tf does by default (dct_method "" = INTEGER_FAST).
// A JPEG asked for 4 channels gets an opaque alpha (tf refuses; Keras' color_mode="rgba" then fails).
// `name` (the file's path) is what errors name: strata::IOError for data that is neither format, is
// truncated or is corrupt (libpng's and libjpeg's messages are kept), strata::ValueError for bad channels.
at::Tensor decode_image(const uint8_t* data, size_t size, int channels, const std::string& name = "image");

// Reads the file at `path` and decodes it with decode_image; strata::IOError naming the path when it cannot
// be read or decoded.
at::Tensor read_image(const std::string& path, int channels);

}  // namespace strata::data
