// The container checks and the image decoders (libpng, libjpeg, OpenCV for BMP/TIFF) on
// arbitrary bytes, as read_image does. Any camkit::Error is an expected outcome.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "io/container_check.hpp"
#include "io/image_codecs.hpp"
#include "io/image_decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A heap copy of exactly `size` bytes: reads past the end are caught.
  const std::vector<unsigned char> bytes(data, data + size);
  camkit::io::container_problem(bytes.data(), bytes.size());
  camkit::io::bmp_size(bytes.data(), bytes.size());
  camkit::ReadOptions options;
  options.max_pixels = 1 << 20;
  try {
    camkit::io::decode_image("fuzz.img", bytes.data(), bytes.size(), options);
  } catch (const camkit::Error&) {
  }
  return 0;
}
