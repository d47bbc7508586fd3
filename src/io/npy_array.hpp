// io/npy_array.hpp — private: a .npy file's samples as float, shared by read_npy (one image) and
// read_volume (a stack of slices), which only differ in how they interpret the shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/npy_header.hpp"

namespace camkit::io {

/// A .npy file whose header is valid and whose dtype camkit reads; the data is not yet checked.
struct NpyFile {
  std::string path;
  std::vector<unsigned char> bytes;
  NpyHeader header;
  int bit_depth = 0;  ///< 8 (uint8), 16 (uint16) or 0 (float32/float64), as Image::bit_depth
};

/// Reads the file and checks its magic, header, dtype (float32, float64, uint8, uint16, either
/// byte order) and C order. Throws input_error otherwise. The shape is left to the caller.
NpyFile open_npy(const std::string& path);

/// Throws input_error("empty array, shape (...)") when any dimension is 0.
void check_not_empty(const NpyFile& file);

/// All samples in file (row-major) order, scaled as ToTensor does (uint8 / 255, uint16 / 65535,
/// floats as stored). Checks that the data is exactly shape-product * itemsize bytes and holds no
/// NaN/Inf (nor float64 values outside the float32 range); throws input_error otherwise.
std::vector<float> npy_samples(const NpyFile& file);

}  // namespace camkit::io
