#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <string>

#include "camkit/image.hpp"
#include "io/dicom_file.hpp"
#include "io/file_bytes.hpp"

namespace camkit {

namespace {

std::string extension(const std::string& path) {
  return std::filesystem::path(path).extension().string();
}

std::string lower_extension(const std::string& path) {
  std::string ext = extension(path);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

constexpr std::array<const char*, 6> kImageExtensions = {".png", ".jpg", ".jpeg",
                                                         ".bmp", ".tif", ".tiff"};

bool is_image_extension(const std::string& ext) {
  return std::find(kImageExtensions.begin(), kImageExtensions.end(), ext) != kImageExtensions.end();
}

}  // namespace

bool is_supported_input(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".npy" || is_image_extension(ext) || io::has_dicom_extension(path);
}

Image read_input(const std::string& path, const ReadOptions& options) {
  // The extension is checked before the file is touched: a wrong type is the more useful report
  // for "notes.txt" than whether it exists.
  const std::string ext = lower_extension(path);
  if (ext == ".npy") return read_npy(path, options);
  if (is_image_extension(ext)) return read_image(path, options);
  if (io::has_dicom_extension(path)) return read_dicom(path, options);
  // DICOM files often come without an extension (e.g. from scanners' export folders).
  if (ext.empty() && is_dicom_file(path)) return read_dicom(path, options);
  if (ext.empty()) throw io::input_error(path, "unsupported file type (no extension)");
  throw io::input_error(path, "unsupported file type '" + extension(path) + "'");
}

}  // namespace camkit
