// camkit::read_dicom and is_dicom_file: a single-frame DICOM file as an Image (docs/dicom.md).
#include <algorithm>
#include <fstream>
#include <string>

#include "camkit/image.hpp"
#include "io/dicom_file.hpp"
#include "io/file_bytes.hpp"

namespace camkit {

bool is_dicom_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[132];
  if (!in.read(head, sizeof head)) return false;
  return std::string(head + 128, 4) == "DICM";
}

Image read_dicom(const std::string& path, const ReadOptions& options) {
  const io::DicomFrames f = io::load_dicom(path);
  if (f.frames != 1) {
    throw io::input_error(path, "multi-frame DICOM (" + std::to_string(f.frames) +
                                    " frames); read it as a volume (--volume)");
  }
  const auto [lo, hi] = std::minmax_element(f.values.begin(), f.values.end());
  return io::frame_image(f, 0, io::choose_window(options, f.window, *lo, *hi));
}

}  // namespace camkit
