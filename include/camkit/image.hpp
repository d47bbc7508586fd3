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
  int channels = 0;  ///< 1 (grey) or 3 (RGB)
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

/// Reads any supported input, choosing read_npy or read_image by extension alone (the extension is
/// checked before the file is opened). Returns the decoded Image by value.
/// Throws Error(ErrorCode::input) with a one-line message "<path>: <reason>" when the file is
/// missing ("no such file"), a directory ("is a directory"), empty ("empty file"), unreadable
/// ("cannot read (Permission denied)"), corrupt, truncated, of an unsupported type
/// ("unsupported file type '.gif'"), dtype or shape, or holds NaN/Inf values.
Image read_input(const std::string& path);

/// Decodes PNG/JPEG/BMP/TIFF through OpenCV: 8-bit and 16-bit, grey, RGB or RGBA (alpha dropped;
/// grey+alpha and palette PNGs come out as RGB). The format is sniffed from the content, not the
/// name. EXIF orientation is not applied, as with PIL's Image.open. Float or signed TIFFs are
/// rejected ("unsupported sample type").
/// Truncation is caught before decoding, because libjpeg and libpng may otherwise return a
/// partial picture: a JPEG's marker segments and entropy-coded data are walked and must reach an
/// end-of-image marker (FF D9) that is not inside a segment (an EXIF thumbnail's EOI does not
/// count; bytes after the EOI are ignored); a PNG's chunks are walked and must reach IEND; an
/// uncompressed BMP must hold header offset + padded rows bytes. A truncated TIFF fails in libtiff.
/// Corrupt data inside an intact container may still print libjpeg/libpng/OpenCV warnings on
/// stderr; those libraries write there directly.
Image read_image(const std::string& path);

/// Reads a NumPy .npy file (format versions 1.0, 2.0, 3.0): dtypes float32, float64 (as stored,
/// bit_depth 0; NaN/Inf rejected, float64 outside the float32 range rejected), uint8 (/255,
/// bit_depth 8) and uint16 (/65535, bit_depth 16), little- or big-endian; C (row-major) order
/// only. The data must be exactly shape-product * itemsize bytes: sizes in the header are never
/// trusted. Shapes, after dropping one leading batch dimension of 1 from a 4-D shape:
///   (H, W)     -> 1 channel
///   (C, H, W)  when C is 1 or 3             -> planar input, interleaved on output
///   (H, W, C)  when C is 1 or 3 and the first dimension is not
/// so a shape that fits both, such as (3, 5, 3) or (1, 4, 1), is read as (C, H, W), PyTorch's
/// layout. Anything else, and any zero-sized dimension, is an error that prints the shape.
Image read_npy(const std::string& path);

}  // namespace camkit
