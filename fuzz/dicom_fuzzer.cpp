// DICOM parsing (DCMTK), pixel formats, codecs and windowing on arbitrary bytes, as read_dicom
// and read_volume do for one file. Any camkit::Error is an expected outcome.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "io/dicom_file.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = camkit_fuzz::write_scratch(data, size, ".dcm");
  if (path.empty()) return 0;
  camkit::ReadOptions options;
  options.max_pixels = 1 << 20;
  options.max_slices = 64;
  options.max_decoded_bytes = 16 << 20;
  try {
    const camkit::io::DicomFrames f = camkit::io::load_dicom(path, options);
    if (f.values.empty()) return 0;
    const auto [lo, hi] = std::minmax_element(f.values.begin(), f.values.end());
    const camkit::io::VoiWindow w = camkit::io::choose_window(options, f.window, *lo, *hi);
    for (int k = 0; k < f.frames; ++k) camkit::io::frame_image(f, k, w);
  } catch (const camkit::Error&) {
  }
  return 0;
}
