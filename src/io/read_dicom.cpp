// camkit::read_dicom and is_dicom_file: a single-frame DICOM file as an Image (docs/dicom.md).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "camkit/image.hpp"
#include "io/dicom_file.hpp"
#include "io/file_bytes.hpp"

namespace camkit {

bool is_dicom_file(const std::string& path) {
  // Through RegularFile, so that probing a FIFO or a device never blocks or reads forever.
  try {
    io::RegularFile file(path, UINT64_MAX);
    std::vector<unsigned char> head;
    return file.read_more(head, 132) == 132 && std::memcmp(head.data() + 128, "DICM", 4) == 0;
  } catch (const Error&) {
    return false;
  }
}

Image read_dicom(const std::string& path, const ReadOptions& options) {
  const io::DicomFrames f = io::load_dicom(path, options);
  if (f.frames != 1) {
    throw io::input_error(path, "multi-frame DICOM (" + std::to_string(f.frames) +
                                    " frames); read it as a volume (--volume)");
  }
  const auto [lo, hi] = std::minmax_element(f.values.begin(), f.values.end());
  return io::frame_image(f, 0, io::choose_window(options, f.window, *lo, *hi));
}

}  // namespace camkit
