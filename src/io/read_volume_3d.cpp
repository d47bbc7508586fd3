// camkit::read_volume_3d: the scans of 3-D models as one Volume (NIfTI, .npy, DICOM), and the
// small helpers around the type.
#include <algorithm>
#include <cctype>
#include <climits>
#include <filesystem>

#include "camkit/volume.hpp"
#include "io/dicom_file.hpp"
#include "io/file_bytes.hpp"
#include "io/limits.hpp"
#include "io/npy_array.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

// A .npy array as a volume: (D, H, W) one channel, (C, D, H, W), or (1, C, D, H, W).
Volume npy_volume(const std::string& path, const ReadOptions& options) {
  io::NpyFile file = io::open_npy(path, options);
  io::check_not_empty(file);
  std::vector<std::uint64_t> s = file.header.shape;
  if (s.size() == 5 && s[0] == 1) s.erase(s.begin());  // a batch of one
  std::uint64_t c = 1, d = 0, h = 0, w = 0;
  if (s.size() == 3) {
    d = s[0], h = s[1], w = s[2];
  } else if (s.size() == 4 && s[0] <= 64) {
    c = s[0], d = s[1], h = s[2], w = s[3];
  } else {
    throw io::input_error(path, "unsupported volume shape " + io::shape_string(file.header.shape) +
                                    " (expected (D, H, W), (C, D, H, W) with C <= 64 or "
                                    "(1, C, D, H, W))");
  }
  if (d > INT_MAX || h > INT_MAX || w > INT_MAX)
    throw io::input_error(path, "shape " + io::shape_string(file.header.shape) + " too large");
  io::check_npy_size(file);
  io::check_slices(path, d, "volume of " + std::to_string(d) + " slices", options);
  io::check_pixels(path, "slice", w, h, options);
  const std::vector<float> samples = io::npy_samples(file, options);
  Volume v;
  v.kind = "npy";
  v.depth = static_cast<int>(d);
  v.height = static_cast<int>(h);
  v.width = static_cast<int>(w);
  v.channels = static_cast<int>(c);
  v.bit_depth = file.bit_depth;
  v.data.resize(samples.size());
  const std::size_t plane = static_cast<std::size_t>(d * h * w);
  for (std::size_t i = 0; i < samples.size(); ++i)  // (C, D, H, W) planes -> interleaved
    v.data[(i % plane) * c + i / plane] = samples[i];
  return v;
}

}  // namespace

std::array<double, 3> VolumeSpace::world(double d, double h, double w) const {
  std::array<double, 3> out{};
  for (int r = 0; r < 3; ++r)
    out[r] = affine[r][0] * d + affine[r][1] * h + affine[r][2] * w + affine[r][3];
  return out;
}

bool is_nifti_file(const std::string& path) {
  const std::string p = lower(path);
  return ends_with(p, ".nii") || ends_with(p, ".nii.gz");
}

bool is_video_file(const std::string& path) {
  const std::string ext = lower(fs::path(path).extension().string());
  return ext == ".mp4" || ext == ".m4v" || ext == ".avi" || ext == ".webm" || ext == ".mkv" ||
         ext == ".mov";
}

bool is_volume_input(const std::string& path) {
  const std::string ext = lower(fs::path(path).extension().string());
  return is_nifti_file(path) || is_video_file(path) || ext == ".npy" ||
         io::has_dicom_extension(path);
}

Volume volume_from_slices(const std::vector<Image>& slices, const std::string& kind) {
  if (slices.empty()) throw Error(ErrorCode::input, "the volume has no slices");
  const Image& first = slices.front();
  Volume v;
  v.kind = kind;
  v.depth = static_cast<int>(slices.size());
  v.height = first.height;
  v.width = first.width;
  v.channels = first.channels;
  v.bit_depth = first.bit_depth;
  v.data.reserve(first.data.size() * slices.size());
  for (const Image& im : slices) {
    if (im.height != first.height || im.width != first.width || im.channels != first.channels)
      throw Error(ErrorCode::input, "the slices of a volume differ in size or channels");
    v.data.insert(v.data.end(), im.data.begin(), im.data.end());
  }
  return v;
}

Image volume_plane(const Volume& v, int axis, int index) {
  const int sizes[3] = {v.depth, v.height, v.width};
  if (axis < 0 || axis > 2 || index < 0 || index >= sizes[axis])
    throw Error(ErrorCode::usage, "volume_plane: plane " + std::to_string(index) + " of axis " +
                                      std::to_string(axis) + " is outside the volume");
  Image im;
  im.height = axis == 0 ? v.height : v.depth;
  im.width = axis == 2 ? v.height : v.width;
  im.channels = v.channels;
  im.bit_depth = v.bit_depth;
  im.data.resize(static_cast<std::size_t>(im.height) * im.width * v.channels);
  float* out = im.data.data();
  for (int r = 0; r < im.height; ++r)
    for (int c = 0; c < im.width; ++c) {
      const int d = axis == 0 ? index : r;
      const int h = axis == 1 ? index : (axis == 0 ? r : c);
      const int w = axis == 2 ? index : c;
      for (int k = 0; k < v.channels; ++k) *out++ = v.at(d, h, w, k);
    }
  return im;
}

Volume read_volume_3d(const std::string& path, const ReadOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_dicom_series(path, options);
  if (is_nifti_file(path)) return read_nifti(path, options);
  if (is_video_file(path))
    throw io::input_error(path, "a video: read it with read_video and the model's frame count");
  const std::string ext = lower(fs::path(path).extension().string());
  if (ext == ".npy") return npy_volume(path, options);
  if (io::has_dicom_extension(path) || (ext.empty() && is_dicom_file(path)))
    return volume_from_slices(read_volume(path, options), "dicom");
  if (ext.empty()) throw io::input_error(path, "unsupported file type for a volume (no extension)");
  throw io::input_error(path, "unsupported file type '" + fs::path(path).extension().string() +
                                  "' for a volume (NIfTI, .npy, DICOM, or a video)");
}

}  // namespace camkit
