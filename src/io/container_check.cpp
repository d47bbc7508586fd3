#include "io/container_check.hpp"

#include <cstdint>
#include <cstring>

namespace camkit::io {

namespace {

const char* const kTruncatedJpeg = "truncated or corrupt JPEG (no end-of-image marker)";
const char* const kTruncatedPng = "truncated PNG (no IEND chunk)";

bool is_standalone_marker(unsigned char m) {
  return m == 0x01 || (m >= 0xD0 && m <= 0xD8);  // TEM, RST0-7, SOI: no length field
}

// Walks the marker segments the way libjpeg's reader does (ITU T.81 B.1.1): each marker is FF xx,
// most carry a 2-byte big-endian length that includes itself, and after SOS (FF DA) comes
// entropy-coded data in which FF is followed by 00 (stuffing) or an RSTn marker. A marker found
// by byte scan rather than by length can only start after entropy data, so an EXIF thumbnail's
// own EOI (inside the APP1 length) never counts. Bytes after EOI are ignored, as libjpeg does.
std::string jpeg_problem(const unsigned char* d, std::size_t n) {
  std::size_t p = 2;  // past SOI
  while (p < n) {
    if (d[p] != 0xFF) {  // stray bytes before a marker: libjpeg skips them with a warning
      ++p;
      continue;
    }
    while (p < n && d[p] == 0xFF) ++p;  // fill bytes
    if (p >= n) break;
    const unsigned char marker = d[p++];
    if (marker == 0xD9) return {};
    if (marker == 0x00 || is_standalone_marker(marker)) continue;
    if (n - p < 2) break;
    const std::size_t length = (static_cast<std::size_t>(d[p]) << 8) | d[p + 1];
    if (length < 2) return "cannot decode image (bad JPEG segment length)";
    if (n - p < length) break;
    p += length;
    if (marker != 0xDA) continue;
    // Entropy-coded data: stop at the first FF that starts a real marker.
    while (p < n) {
      if (d[p] != 0xFF) {
        ++p;
        continue;
      }
      if (n - p < 2) {
        p = n;
        break;
      }
      const unsigned char next = d[p + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        p += 2;
      } else if (next == 0xFF) {
        ++p;
      } else {
        break;  // p is at the FF of the next marker
      }
    }
  }
  return kTruncatedJpeg;
}

std::uint32_t be32(const unsigned char* d) {
  return (static_cast<std::uint32_t>(d[0]) << 24) | (static_cast<std::uint32_t>(d[1]) << 16) |
         (static_cast<std::uint32_t>(d[2]) << 8) | static_cast<std::uint32_t>(d[3]);
}

// PNG (ISO/IEC 15948 5.3): signature, then chunks of length(4) type(4) data crc(4), ending with
// IEND. CRCs are left to libpng, which checks them for the chunks it reads.
std::string png_problem(const unsigned char* d, std::size_t n) {
  std::size_t p = 8;
  while (n - p >= 12) {
    const std::uint32_t length = be32(d + p);
    if (length > 0x7FFFFFFFu) return "cannot decode image (bad PNG chunk length)";
    if (std::memcmp(d + p + 4, "IEND", 4) == 0) return {};
    if (n - p - 12 < length) break;
    p += 12 + static_cast<std::size_t>(length);
  }
  return kTruncatedPng;
}

std::uint32_t le32(const unsigned char* d) {
  return static_cast<std::uint32_t>(d[0]) | (static_cast<std::uint32_t>(d[1]) << 8) |
         (static_cast<std::uint32_t>(d[2]) << 16) | (static_cast<std::uint32_t>(d[3]) << 24);
}

std::uint32_t le16(const unsigned char* d) {
  return static_cast<std::uint32_t>(d[0]) | (static_cast<std::uint32_t>(d[1]) << 8);
}

// OpenCV reports a damaged BMP by printing its own exception to stderr before returning an empty
// image, so what its reader would trip over is checked first: the header it reads (12 bytes, or
// 36 and more), the palette, the compression, and the size an uncompressed bitmap needs (header
// offset + padded rows). Compressed (RLE) data is left to the decoder.
std::string bmp_problem(const unsigned char* d, std::size_t n) {
  if (n < 14 + 16) return "truncated BMP (incomplete header)";
  const std::uint64_t offset = le32(d + 10);
  const std::uint32_t info_size = le32(d + 14);
  if (info_size > 0x7FFFFFFFu || (info_size != 12 && info_size < 36)) {
    return "cannot decode image (bad BMP header size " + std::to_string(info_size) + ")";
  }
  if (n < 14 + static_cast<std::uint64_t>(info_size)) return "truncated BMP (incomplete header)";
  std::int64_t width = 0, height = 0;
  std::uint32_t bpp = 0, compression = 0;
  if (info_size == 12) {  // BITMAPCOREHEADER
    width = le16(d + 18);
    height = le16(d + 20);
    bpp = le16(d + 24);
  } else {  // BITMAPINFOHEADER and its successors
    width = static_cast<std::int32_t>(le32(d + 18));
    height = static_cast<std::int32_t>(le32(d + 22));  // negative: rows stored top-down
    bpp = le16(d + 28);
    compression = le32(d + 30);
  }
  if (width <= 0 || height == 0) {
    return "empty BMP (" + std::to_string(width) + " x " + std::to_string(height) + ")";
  }
  // OpenCV 4.6 asserts (and prints) on anything past BI_BITFIELDS: JPEG/PNG-in-BMP, alpha masks.
  if (compression > 3) return "unsupported BMP compression (" + std::to_string(compression) + ")";
  // It asserts on a palette of more than 256 colours too, and reads the palette unchecked.
  if (info_size >= 36 && bpp <= 8 && bpp > 0) {
    const std::uint64_t colours = le32(d + 46) == 0 ? (1u << bpp) : le32(d + 46);
    if (colours > 256) return "corrupt BMP (palette of " + std::to_string(colours) + " colours)";
    if (n < 14 + static_cast<std::uint64_t>(info_size) + colours * 4) {
      return "truncated BMP (incomplete palette)";
    }
  }
  const bool uncompressed = compression == 0 || compression == 3;  // not RLE8/RLE4
  if (!uncompressed || bpp == 0 || bpp > 32) return {};
  const std::uint64_t stride = (static_cast<std::uint64_t>(width) * bpp + 31) / 32 * 4;
  const std::uint64_t rows = static_cast<std::uint64_t>(height < 0 ? -height : height);
  const std::uint64_t needed = offset + stride * rows;
  if (n >= needed) return {};
  return "truncated BMP (pixel data needs " + std::to_string(needed) + " bytes, file has " +
         std::to_string(n) + ")";
}

}  // namespace

std::string container_problem(const unsigned char* data, std::size_t size) {
  static const unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    return jpeg_problem(data, size);
  }
  if (size >= 8 && std::memcmp(data, kPngSignature, 8) == 0) return png_problem(data, size);
  if (size >= 2 && data[0] == 'B' && data[1] == 'M') return bmp_problem(data, size);
  return {};
}

}  // namespace camkit::io
