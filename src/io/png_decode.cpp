// PNG through libpng with camkit's own error and warning handlers (io/image_codecs.hpp).
//
// libpng reports errors by calling a handler that must not return; it longjmps back to the
// setjmp in run_png. Everything that outlives the jump lives in PngState, owned by the caller's
// frame, so no object with a destructor is skipped and no local of the setjmp frame is read
// after it.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <limits>

#include "io/file_bytes.hpp"
#include "io/image_codecs.hpp"
#include "io/limits.hpp"

namespace camkit::io {

namespace {

struct PngState {
  const unsigned char* data = nullptr;
  std::size_t size = 0, pos = 0;
  char message[256] = {};
  png_structp png = nullptr;
  png_infop info = nullptr;

  PngState() = default;
  PngState(const PngState&) = delete;
  PngState& operator=(const PngState&) = delete;
  ~PngState() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

PngState& state_of(png_structp png) {
  return *static_cast<PngState*>(png_get_error_ptr(png));
}

void keep_message(PngState& s, png_const_charp text) {
  std::strncpy(s.message, text != nullptr ? text : "unknown error", sizeof s.message - 1);
}

[[noreturn]] void on_error(png_structp png, png_const_charp text) {
  keep_message(state_of(png), text);
  png_longjmp(png, 1);
}

// Once ancillary chunks are skipped, what libpng still warns about is the image data itself
// (benign errors: too much data, a bad check value, a damaged chunk), so a warning fails too.
void on_warning(png_structp png, png_const_charp text) {
  keep_message(state_of(png), text);
  png_longjmp(png, 1);
}

void read_bytes(png_structp png, png_bytep out, png_size_t count) {
  PngState& s = *static_cast<PngState*>(png_get_io_ptr(png));
  if (count > s.size - s.pos) png_error(png, "truncated PNG data");
  std::memcpy(out, s.data + s.pos, count);
  s.pos += count;
}

bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// Returns false when libpng reported an error (its text in s.message); throws for limits.
bool run_png(PngState& s, Pixels& out, std::vector<png_bytep>& rows, const std::string& path,
             const ReadOptions& options) {
  if (setjmp(png_jmpbuf(s.png))) return false;
  png_set_read_fn(s.png, &s, read_bytes);
  // The size limit is camkit's (options.max_pixels), not libpng's default of 10^6 per side.
  png_set_user_limits(s.png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  // Skip every ancillary chunk except tRNS: none changes the pixels camkit returns, and libpng's
  // complaints about them (colour profiles, text) would otherwise fail good files.
  png_set_keep_unknown_chunks(s.png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
  png_read_info(s.png, s.info);

  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(s.png, s.info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  check_pixels(path, "image", width, height, options);

  // The transformations OpenCV's reader applies for IMREAD_UNCHANGED, minus alpha.
  if (bit_depth == 16 && host_is_little_endian()) png_set_swap(s.png);
  png_set_strip_alpha(s.png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s.png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) {
    png_set_expand_gray_1_2_4_to_8(s.png);
  }
  if (color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(s.png);
  png_set_interlace_handling(s.png);
  png_read_update_info(s.png, s.info);

  const int channels = png_get_channels(s.png, s.info);
  if (channels != 1 && channels != 3) png_error(s.png, "unexpected channel count");
  out.height = static_cast<int>(height);
  out.width = static_cast<int>(width);
  out.channels = channels;
  out.bit_depth = bit_depth == 16 ? 16 : 8;
  const std::size_t row_samples = static_cast<std::size_t>(width) * channels;
  const std::size_t samples = row_samples * height;
  if (png_get_rowbytes(s.png, s.info) != row_samples * (out.bit_depth / 8)) {
    png_error(s.png, "unexpected row size");
  }
  rows.resize(height);
  if (out.bit_depth == 16) {
    out.wide.resize(samples);
    for (png_uint_32 y = 0; y < height; ++y) {
      rows[y] = reinterpret_cast<png_bytep>(out.wide.data() + y * row_samples);
    }
  } else {
    out.narrow.resize(samples);
    for (png_uint_32 y = 0; y < height; ++y) rows[y] = out.narrow.data() + y * row_samples;
  }
  png_read_image(s.png, rows.data());
  // Reads on to IEND, checking the CRCs and what follows the image data.
  png_read_end(s.png, nullptr);
  return true;
}

}  // namespace

Pixels decode_png(const std::string& path, const unsigned char* data, std::size_t size,
                  const ReadOptions& options) {
  PngState s;
  s.data = data;
  s.size = size;
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, on_error, on_warning);
  if (s.png != nullptr) s.info = png_create_info_struct(s.png);
  if (s.png == nullptr || s.info == nullptr)
    throw input_error(path, "cannot decode PNG (out of memory)");
  Pixels out;
  std::vector<png_bytep> rows;
  if (!run_png(s, out, rows, path, options)) {
    throw input_error(path, std::string("cannot decode PNG (") + s.message + ")");
  }
  return out;
}

}  // namespace camkit::io
