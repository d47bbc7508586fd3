// TIFF files read through libtiff once before OpenCV decodes them (io/image_codecs.hpp): the
// declared size, the fields OpenCV's reader needs, and every strip or tile, with handlers of this
// handle only, so that what libtiff says about a damaged file becomes camkit's one line and
// OpenCV's reader, which prints its exceptions, meets only files libtiff can read.
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "io/file_bytes.hpp"
#include "io/image_codecs.hpp"
#include "io/limits.hpp"

namespace camkit::io {

namespace {

struct Memory {
  const unsigned char* data;
  toff_t size, pos;
};

tmsize_t read_proc(thandle_t h, void* out, tmsize_t n) {
  Memory& m = *static_cast<Memory*>(h);
  if (n <= 0 || m.pos >= m.size) return 0;
  const toff_t count = std::min<toff_t>(static_cast<toff_t>(n), m.size - m.pos);
  std::memcpy(out, m.data + m.pos, static_cast<std::size_t>(count));
  m.pos += count;
  return static_cast<tmsize_t>(count);
}

tmsize_t write_proc(thandle_t, void*, tmsize_t) {
  return 0;
}

toff_t seek_proc(thandle_t h, toff_t offset, int whence) {
  Memory& m = *static_cast<Memory*>(h);
  const toff_t base = whence == SEEK_CUR ? m.pos : whence == SEEK_END ? m.size : 0;
  if (offset > static_cast<toff_t>(-1) - base) return static_cast<toff_t>(-1);
  m.pos = base + offset;  // beyond the end is allowed; reads there return nothing
  return m.pos;
}

int close_proc(thandle_t) {
  return 0;
}
toff_t size_proc(thandle_t h) {
  return static_cast<Memory*>(h)->size;
}
int map_proc(thandle_t, void**, toff_t*) {
  return 0;
}
void unmap_proc(thandle_t, void*, toff_t) {}

int on_error(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  std::string& first = *static_cast<std::string*>(user);
  if (first.empty()) {
    char text[512];
    std::vsnprintf(text, sizeof text, fmt, ap);
    first = module != nullptr && *module != '\0' ? std::string(module) + ": " + text : text;
  }
  return 1;  // handled: libtiff's global handler, which prints, is not called
}

// Warnings are about tags libtiff does not know or fixes itself; nothing of the pixels.
int on_warning(TIFF*, void*, const char*, const char*, va_list) {
  return 1;
}

struct CloseTiff {
  void operator()(TIFF* t) const { TIFFClose(t); }
};
struct FreeOptions {
  void operator()(TIFFOpenOptions* o) const { TIFFOpenOptionsFree(o); }
};

}  // namespace

bool is_tiff(const unsigned char* data, std::size_t size) {
  if (size < 4) return false;
  return std::memcmp(data, "II*\0", 4) == 0 || std::memcmp(data, "MM\0*", 4) == 0 ||
         std::memcmp(data, "II+\0", 4) == 0 || std::memcmp(data, "MM\0+", 4) == 0;
}

void check_tiff(const std::string& path, const unsigned char* data, std::size_t size,
                const ReadOptions& options) {
  std::string error;
  const auto fail = [&](const std::string& what) {
    throw input_error(path, "cannot decode TIFF (" + (error.empty() ? what : error) + ")");
  };
  const std::unique_ptr<TIFFOpenOptions, FreeOptions> opts(TIFFOpenOptionsAlloc());
  TIFFOpenOptionsSetErrorHandlerExtR(opts.get(), on_error, &error);
  TIFFOpenOptionsSetWarningHandlerExtR(opts.get(), on_warning, nullptr);
  // No single allocation beyond what the largest picture allowed could need (16-bit RGBA).
  TIFFOpenOptionsSetMaxSingleMemAlloc(
      opts.get(), static_cast<tmsize_t>(std::min<std::uint64_t>(
                      saturating_mul(options.max_pixels, 8) + (1 << 20), INT64_MAX)));
  Memory memory{data, size, 0};
  const std::unique_ptr<TIFF, CloseTiff> tif(
      TIFFClientOpenExt("image", "rm", &memory, read_proc, write_proc, seek_proc, close_proc,
                        size_proc, map_proc, unmap_proc, opts.get()));
  if (!tif) fail("no readable image file directory");

  std::uint32_t width = 0, height = 0;
  if (TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &width) != 1 ||
      TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &height) != 1) {
    fail("no ImageWidth or ImageLength");
  }
  check_pixels(path, "image", width, height, options);
  std::uint16_t photometric = 0, bits = 1;
  if (TIFFGetField(tif.get(), TIFFTAG_PHOTOMETRIC, &photometric) != 1) {
    fail("no PhotometricInterpretation");
  }
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bits);
  // The sample sizes OpenCV 4.6's reader accepts; it throws (and prints) for others.
  if (bits != 1 && bits != 8 && bits != 10 && bits != 12 && bits != 14 && bits != 16 &&
      bits != 32 && bits != 64) {
    throw input_error(path, "unsupported TIFF BitsPerSample " + std::to_string(bits));
  }

  std::uint16_t samples = 1;
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &samples);
  if (samples < 1 || samples > 4) {
    throw input_error(path, "unsupported TIFF SamplesPerPixel " + std::to_string(samples));
  }

  // Every strip or tile decoded once, the way OpenCV's reader will: 8 bits and less through
  // libtiff's RGBA interface, wider samples as stored.
  // Damaged data fails here with libtiff's reason.
  const bool tiled = TIFFIsTiled(tif.get()) != 0;
  const bool rgba = bits <= 8;
  // OpenCV asks libtiff whether its RGBA interface can read the image for integer samples of up
  // to 16 bits, and gives up (printing why) when it cannot.
  if (bits <= 16) {
    char why[1024] = {};
    if (TIFFRGBAImageOK(tif.get(), why) != 1) fail(why);
  }
  std::uint32_t tile_width = width, tile_height = 0;
  if (tiled) {
    TIFFGetField(tif.get(), TIFFTAG_TILEWIDTH, &tile_width);
    TIFFGetField(tif.get(), TIFFTAG_TILELENGTH, &tile_height);
  } else {
    TIFFGetFieldDefaulted(tif.get(), TIFFTAG_ROWSPERSTRIP, &tile_height);
  }
  tile_height = std::min(tile_height, height);
  if (tile_width == 0 || tile_height == 0) fail("empty strips or tiles");
  const tmsize_t chunk = rgba ? static_cast<tmsize_t>(tile_width) * tile_height * 4
                              : (tiled ? TIFFTileSize(tif.get()) : TIFFStripSize(tif.get()));
  if (chunk <= 0 || static_cast<std::uint64_t>(chunk) > saturating_mul(options.max_pixels, 8)) {
    fail("strips or tiles larger than the image");
  }
  std::vector<unsigned char> buffer(static_cast<std::size_t>(chunk));
  auto* raster = reinterpret_cast<std::uint32_t*>(buffer.data());
  if (rgba && tiled) {
    for (std::uint32_t y = 0; y < height; y += tile_height) {
      for (std::uint32_t x = 0; x < width; x += tile_width) {
        if (TIFFReadRGBATile(tif.get(), x, y, raster) != 1) fail("cannot read a tile");
      }
    }
  } else if (rgba) {
    for (std::uint32_t y = 0; y < height; y += tile_height) {
      if (TIFFReadRGBAStrip(tif.get(), y, raster) != 1) fail("cannot read a strip");
    }
  } else {
    const std::uint32_t count =
        tiled ? TIFFNumberOfTiles(tif.get()) : TIFFNumberOfStrips(tif.get());
    for (std::uint32_t i = 0; i < count; ++i) {
      const tmsize_t got = tiled ? TIFFReadEncodedTile(tif.get(), i, buffer.data(), chunk)
                                 : TIFFReadEncodedStrip(tif.get(), i, buffer.data(), chunk);
      if (got < 0) fail((tiled ? "cannot read tile " : "cannot read strip ") + std::to_string(i));
    }
  }
  if (!error.empty()) fail("");
}

}  // namespace camkit::io
