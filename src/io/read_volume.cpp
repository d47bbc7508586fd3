// camkit::read_volume: stacks of slices from .npy arrays, multi-frame DICOM files and DICOM series
// directories (docs/dicom.md, "Volumes").
#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "camkit/image.hpp"
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

std::pair<double, double> value_range(const std::vector<float>& values) {
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return {*lo, *hi};
}

std::vector<Image> dicom_volume(const std::string& path, const ReadOptions& options) {
  const io::DicomFrames f = io::load_dicom(path, options);
  const auto [lo, hi] = value_range(f.values);
  const io::VoiWindow window = io::choose_window(options, f.window, lo, hi);
  std::vector<Image> out;
  for (int k = 0; k < f.frames; ++k) out.push_back(io::frame_image(f, k, window));
  return out;
}

using Slice = io::SeriesSlice;

// The files of a series folder: *.dcm / *.dicom, and any other file with the DICM marker, except
// hidden files and DICOMDIR (a media index without pixels). Sorted by name for stable errors.
}  // namespace

std::vector<std::string> io::series_files(const std::string& dir, const ReadOptions& options) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || lower(name) == "dicomdir") continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    const std::string path = it->path().string();
    if (io::has_dicom_extension(path) || is_dicom_file(path)) out.push_back(path);
    // Checked while listing, so a folder of millions of files is not listed to the end.
    if (out.size() > options.max_slices) break;
  }
  if (ec) throw io::input_error(dir, "cannot list the directory (" + ec.message() + ")");
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::string describe(const io::DicomFrames& f) {
  return std::to_string(f.rows) + "x" + std::to_string(f.columns) + (f.rgb ? " RGB" : " grey");
}

void check_same_series(const std::string& dir, const Slice& first, const Slice& s) {
  if (s.dicom.frames != 1) {
    throw io::input_error(s.path, "multi-frame file (" + std::to_string(s.dicom.frames) +
                                      " frames) in a series directory; read it on its own");
  }
  if (s.dicom.series_uid != first.dicom.series_uid) {
    const auto uid = [](const Slice& x) {
      return (x.dicom.series_uid.empty() ? std::string("(no SeriesInstanceUID)")
                                         : x.dicom.series_uid) +
             " (" + x.name + ")";
    };
    throw io::input_error(dir, "more than one series: " + uid(first) + " and " + uid(s));
  }
  if (s.dicom.rows != first.dicom.rows || s.dicom.columns != first.dicom.columns ||
      s.dicom.rgb != first.dicom.rgb) {
    throw io::input_error(s.path, "slice is " + describe(s.dicom) + ", " + first.name + " is " +
                                      describe(first.dicom));
  }
}

// Position along the slice normal n = row x column direction cosines (PS3.3 C.7.6.2.1.1), used
// only when every slice has ImagePositionPatient and the first has a valid orientation.
std::vector<double> normal_positions(const std::vector<Slice>& slices) {
  const auto& o = slices.front().dicom.orientation;
  if (!o) return {};
  const double n[3] = {(*o)[1] * (*o)[5] - (*o)[2] * (*o)[4], (*o)[2] * (*o)[3] - (*o)[0] * (*o)[5],
                       (*o)[0] * (*o)[4] - (*o)[1] * (*o)[3]};
  if (n[0] == 0 && n[1] == 0 && n[2] == 0) return {};
  std::vector<double> out;
  for (const Slice& s : slices) {
    if (!s.dicom.position) return {};
    const auto& p = *s.dicom.position;
    out.push_back(p[0] * n[0] + p[1] * n[1] + p[2] * n[2]);
  }
  return out;
}

void sort_slices(std::vector<Slice>& slices) {
  const std::vector<double> position = normal_positions(slices);
  const bool numbered = std::all_of(slices.begin(), slices.end(),
                                    [](const Slice& s) { return s.dicom.instance_number; });
  std::vector<std::size_t> order(slices.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (!position.empty() && position[a] != position[b]) return position[a] < position[b];
    if (numbered && *slices[a].dicom.instance_number != *slices[b].dicom.instance_number) {
      return *slices[a].dicom.instance_number < *slices[b].dicom.instance_number;
    }
    return slices[a].name < slices[b].name;
  });
  std::vector<Slice> sorted;
  for (std::size_t i : order) sorted.push_back(std::move(slices[i]));
  slices = std::move(sorted);
}

}  // namespace

