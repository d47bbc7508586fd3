// io/dicom_file.hpp — private: one DICOM Part 10 file decoded to modality values (DCMTK inside),
// and the VOI functions that map them to [0,1]. read_dicom and read_volume build Images from it.
// docs/dicom.md states every rule implemented here.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "camkit/image.hpp"

namespace camkit::io {

/// DICOM PS3.3 C.11.2.1.2: how a VOI window maps a modality value to [0,1].
enum class VoiFunction { linear, linear_exact, sigmoid };

struct VoiWindow {
  double center = 0;
  double width = 1;
  VoiFunction function = VoiFunction::linear;
};

/// The pixels of one file and the attributes that order slices of a series.
struct DicomFrames {
  int rows = 0, columns = 0, frames = 0;
  bool rgb = false;          ///< 3 samples (0..255 each); else grey
  bool monochrome1 = false;  ///< grey where low values are bright: inverted after the VOI window
  /// frames x rows x columns x (3 or 1) samples, interleaved. Grey: modality values (after the
  /// Modality LUT Sequence or the rescale); RGB: the stored 8-bit values.
  std::vector<float> values;
  std::optional<VoiWindow> window;  ///< the file's first valid WindowCenter/WindowWidth
  std::string series_uid;           ///< SeriesInstanceUID, "" when absent
  std::optional<std::array<double, 3>> position;       ///< ImagePositionPatient
  std::optional<std::array<double, 6>> orientation;    ///< ImageOrientationPatient
  std::optional<long> instance_number;                 ///< InstanceNumber
  std::optional<std::array<double, 2>> pixel_spacing;  ///< PixelSpacing: row, column spacing (mm)
  std::optional<double> slice_thickness;               ///< SliceThickness (mm)

  std::size_t frame_size() const {
    return static_cast<std::size_t>(rows) * columns * (rgb ? 3 : 1);
  }
};

/// One file of a DICOM series.
struct SeriesSlice {
  std::string path, name;
  DicomFrames dicom;
};

/// The files of a series `dir` (docs/dicom.md, "Volumes"), checked (one series, single-frame,
/// one size, within the limits) and sorted by position along the slice normal, then
/// InstanceNumber, then name. Throws input_error as read_volume does for a series folder.
std::vector<SeriesSlice> load_series(const std::string& dir, const std::vector<std::string>& files,
                                     const ReadOptions& options);

/// The DICOM files of a series folder (names sorted), as read_volume lists them.
std::vector<std::string> series_files(const std::string& dir, const ReadOptions& options);

/// True for the extensions .dcm and .dicom, in any case.
bool has_dicom_extension(const std::string& path);

/// Reads and decodes `path`. Throws input_error(path, reason) for every problem (docs/dicom.md,
/// "Errors"), and when the file or what its attributes declare exceeds a limit of `options`
/// (file size; NumberOfFrames against max_slices, Rows x Columns against max_pixels, all samples
/// against max_decoded_bytes, checked before the pixel data is decoded). Registers DCMTK's JPEG,
/// JPEG-LS and RLE decoders on first use (thread-safe).
DicomFrames load_dicom(const std::string& path, const ReadOptions& options);

/// The window that maps [lo, hi] linearly onto [0, 1]: DICOM LINEAR with centre (lo + hi + 1) / 2
/// and width hi - lo + 1, i.e. y = (x - lo) / (hi - lo); a constant image (lo == hi) maps to 0.
VoiWindow range_window(double lo, double hi);

/// y in [0, 1] for modality value x (PS3.3 C.11.2.1.2.1 and C.11.2.1.3.1, ymin 0, ymax 1).
double apply_voi(double x, const VoiWindow& w);

/// The window for a grey image or stack: options.window (LINEAR), else `from_file` (the file's, or
/// the first slice's), else range_window(lo, hi) over the modality values of the image or stack.
VoiWindow choose_window(const ReadOptions& options, const std::optional<VoiWindow>& from_file,
                        double lo, double hi);

/// Frame `frame` of `f`: grey windowed by `w` (inverted for MONOCHROME1), 1 channel, bit_depth 0;
/// or RGB divided by 255, 3 channels, bit_depth 8.
Image frame_image(const DicomFrames& f, int frame, const VoiWindow& w);

}  // namespace camkit::io
