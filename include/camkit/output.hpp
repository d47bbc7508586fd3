// camkit/output.hpp — encoding results as files, written so no partial file is ever visible.
//
// Usage:
//   camkit::write_file_atomic("out/cat.281.png", camkit::encode_png(overlay_picture));
//   camkit::write_file_atomic("out/cat.281.npy", camkit::encode_npy(raw_map));
//
// Threading: all functions are reentrant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "camkit/render.hpp"

namespace camkit {

/// PNG bytes of an RGB picture; compression 0 (fast) .. 9 (small).
std::string encode_png(const Rgb8& picture, int compression = 3);

/// JPEG bytes of an RGB picture; quality 1..100.
std::string encode_jpeg(const Rgb8& picture, int quality = 90);

/// NumPy .npy (format 1.0) bytes of a map: little-endian float32, shape (height, width).
std::string encode_npy(const Map& map);

/// The same for a stack of maps of one size: shape (S, height, width), e.g. the raw maps of the
/// slices of a volume. Throws Error(ErrorCode::usage) when the sizes differ.
std::string encode_npy(const std::vector<Map>& stack);

/// Writes `bytes` to "<path>.tmp-<pid>-<n>", then renames it to `path`; creates parent folders.
/// Throws Error(ErrorCode::input) naming `path` on failure, leaving no temporary file behind.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace camkit
