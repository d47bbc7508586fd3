// camkit::read_dicom_series: a DICOM series folder as the scan of a 3-D model, in modality
// values (Hounsfield units for CT) with its voxel -> patient affine (docs/volumes3d.md).
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "camkit/volume.hpp"
#include "io/dicom_file.hpp"
#include "io/file_bytes.hpp"

namespace camkit {
namespace {

// The affine of the sorted slices in DICOM patient coordinates (LPS, mm), PS3.3 C.7.6.2.1.1:
// voxel (d, h, w) = (slice, row, column) lies at P_0 + d * S + h * dr * Y + w * dc * X, with
// X and Y the row and column direction cosines of ImageOrientationPatient, (dr, dc) the
// PixelSpacing and S the step between slice positions ((P_last - P_0) / (n - 1); one slice:
// the normal times SliceThickness, else 1 mm). false (no affine) without positions, orientation and
// spacing on every slice.
bool patient_affine(const std::vector<io::SeriesSlice>& slices, VolumeSpace& space) {
  const io::DicomFrames& first = slices.front().dicom;
  if (!first.orientation || !first.pixel_spacing) return false;
  for (const io::SeriesSlice& s : slices)
    if (!s.dicom.position) return false;
  const auto& o = *first.orientation;
  const double X[3] = {o[0], o[1], o[2]}, Y[3] = {o[3], o[4], o[5]};
  const double N[3] = {X[1] * Y[2] - X[2] * Y[1], X[2] * Y[0] - X[0] * Y[2],
                       X[0] * Y[1] - X[1] * Y[0]};
  if (N[0] == 0 && N[1] == 0 && N[2] == 0) return false;
  const auto& p0 = *first.position;
  const auto& pn = *slices.back().dicom.position;
  const double n = static_cast<double>(slices.size());
  double S[3];
  for (int r = 0; r < 3; ++r)
    S[r] =
        slices.size() > 1 ? (pn[r] - p0[r]) / (n - 1) : N[r] * first.slice_thickness.value_or(1.0);
  const double dr = (*first.pixel_spacing)[0], dc = (*first.pixel_spacing)[1];
  for (int r = 0; r < 3; ++r) {
    // RAS+ as NIfTI's world: x and y of LPS change sign.
    const double sign = r < 2 ? -1.0 : 1.0;
    space.affine[static_cast<std::size_t>(r)] = {sign * S[r], sign * dr * Y[r], sign * dc * X[r],
                                                 sign * p0[r]};
  }
  space.spacing = {std::sqrt(S[0] * S[0] + S[1] * S[1] + S[2] * S[2]), dr, dc};
  space.source = "dicom";
  return true;
}

}  // namespace

Volume read_dicom_series(const std::string& dir, const std::vector<std::string>& files,
                         const ReadOptions& options) {
  std::vector<std::string> sorted = files;
  std::sort(sorted.begin(), sorted.end());
  std::vector<io::SeriesSlice> slices = io::load_series(dir, sorted, options);
  const io::DicomFrames& first = slices.front().dicom;
  Volume v;
  v.kind = "dicom";
  v.depth = static_cast<int>(slices.size());
  v.height = first.rows;
  v.width = first.columns;
  v.channels = first.rgb ? 3 : 1;
  v.bit_depth = first.rgb ? 8 : 0;  // RGB: stored 8-bit samples; grey: modality values
  patient_affine(slices, v.space);
  v.data.reserve(first.frame_size() * slices.size());
  for (io::SeriesSlice& s : slices) {
    v.data.insert(v.data.end(), s.dicom.values.begin(), s.dicom.values.end());
    std::vector<float>().swap(s.dicom.values);
  }
  return v;
}

Volume read_dicom_series(const std::string& dir, const ReadOptions& options) {
  return read_dicom_series(dir, io::series_files(dir, options), options);
}

}  // namespace camkit
