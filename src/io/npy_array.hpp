// io/npy_array.hpp — private: a .npy file's samples as float, shared by read_npy (one image) and
// read_volume (a stack of slices), which only differ in how they interpret the shape.
//
// The header is read first and the data only once the shape has been judged: an array's size is
// checked against the file's size and ReadOptions' limits before its bytes are read or its
// samples allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "camkit/image.hpp"
#include "io/file_bytes.hpp"
#include "io/npy_header.hpp"

namespace camkit::io {

/// A .npy file whose header is valid and whose dtype camkit reads; the data is not yet checked.
struct NpyFile {
  std::string path;
  NpyHeader header;
  int bit_depth = 0;       ///< 8 (uint8), 16 (uint16) or 0 (float32/float64), as Image::bit_depth
  std::uint64_t size = 0;  ///< bytes of the whole file
  std::vector<unsigned char> bytes;  ///< the file's first bytes (all of them once loaded)
  std::optional<RegularFile> file;   ///< open while the rest is still to be read
};

/// Reads the file's header (never more than 64 KiB before the shape is judged) and checks its
/// magic, header, dtype (float32, float64, uint8, uint16, either byte order) and C order. Throws
/// input_error otherwise, and for a file over options.max_file_bytes. The shape is left to the
/// caller; the data is read by npy_samples.
NpyFile open_npy(const std::string& path, const ReadOptions& options);

/// As open_npy, for a whole file already in memory (the fuzzing seam).
NpyFile npy_from_bytes(const std::string& path, std::vector<unsigned char> bytes);

/// Throws input_error("empty array, shape (...)") when any dimension is 0.
void check_not_empty(const NpyFile& file);

/// The number of samples, after checking that the data (judged on the file's size, before it is
/// read) is exactly shape-product * itemsize bytes; throws input_error("truncated .npy data: ...",
/// "unexpected .npy data size: ..." or "... too large (size overflows)") otherwise.
std::size_t check_npy_size(const NpyFile& file);

/// All samples in file (row-major) order, scaled as ToTensor does (uint8 / 255, uint16 / 65535,
/// floats as stored). Checks, before reading the data, that it is exactly shape-product *
/// itemsize bytes and that its samples fit options.max_decoded_bytes; then that it holds no
/// NaN/Inf (nor float64 values outside the float32 range). Throws input_error otherwise.
std::vector<float> npy_samples(NpyFile& file, const ReadOptions& options);

/// The Image read_npy returns, from an opened file (layout rules in camkit/image.hpp); checks
/// the picture against options.max_pixels before the data is read.
Image decode_npy(NpyFile file, const ReadOptions& options);

/// The slices read_volume returns for a .npy array, from an opened file; checks the slice count
/// against options.max_slices and each slice against options.max_pixels before the data is read.
std::vector<Image> decode_npy_volume(NpyFile file, const ReadOptions& options);

}  // namespace camkit::io
