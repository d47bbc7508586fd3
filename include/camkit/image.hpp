// camkit/image.hpp — decoding inputs (PNG, JPEG, BMP, TIFF 8/16-bit, NumPy .npy) into one type.
//
// Usage:
//   camkit::Image im = camkit::read_input("xray.npy");   // or "cat.jpg"
//   float v = im.at(0, 0, 0);                               // row 0, column 0, channel 0
//   // im.bit_depth == 0: float samples used as stored; 8 or 16: integers scaled to [0,1]
//
// Threading: all functions are reentrant; an Image is a plain value.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace camkit {

/// A decoded input: interleaved (H, W, C) float samples; colour images are in RGB order.
struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;  ///< 1 (grey), 3 (RGB); .npy inputs may carry other counts
  /// 8 or 16 when the source held unsigned integers (samples divided by 255 or 65535),
  /// 0 when it held floating-point values (samples as stored, like ToTensor on a float array).
  int bit_depth = 0;
  std::vector<float> data;  ///< height * width * channels samples

  float at(int y, int x, int c) const {
    return data[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
};

/// True when the extension names a format read_input() understands (case-insensitive):
/// .png .jpg .jpeg .bmp .tif .tiff .npy
bool is_supported_input(const std::string& path);

/// Reads any supported input by its extension.
/// Throws Error(ErrorCode::input) with a one-line message "<path>: <reason>" when the file is
/// missing, unreadable, empty, corrupt, truncated, of an unsupported type, dtype or shape, or
/// holds NaN/Inf values.
Image read_input(const std::string& path);

/// Decodes PNG/JPEG/BMP/TIFF through OpenCV: 8-bit and 16-bit, grey, RGB or RGBA (alpha dropped).
Image read_image(const std::string& path);

/// Reads a NumPy .npy file: dtypes float32, float64, uint8, uint16 (little- or big-endian);
/// shapes [H,W], [C,H,W] or [H,W,C] with C in {1,3} for the 3-D forms; C (row-major) order only.
Image read_npy(const std::string& path);

}  // namespace camkit
