// PNG and JPEG decoding. Both libraries report errors by longjmp; each decoder is a C-style function whose
// frame holds no object with a destructor and whose only locals changed after setjmp are volatile, and whose
// output lives in the caller's frame, so a longjmp out of the library lands safely and the caller throws.
#include <strata/core/error.h>
#include <strata/data/image_decode.h>

#include <ATen/ATen.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

namespace strata::data {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 28;  // refuse absurd headers before allocating

// What a decoder hands back: the pixels (sized by the decoder once it knows the dimensions) or a message.
struct Decoded {
  std::vector<uint8_t> pixels;
  int64_t height = 0, width = 0;
  char message[JMSG_LENGTH_MAX > 256 ? JMSG_LENGTH_MAX : 256] = {};
};

// Sizes the output; false (with the message set) when it is too large or memory runs out.
bool allocate(Decoded* out, int64_t height, int64_t width, int channels) {
  if (height <= 0 || width <= 0 || height * width > kMaxPixels) {
    std::snprintf(out->message, sizeof out->message, "unsupported dimensions %lldx%lld", static_cast<long long>(width),
                  static_cast<long long>(height));
    return false;
  }
  try {
    out->pixels.resize(static_cast<size_t>(height * width * channels));
  } catch (const std::bad_alloc&) {
    std::snprintf(out->message, sizeof out->message, "out of memory for %lldx%lld pixels",
                  static_cast<long long>(width), static_cast<long long>(height));
    return false;
  }
  out->height = height;
  out->width = width;
  return true;
}

// ----- PNG

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t position;
  Decoded* out;
};

void png_read_from_memory(png_structp png, png_bytep destination, png_size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->size - source->position < length) png_error(png, "the file is truncated");
  std::memcpy(destination, source->data + source->position, length);
  source->position += length;
}

void png_on_error(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->out->message, sizeof source->out->message, "%s", message);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // benign (e.g. an unknown chunk); errors still stop

// Sets libpng's transformations so that every row comes out as 8-bit samples with `channels` channels.
void png_request_channels(png_structp png, png_infop info, int channels) {
  const int color_type = png_get_color_type(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  const bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  if (has_trns) png_set_tRNS_to_alpha(png);
  if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);
  const bool has_alpha = has_trns || (color_type & PNG_COLOR_MASK_ALPHA) != 0;
  const bool is_color = (color_type & PNG_COLOR_MASK_COLOR) != 0;
  const bool want_alpha = channels == 4;
  if (has_alpha && !want_alpha) png_set_strip_alpha(png);
  if (!has_alpha && want_alpha) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
  if (is_color && channels == 1) png_set_rgb_to_gray_fixed(png, 1, 29900, 58700);
  if (!is_color && channels >= 3) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
}

bool decode_png(const uint8_t* data, size_t size, int channels, Decoded* out) {
  PngSource source{data, size, 0, out};
  png_structp volatile png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_on_error, png_on_warning);
  png_infop volatile info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    std::snprintf(out->message, sizeof out->message, "libpng could not start");
    png_structp p = png;
    png_destroy_read_struct(&p, nullptr, nullptr);
    return false;
  }
  png_bytep* volatile rows = nullptr;
  bool ok = false;
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_set_read_fn(png, &source, png_read_from_memory);
    png_read_info(png, info);
    png_request_channels(png, info, channels);
    const int64_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    if (png_get_channels(png, info) != channels) png_error(png, "cannot convert the image to the requested channels");
    if (allocate(out, height, width, channels)) {
      rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * static_cast<size_t>(height)));
      if (!rows) png_error(png, "out of memory");
      for (int64_t y = 0; y < height; ++y) rows[y] = out->pixels.data() + y * width * channels;
      png_read_image(png, rows);
      png_read_end(png, nullptr);
      ok = true;
    }
  }
  std::free(rows);
  png_structp p = png;
  png_infop i = info;
  png_destroy_read_struct(&p, &i, nullptr);
  return ok;
}

// ----- JPEG

struct JpegErrors {
  jpeg_error_mgr manager;  // first, so libjpeg's pointer to it is a pointer to this
  std::jmp_buf jump;
  Decoded* out;
};

void jpeg_on_error(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->out->message);
  std::longjmp(errors->jump, 1);
}

// Warnings are ignored except a premature end of data, which tf reports as an error too.
void jpeg_on_message(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(info);
}

bool decode_jpeg(const uint8_t* data, size_t size, int channels, Decoded* out) {
  jpeg_decompress_struct info;
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_on_error;
  errors.manager.emit_message = jpeg_on_message;
  errors.out = out;
  bool ok = false;
  if (setjmp(errors.jump) == 0) {
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
    jpeg_read_header(&info, TRUE);
    info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    info.dct_method = JDCT_IFAST;  // tf.io.decode_image's default (dct_method "" is INTEGER_FAST)
    jpeg_start_decompress(&info);
    const int decoded_channels = info.output_components;
    if (allocate(out, info.output_height, info.output_width, channels)) {
      const int64_t width = info.output_width;
      while (info.output_scanline < info.output_height) {
        uint8_t* row = out->pixels.data() + static_cast<int64_t>(info.output_scanline) * width * channels;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&info, rows, 1);
        // RGBA: spread the RGB triples out from the right so the row can be filled in place.
        if (channels == 4 && decoded_channels == 3)
          for (int64_t x = width - 1; x >= 0; --x) {
            row[x * 4 + 3] = 255;
            for (int c = 2; c >= 0; --c) row[x * 4 + c] = row[x * 3 + c];
          }
      }
      jpeg_finish_decompress(&info);
      ok = true;
    }
  }
  jpeg_destroy_decompress(&info);
  return ok;
}

}  // namespace

at::Tensor decode_image(const uint8_t* data, size_t size, int channels, const std::string& name) {
  if (channels != 1 && channels != 3 && channels != 4)
    throw ValueError("decode_image: channels must be 1, 3 or 4, got " + std::to_string(channels));
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const bool png = size >= 8 && std::memcmp(data, kPng, 8) == 0;
  const bool jpeg = size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff;
  if (!png && !jpeg) {
    const bool gif = size >= 4 && std::memcmp(data, "GIF8", 4) == 0, bmp = size >= 2 && std::memcmp(data, "BM", 2) == 0;
    throw IOError("decode_image: '" + name + "' is " +
                  (gif || bmp ? std::string(gif ? "a GIF" : "a BMP") + " image; only PNG and JPEG are decoded"
                              : std::string("neither a PNG nor a JPEG image")));
  }
  Decoded decoded;
  const bool ok = png ? decode_png(data, size, channels, &decoded) : decode_jpeg(data, size, channels, &decoded);
  if (!ok) throw IOError("decode_image: '" + name + "' is not a valid " + (png ? "PNG" : "JPEG") + ": " + decoded.message);
  auto* pixels = new std::vector<uint8_t>(std::move(decoded.pixels));
  return at::from_blob(
      pixels->data(), {decoded.height, decoded.width, channels},
      [pixels](void*) { delete pixels; }, at::kByte);
}

at::Tensor read_image(const std::string& path, int channels) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw IOError("read_image: cannot open '" + path + "'");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw IOError("read_image: error reading '" + path + "'");
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), channels, path);
}

}  // namespace strata::data