std::vector<io::SeriesSlice> io::load_series(const std::string& dir,
                                             const std::vector<std::string>& files,
                                             const ReadOptions& options) {
  if (files.empty()) {
    throw io::input_error(dir, "no DICOM files (*.dcm, *.dicom or files with the DICM marker)");
  }
  if (files.size() > options.max_slices) {
    throw io::input_error(
        dir, io::over_limit("series of more than " + std::to_string(options.max_slices) + " files",
                            options.max_slices, io::kSlicesFlag));
  }
  std::vector<Slice> slices;
  // The series as a whole is bounded like one file: each file is checked against what the
  // files before it left of the budget, before its pixels are decoded.
  ReadOptions each = options;
  std::uint64_t decoded = 0;
  for (const std::string& path : files) {
    each.max_decoded_bytes = options.max_decoded_bytes - decoded;
    try {
      slices.push_back({path, fs::path(path).filename().string(), io::load_dicom(path, each)});
    } catch (const Error& e) {
      if (decoded == 0 || std::string(e.what()).find(io::kDecodedFlag) == std::string::npos) throw;
      throw io::input_error(dir, "series of " + std::to_string(files.size()) +
                                     " files decodes to more bytes as float32 than the limit of " +
                                     std::to_string(options.max_decoded_bytes) +
                                     " (raise it with " + io::kDecodedFlag + ")");
    }
    decoded += slices.back().dicom.values.size() * sizeof(float);
    check_same_series(dir, slices.front(), slices.back());
  }
  sort_slices(slices);
  return slices;
}

namespace {

std::vector<Image> series_volume(const std::string& dir, const std::vector<std::string>& files,
                                 const ReadOptions& options) {
  std::vector<Slice> slices = io::load_series(dir, files, options);

  // One window for the whole series, so that equal modality values look equal on every slice.
  double lo = 0, hi = 0;
  for (std::size_t i = 0; i < slices.size(); ++i) {
    const auto [l, h] = value_range(slices[i].dicom.values);
    lo = i == 0 ? l : std::min(lo, l);
    hi = i == 0 ? h : std::max(hi, h);
  }
  const io::VoiWindow window = io::choose_window(options, slices.front().dicom.window, lo, hi);
  std::vector<Image> out;
  for (Slice& s : slices) {
    out.push_back(io::frame_image(s.dicom, 0, window));
    std::vector<float>().swap(s.dicom.values);  // freed as soon as its slice is built
  }
  return out;
}

}  // namespace

namespace io {

// A 3-D array is always slices here, never (C, H, W): read_volume is asked for a stack.
std::vector<Image> decode_npy_volume(NpyFile file, const ReadOptions& options) {
  const std::string& path = file.path;
  check_not_empty(file);
  std::vector<std::uint64_t> s = file.header.shape;
  if (s.size() == 5 && s[0] == 1) s.erase(s.begin());  // a batch of one exam
  std::uint64_t slices = 1, channels = 1, h = 0, w = 0;
  if (s.size() == 2) {
    h = s[0];
    w = s[1];
  } else if (s.size() == 3) {
    slices = s[0];
    h = s[1];
    w = s[2];
  } else if (s.size() == 4 && (s[1] == 1 || s[1] == 3)) {
    slices = s[0];
    channels = s[1];
    h = s[2];
    w = s[3];
  } else {
    throw input_error(path, "unsupported volume shape " + shape_string(file.header.shape) +
                                " (expected (S, H, W), (S, C, H, W) with C 1 or 3, "
                                "(1, S, C, H, W) or (H, W))");
  }
  if (h > INT_MAX || w > INT_MAX) {
    throw input_error(path, "shape " + shape_string(file.header.shape) + " too large");
  }
  check_npy_size(file);
  check_slices(path, slices, "volume of " + std::to_string(slices) + " slices", options);
  check_pixels(path, "slice", w, h, options);
  // Sizes are checked against the data before any slice is allocated.
  const std::vector<float> samples = npy_samples(file, options);

  const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  const std::size_t per_slice = plane * static_cast<std::size_t>(channels);
  std::vector<Image> out(static_cast<std::size_t>(slices));
  for (std::size_t k = 0; k < out.size(); ++k) {
    Image& im = out[k];
    im.height = static_cast<int>(h);
    im.width = static_cast<int>(w);
    im.channels = static_cast<int>(channels);
    im.bit_depth = file.bit_depth;
    im.data.resize(per_slice);
    const float* src = samples.data() + k * per_slice;
    for (std::size_t i = 0; i < per_slice; ++i) {  // (C, H, W) planes -> interleaved
      im.data[(i % plane) * im.channels + i / plane] = src[i];
    }
  }
  return out;
}

}  // namespace io

std::vector<Image> read_volume(const std::string& path, const ReadOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return series_volume(path, io::series_files(path, options), options);
  const std::string ext = lower(fs::path(path).extension().string());
  if (ext == ".npy") return io::decode_npy_volume(io::open_npy(path, options), options);
  if (io::has_dicom_extension(path) || (ext.empty() && is_dicom_file(path))) {
    return dicom_volume(path, options);
  }
  std::vector<Image> one;
  one.push_back(read_input(path, options));
  return one;
}

std::vector<Image> read_series(const std::string& name, const std::vector<std::string>& files,
                               const ReadOptions& options) {
  std::vector<std::string> sorted = files;
  std::sort(sorted.begin(), sorted.end());
  return series_volume(name, sorted, options);
}

}  // namespace camkit
