// camkit/volume.hpp — 3-D inputs for 3-D classifiers (video and volume CNNs): scans (NIfTI-1
// and NIfTI-2, .npy arrays, DICOM series) and video clips, as one type (docs/volumes3d.md).
//
// Usage:
//   camkit::Volume scan = camkit::read_volume_3d("brain.nii.gz");    // (D, H, W) = NIfTI (i, j, k)
//   float v = scan.at(10, 20, 30, 0);                                 // voxel (i 10, j 20, k 30)
//   camkit::Volume clip = camkit::read_video("walk.mp4", 16);         // 16 RGB frames
//   camkit::Image plane = camkit::volume_plane(scan, 0, 10);          // a slice, as an image
//
// Axes: a volume's (D, H, W) are the axes of its array in storage order, as numpy, nibabel and
// MONAI index it: a .npy (D, H, W); a NIfTI file's (i, j, k) (data[i, j, k] of nibabel); a DICOM
// series' slices (sorted along the slice normal), rows, columns; a clip's frames, rows, columns.
// A 3-D model receives (N, C, D, H, W) in this order.
//
// Threading: all functions are reentrant.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "camkit/image.hpp"

namespace camkit {

/// Where a volume lies in the world, as its NIfTI header says (NIfTI-1 "xform" rules). Kept as
/// read so that a map written over the scan (encode_nifti) carries the same geometry.
struct VolumeSpace {
  /// Voxel centre (d, h, w) -> world (x, y, z) in millimetres (scanner RAS+):
  /// world = affine[0..2][0..2] * (d, h, w) + affine[.][3]. The sform when its code is set,
  /// else the qform, else pixdim scaling (libnifti2's order; nibabel's for files with a code).
  std::array<std::array<double, 4>, 3> affine{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}};
  std::string source;  ///< "sform", "qform", "pixdim", "dicom" (a series), or "" (none)
  std::array<double, 3> spacing{1, 1, 1};  ///< voxel size along d, h, w (pixdim 1..3)
  int qform_code = 0, sform_code = 0;      ///< NIFTI_XFORM_* codes as stored
  std::array<std::array<double, 4>, 3> qform{}, sform{};  ///< both matrices as stored
  /// The qform as stored: quatern_b, quatern_c, quatern_d, qoffset_x, _y, _z, qfac.
  std::array<double, 7> quatern{0, 0, 0, 0, 0, 0, 1};
  int xyzt_units = 0;  ///< the header's units byte

  /// World coordinates (mm) of a point given in voxel coordinates (centres at integers).
  std::array<double, 3> world(double d, double h, double w) const;
};

/// A decoded 3-D input: depth x height x width voxels of `channels` samples, interleaved as
/// Image is: sample (d, h, w, c) at ((d * height + h) * width + w) * channels + c.
struct Volume {
  int depth = 0, height = 0, width = 0;
  int channels = 0;  ///< 1 (grey), 3 (RGB video), or the 4th NIfTI dimension
  /// As Image::bit_depth: 8 for video frames (samples / 255); 0 for NIfTI (values as stored,
  /// times scl_slope plus scl_inter, as nibabel's get_fdata), float .npy and DICOM.
  int bit_depth = 0;
  std::vector<float> data;
  std::string kind;   ///< "nifti", "npy", "dicom", "video"
  VolumeSpace space;  ///< NIfTI geometry (source "" for other kinds)

  // Video clips only: the frames sampled from the source, in order.
  std::vector<int> frame_indices;   ///< 0-based frame numbers in the source video
  std::vector<double> frame_times;  ///< their times in seconds (index / fps)
  double fps = 0;                   ///< the container's frame rate (0 when unknown)
  int source_frames = 0;            ///< frames in the source video

  float at(int d, int h, int w, int c) const {
    return data[((static_cast<std::size_t>(d) * height + h) * width + w) * channels + c];
  }
};

/// True for .nii and .nii.gz (case-insensitive).
bool is_nifti_file(const std::string& path);
/// True for the video extensions read through OpenCV's videoio: .mp4 .m4v .avi .webm .mkv .mov.
bool is_video_file(const std::string& path);
/// What read_volume_3d and read_video read: NIfTI, video, .npy, DICOM (.dcm, .dicom).
bool is_volume_input(const std::string& path);

