// The .npy header parser and array reader on arbitrary bytes, read both as one image (read_npy)
// and as a volume (read_volume). Any camkit::Error is an expected outcome; a crash, a sanitizer
// report, another exception or an allocation beyond the limits below is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "io/npy_array.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  camkit::ReadOptions options;
  // Small limits keep each run fast; they are what the readers promise to honour.
  options.max_pixels = 1 << 20;
  options.max_slices = 64;
  options.max_decoded_bytes = 16 << 20;
  const std::vector<unsigned char> bytes(data, data + size);
  try {
    camkit::io::decode_npy(camkit::io::npy_from_bytes("fuzz.npy", bytes), options);
  } catch (const camkit::Error&) {
  }
  try {
    camkit::io::decode_npy_volume(camkit::io::npy_from_bytes("fuzz.npy", bytes), options);
  } catch (const camkit::Error&) {
  }
  return 0;
}
