// The sizes BMP and TIFF headers declare, read before OpenCV decodes either format, so that the
// pixel limit holds for them as it does for PNG and JPEG (io/image_codecs.hpp).
#include <cstdint>
#include <cstring>

#include "io/image_codecs.hpp"

namespace camkit::io {

namespace {

// Reads unsigned integers of 2, 4 or 8 bytes in either byte order, within [data, data + size).
class Reader {
 public:
  Reader(const unsigned char* data, std::size_t size, bool big) : d_(data), n_(size), big_(big) {}

  bool fits(std::uint64_t offset, std::uint64_t bytes) const {
    return offset <= n_ && bytes <= n_ - offset;
  }

  std::uint64_t get(std::uint64_t offset, int bytes) const {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      const std::uint64_t b = d_[offset + (big_ ? i : bytes - 1 - i)];
      v = (v << 8) | b;
    }
    return v;
  }

 private:
  const unsigned char* d_;
  std::size_t n_;
  bool big_;
};

// TIFF 6.0 field types that can hold ImageWidth/ImageLength: SHORT, LONG, and BigTIFF's LONG8.
int type_size(std::uint64_t type) {
  switch (type) {
    case 3:
      return 2;
    case 4:
      return 4;
    case 16:
      return 8;
    default:
      return 0;
  }
}

}  // namespace

bool is_tiff(const unsigned char* data, std::size_t size) {
  if (size < 4) return false;
  return std::memcmp(data, "II*\0", 4) == 0 || std::memcmp(data, "MM\0*", 4) == 0 ||
         std::memcmp(data, "II+\0", 4) == 0 || std::memcmp(data, "MM\0+", 4) == 0;
}

std::optional<DeclaredSize> tiff_size(const unsigned char* data, std::size_t size) {
  if (!is_tiff(data, size) || size < 8) return std::nullopt;
  const Reader r(data, size, data[0] == 'M');
  const bool big = data[3] == '+' || data[2] == '+';
  // Classic: 4-byte IFD offset, 2-byte entry count, 12-byte entries with 4-byte values.
  // BigTIFF: 8-byte offset (after a 2-byte offset size of 8 and 2 zero bytes), 8-byte count,
  // 20-byte entries with 8-byte values.
  const int offset_size = big ? 8 : 4;
  if (big && (size < 16 || r.get(4, 2) != 8)) return std::nullopt;
  const std::uint64_t ifd = r.get(big ? 8 : 4, offset_size);
  const int count_size = big ? 8 : 2;
  if (!r.fits(ifd, count_size)) return std::nullopt;
  const std::uint64_t entries = r.get(ifd, count_size);
  const std::uint64_t entry_size = big ? 20 : 12;
  std::optional<std::uint64_t> width, height;
  for (std::uint64_t i = 0; i < entries; ++i) {
    const std::uint64_t at = ifd + count_size + i * entry_size;
    if (!r.fits(at, entry_size)) break;
    const std::uint64_t tag = r.get(at, 2);
    const int bytes = type_size(r.get(at + 2, 2));
    const std::uint64_t count = r.get(at + 4, offset_size);
    if ((tag != 256 && tag != 257) || bytes == 0 || bytes > offset_size || count != 1) continue;
    const std::uint64_t value = r.get(at + 4 + offset_size, bytes);
    (tag == 256 ? width : height) = value;
  }
  if (!width || !height) return std::nullopt;
  return DeclaredSize{*width, *height};
}

std::optional<DeclaredSize> bmp_size(const unsigned char* data, std::size_t size) {
  if (size < 26 || data[0] != 'B' || data[1] != 'M') return std::nullopt;
  const Reader r(data, size, false);
  const std::uint64_t info_size = r.get(14, 4);
  if (info_size == 12) return DeclaredSize{r.get(18, 2), r.get(20, 2)};  // BITMAPCOREHEADER
  if (info_size < 40 || size < 30) return std::nullopt;
  // BITMAPINFOHEADER and its successors: signed 32-bit; a negative height means top-down rows.
  const auto signed32 = [&](std::uint64_t at) {
    const std::uint32_t u = static_cast<std::uint32_t>(r.get(at, 4));
    std::int32_t v;
    std::memcpy(&v, &u, sizeof v);
    const std::int64_t wide = v;
    return static_cast<std::uint64_t>(wide < 0 ? -wide : wide);
  };
  return DeclaredSize{signed32(18), signed32(22)};
}

}  // namespace camkit::io
