// camkit/output.hpp — encoding results as files, written so no partial file is ever visible.
//
// Usage:
//   camkit::write_file_atomic("out/cat.281.png", camkit::encode_png(overlay_picture));
//   camkit::write_file_atomic("out/cat.281.npy", camkit::encode_npy(raw_map));
//   // a killed writer leaves ".cat.281.npy.camkit-tmp.<host>.<pid>.<n>", never a partial
//   // "cat.281.npy"; OutputFolder::remove_stale_temporaries removes such leftovers.
//
// Threading: all functions are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "camkit/render.hpp"
#include "camkit/volume.hpp"

namespace camkit {

/// PNG bytes of an RGB picture; compression 0 (fast) .. 9 (small).
std::string encode_png(const Rgb8& picture, int compression = 3);

/// JPEG bytes of an RGB picture; quality 1..100.
std::string encode_jpeg(const Rgb8& picture, int quality = 90);

/// NumPy .npy (format 1.0) bytes of a map: little-endian float32, shape (height, width), or
/// (depth, height, width) for a map of depth > 1.
std::string encode_npy(const Map& map);

/// The same with the depth always in the shape, (depth, height, width): the raw map of a 3-D
/// model, whose depth may be 1 (a clip of few frames at a deep layer).
std::string encode_npy_volume(const Map& map);

/// The same for a stack of maps of one size: shape (S, height, width), e.g. the raw maps of the
/// slices of a volume. Throws Error(ErrorCode::usage) when the sizes differ.
std::string encode_npy(const std::vector<Map>& stack);

/// NIfTI-1 bytes of a map of a scan (a display map at the scan's size): float32, dimensions
/// (i, j, k) = (depth, height, width), and the geometry of `space` as it was read (qform and
/// sform with their codes, pixdim, units), so that the map lies on the scan in 3D Slicer,
/// ITK-SNAP or nibabel. gzip-compressed (.nii.gz) when `gzip`. Throws Error(ErrorCode::usage)
/// when the map's data does not match its shape.
std::string encode_nifti(const Map& map, const VolumeSpace& space, bool gzip = true);

/// Writes `bytes` to a camkit temporary beside `path` (temporary_name()), then renames it to
/// `path`, replacing a symbolic link there rather than writing through it; creates parent
/// folders. Throws Error(ErrorCode::input) naming `path` on failure, leaving no temporary behind.
/// Runs confine their writes with OutputFolder (camkit/output_folder.hpp) instead.
void write_file_atomic(const std::string& path, std::string_view bytes);

/// This host's name as it appears in temporaries: gethostname() with bytes outside
/// [A-Za-z0-9._-] replaced by '_', at most 64 bytes ("unknown-host" when it has none).
const std::string& host_id();

/// The temporary for the file name `name` (a name, not a path):
/// ".<name>.camkit-tmp.<host>.<pid>.<n>" with host_id(), this process's pid and a per-process
/// counter; names longer than 64 bytes are cut (at a character boundary) so the temporary stays
/// within NAME_MAX.
std::string temporary_name(const std::string& name);

/// A camkit temporary's host and pid, parsed from a file name.
struct TemporaryOwner {
  std::string host;
  long long pid = 0;
};

/// The owner of a camkit temporary, or nothing when `name` is not exactly a name that
/// temporary_name() makes (pid and counter in decimal, no more than 18 digits each).
std::optional<TemporaryOwner> temporary_owner(const std::string& name);

}  // namespace camkit
