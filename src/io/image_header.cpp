// The size a BMP header declares, read before OpenCV decodes the file, so that the pixel limit
// holds for BMP as it does for PNG and JPEG (io/image_codecs.hpp).
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

}  // namespace

std::optional<DeclaredSize> bmp_size(const unsigned char* data, std::size_t size) {
  if (size < 26 || data[0] != 'B' || data[1] != 'M') return std::nullopt;
  const Reader r(data, size, false);
  const std::uint64_t info_size = r.get(14, 4);
  if (info_size == 12) return DeclaredSize{r.get(18, 2), r.get(20, 2)};  // BITMAPCOREHEADER
  if (info_size < 36 || size < 30) return std::nullopt;
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
