// io/image_codecs.hpp — private: PNG and JPEG decoded through libpng and libjpeg directly, TIFF
// checked through libtiff, and the size a BMP header declares.
//
// OpenCV's PNG and JPEG readers let libpng and libjpeg print warnings on stderr ("libpng warning:
// ...", "Corrupt JPEG data: premature end of data segment") and still return a picture, partly
// grey, so a damaged file could be explained as if it were whole and the message would not name
// it. These decoders install their own error and warning handlers: every message the library
// raises about the data fails the input with that message in camkit's one line, and nothing is
// printed. Their output equals what cv::imdecode(IMREAD_UNCHANGED) gave (same libraries, same
// transformations; the tests compare them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "camkit/image.hpp"

namespace camkit::io {

/// Decoded samples, interleaved, RGB order; 8-bit in `narrow`, 16-bit (host order) in `wide`.
struct Pixels {
  int height = 0, width = 0;
  int channels = 0;   ///< 1 or 3
  int bit_depth = 8;  ///< 8 or 16
  std::vector<std::uint8_t> narrow;
  std::vector<std::uint16_t> wide;
};

/// A PNG file in memory: grey (1, 2, 4, 8 or 16 bits) -> 1 channel, 1/2/4-bit grey scaled to
/// 8 bits; palette, RGB, grey+alpha, RGBA -> 3 channels (alpha and tRNS dropped; grey+alpha
/// replicated to RGB, as OpenCV does); 16-bit kept. Ancillary chunks other than tRNS are skipped
/// unread (colour profiles, text; camkit applies none of them). Checks the declared size against
/// options.max_pixels before decoding. Throws input_error(path, "cannot decode PNG (<libpng's
/// message>)") for any error or warning libpng reports: bad CRC, corrupt or missing compressed
/// data, too much data, a bad header.
Pixels decode_png(const std::string& path, const unsigned char* data, std::size_t size,
                  const ReadOptions& options);

/// A JPEG file in memory: 1 component -> grey, 3 -> RGB, 4 (CMYK/YCCK) -> RGB by OpenCV's
/// formula; EXIF orientation not applied. Checks the declared size against options.max_pixels
/// before decoding, and refuses progressive files of more than 500 scans (libjpeg-turbo's
/// TurboJPEG limit; each scan costs a pass over the image). Throws input_error(path, "cannot
/// decode JPEG (<libjpeg's message>)") for any error and for every warning about the data
/// (premature end, corrupt entropy data, bad Huffman code, lost restart markers); warnings that
/// leave the pixels intact (extraneous bytes between segments, unknown JFIF or Adobe versions, a
/// bad ICC profile) are ignored.
Pixels decode_jpeg(const std::string& path, const unsigned char* data, std::size_t size,
                   const ReadOptions& options);

/// Width and height a picture's header declares.
struct DeclaredSize {
  std::uint64_t width = 0, height = 0;
};

/// The size in a BMP's header, or nullopt when the header is too short or of an unknown kind.
std::optional<DeclaredSize> bmp_size(const unsigned char* data, std::size_t size);

/// Reads a TIFF file in memory with libtiff, its messages kept to this handle: checks the first
/// image's declared size against options.max_pixels, that it has the fields OpenCV's reader
/// needs (ImageWidth, ImageLength, PhotometricInterpretation, a BitsPerSample OpenCV reads), and
/// decodes every strip or tile once. Throws input_error(path, "cannot decode TIFF (<libtiff's
/// message>)") otherwise. OpenCV then decodes the file.
void check_tiff(const std::string& path, const unsigned char* data, std::size_t size,
                const ReadOptions& options);

/// True when the bytes start with a TIFF or BigTIFF signature.
bool is_tiff(const unsigned char* data, std::size_t size);

}  // namespace camkit::io
