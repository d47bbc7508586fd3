// The NIfTI-1/2 reader (header through libnifti2, gzip inflation, data types, scaling) on
// arbitrary bytes (gzip is recognised by its magic bytes, as for files). Any camkit::Error is an
// expected outcome; a crash, a sanitizer report, another exception or an allocation beyond the
// limits below is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/volume.hpp"
#include "io/nifti_bytes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  camkit::ReadOptions options;
  // Small limits keep each run fast; they are what the reader promises to honour.
  options.max_pixels = 1 << 20;
  options.max_slices = 64;
  options.max_decoded_bytes = 16 << 20;
  options.max_file_bytes = 16 << 20;
  const std::vector<unsigned char> bytes(data, data + size);
  try {
    camkit::io::NiftiBytes source("fuzz.nii", bytes);
    camkit::io::nifti_volume("fuzz.nii", source, options);
  } catch (const camkit::Error&) {
  }
  return 0;
}
