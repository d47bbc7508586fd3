// io/npy_header.hpp — private: the preamble and Python-literal header of a NumPy .npy file.
//
// Format (numpy/lib/format.py, "NEP 1"): "\x93NUMPY", major, minor, a little-endian header length
// (2 bytes in version 1.0, 4 bytes in 2.0 and 3.0), then an ASCII/UTF-8 Python dict literal such
// as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), } padded with spaces and
// ending in '\n'. The raw array data follows immediately.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace camkit::io {

/// The magic, version and header length fields take at most this many bytes (versions 2 and 3).
inline constexpr std::size_t kNpyPreambleMax = 12;
/// Longer header texts are refused: NumPy writes a few hundred bytes even for wide structured
/// dtypes (and np.load itself refuses more than 10000 by default), and the header is the part
/// read before the shape has been judged.
inline constexpr std::size_t kNpyHeaderMax = 65536;

struct NpyHeader {
  std::string descr;  ///< dtype string as written, e.g. "<f4", "|u1"
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;  ///< may be empty (a 0-d array)
  std::size_t data_offset = 0;       ///< where the array data starts in the file
};

/// Parses and validates everything up to the data. Only reads inside [data, data + size), which
/// may be just the file's first kNpyPreambleMax + kNpyHeaderMax bytes.
/// Throws input_error(path, ...) for a bad magic, an unknown version, a header length over
/// kNpyHeaderMax or past the end of the bytes, or a malformed dict; it does not judge the dtype
/// or shape.
NpyHeader parse_npy_header(const std::string& path, const unsigned char* data, std::size_t size);

/// The shape as Python prints a tuple: "()", "(5,)", "(3, 4)".
std::string shape_string(const std::vector<std::uint64_t>& shape);

}  // namespace camkit::io