/// Reads a single-file NIfTI-1 or NIfTI-2 image (.nii, or .nii.gz inflated by camkit within the
/// limits), either byte order, through Debian's libnifti2 for the header (byte swapping,
/// dimensions, qform and sform, scaling). 3-D (i, j, k) or 4-D: the 4th dimension becomes the
/// channels. Data types: uint8, int8, int16, uint16, int32, uint32, float32, float64 (values
/// times scl_slope plus scl_inter when the slope is finite and non-zero), RGB24 (3 channels,
/// / 255). The file's size, the slice count (i) against options.max_slices, each slice (j x k)
/// against max_pixels and all samples against max_decoded_bytes are checked before the data is
/// read or inflated. Throws Error(ErrorCode::input, "<path>: <reason>") for a file that is not
/// NIfTI, a header that lies (dimensions out of range, a vox_offset inside the header or past
/// the data, data cut short), a .hdr/.img pair, an unsupported data type, more than 4
/// dimensions, NaN/Inf samples, and as read_input does (missing, not a regular file, limits).
Volume read_nifti(const std::string& path, const ReadOptions& options = {});

/// Reads `frames` frames of a video at evenly spaced times: frame t of the clip is the source
/// frame shown at the centre of the t-th of `frames` equal parts of the video, index
/// floor((t + 0.5) * N / frames) of N frames (frames repeat when the video has fewer). Decoded
/// by OpenCV's videoio (FFmpeg) from the checked regular file; RGB, bit_depth 8. The frame size
/// is checked against options.max_pixels and the clip's samples against max_decoded_bytes before
/// decoding, the file against max_file_bytes. Throws Error(ErrorCode::input, "<path>: <reason>")
/// when the file cannot be opened or decoded, has no frames, or a limit is exceeded, and
/// Error(ErrorCode::usage) for frames < 1.
Volume read_video(const std::string& path, int frames, const ReadOptions& options = {});

/// A scan as one Volume: a NIfTI file (read_nifti); a .npy array (D, H, W), (C, D, H, W) or
/// (1, C, D, H, W) with the dtypes read_npy takes (uint8 / 255, uint16 / 65535, floats as
/// stored); a multi-frame DICOM file or a DICOM series folder, read as read_volume reads them
/// (a file's frames with one VOI window; a folder through read_dicom_series, in modality
/// values with its affine). Limits as read_volume. Throws as the readers do;
/// Error(ErrorCode::input) for a video (read_video takes the frame count) and other types.
Volume read_volume_3d(const std::string& path, const ReadOptions& options = {});

/// A DICOM series folder (docs/dicom.md, "Volumes": the single-frame files of one series,
/// sorted along the slice normal) as the scan of a 3-D model: modality values (each slice's
/// Modality LUT or RescaleSlope / RescaleIntercept; Hounsfield units for CT), no VOI window and
/// no MONOCHROME1 inversion (the model's preprocess windows or z-scores), kind "dicom". When
/// every slice has ImagePositionPatient and the first ImageOrientationPatient and
/// PixelSpacing, space.affine maps voxel (slice, row, column) to RAS+ world millimetres as a
/// NIfTI affine does (DICOM's LPS patient coordinates with x and y negated; the slice step is
/// (last position - first) / (n - 1)), with source "dicom"; otherwise source is "".
/// `files` lists the series' files (read_series); the second form lists the folder. Throws as
/// read_volume does for a series folder.
Volume read_dicom_series(const std::string& dir, const std::vector<std::string>& files,
                         const ReadOptions& options = {});
Volume read_dicom_series(const std::string& dir, const ReadOptions& options = {});

/// The slices of read_volume or read_series as one volume of kind `kind`. Throws
/// Error(ErrorCode::input) when they are empty or differ in size or channels.
Volume volume_from_slices(const std::vector<Image>& slices, const std::string& kind);

/// Plane `index` across `axis` as an image (0: H x W at depth index; 1: D x W; 2: D x H), with
/// the volume's channels and bit depth: the slice pictures of the three views. Throws
/// Error(ErrorCode::usage) for an axis or index out of range.
Image volume_plane(const Volume& volume, int axis, int index);

}  // namespace camkit
