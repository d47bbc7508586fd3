// camkit/image.hpp — decoding inputs (PNG, JPEG, BMP, TIFF 8/16-bit, NumPy .npy, DICOM) into one
// type, and stacks of them (volumes: .npy, multi-frame DICOM, DICOM series directories).
//
// Usage:
//   camkit::Image im = camkit::read_input("xray.npy");   // or "cat.jpg", "chest.dcm"
//   float v = im.at(0, 0, 0);                               // row 0, column 0, channel 0
//   // im.bit_depth: 0 float samples (grey DICOM: windowed to [0,1]); 8 or 16 integers / max
//
//   camkit::ReadOptions ro;
//   ro.window = std::make_pair(40.0, 400.0);                // CT soft-tissue window, centre 40 HU
//   std::vector<camkit::Image> slices = camkit::read_volume("exam/", ro);  // a DICOM series
//
// Threading: all functions are reentrant; an Image is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace camkit {

/// A decoded input: interleaved (H, W, C) float samples; colour images are in RGB order.
struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;  ///< 1 (grey) or 3 (RGB)
  /// 8 or 16 when the source held unsigned integers (samples divided by 255 or 65535),
  /// 0 when it held floating-point values (samples as stored, like ToTensor on a float array)
  /// or was a grey DICOM image (modality values mapped to [0,1] by a VOI window; docs/dicom.md).
  int bit_depth = 0;
  std::vector<float> data;  ///< height * width * channels samples

  float at(int y, int x, int c) const {
    return data[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
};

/// How to read an input; the defaults read every file as its format intends.
///
/// The limits bound what one input may cost before it is decoded: they are checked against the
/// sizes a file declares (image header, .npy shape, DICOM attributes) and against the file's
/// size, so a small file that claims a huge image fails at once instead of allocating it. A
/// limit that is exceeded throws Error(ErrorCode::input) with the size found, the limit and the
/// camkit command-line flag that raises it, e.g. "scan.png: image of 15000 x 15000 = 225000000
/// pixels is over the limit of 100000000 (raise it with --max-pixels)".
struct ReadOptions {
  /// VOI window (centre, width) for grey DICOM images, in modality units (e.g. Hounsfield),
  /// replacing the file's own WindowCenter/WindowWidth; applied with DICOM's LINEAR function.
  /// Ignored for other formats and for RGB DICOM. Width must be > 0.
  std::optional<std::pair<double, double>> window;
  /// Bytes read from any one file (--max-file-size). Only regular files are read: FIFOs,
  /// devices and sockets are refused when opened, so /dev/zero or a pipe cannot stall a run.
  std::uint64_t max_file_bytes = std::uint64_t{1} << 30;
  /// Width x height of one picture: an image file, a 2-D array or one slice of an array, a
  /// DICOM frame (--max-pixels). 100 megapixels: an 8-bit RGB image of that size already
  /// takes 1.2 GB as float samples.
  std::uint64_t max_pixels = 100'000'000;
  /// Frames of one DICOM file, slices of one .npy volume, files of one DICOM series folder
  /// (--max-slices).
  std::uint64_t max_slices = 2048;
  /// Decoded samples of one .npy array or one DICOM file or series, counted as float32 (4 bytes
  /// a sample, what camkit holds them as) (--max-decoded-size). Arrays and DICOM declare any
  /// number of dimensions or frames, so their total needs a bound of its own; images are
  /// bounded by max_pixels.
  std::uint64_t max_decoded_bytes = std::uint64_t{1} << 30;
};

/// True when the extension names a format read_input() understands (case-insensitive):
/// .png .jpg .jpeg .bmp .tif .tiff .npy .dcm .dicom
bool is_supported_input(const std::string& path);

/// True when the file starts like a DICOM Part 10 file: a 128-byte preamble, then "DICM".
/// Reads 132 bytes; never throws (false for a missing or unreadable file). Lets directory walkers
/// recognise DICOM files without an extension.
bool is_dicom_file(const std::string& path);

/// Reads any supported input, choosing read_npy, read_image or read_dicom by extension alone (the
/// extension is checked before the file is opened); a file without an extension is read as DICOM
/// when is_dicom_file() says so. Returns the decoded Image by value.
/// Throws Error(ErrorCode::input) with a one-line message "<path>: <reason>" when the file is
/// missing ("no such file"), a directory ("is a directory"), not a regular file ("not a regular
/// file (FIFO)", also for devices and sockets), empty ("empty file"), unreadable ("cannot read
/// (Permission denied)"), over a limit of `options` (the message names the size found, the limit
/// and the flag that raises it), corrupt, truncated, of an unsupported type ("unsupported file
/// type '.gif'"), dtype or shape, or holds NaN/Inf values, and for a multi-frame DICOM file (read
/// it with read_volume).
Image read_input(const std::string& path, const ReadOptions& options = {});

/// Decodes PNG/JPEG/BMP/TIFF: 8-bit and 16-bit, grey, RGB or RGBA (alpha dropped; grey+alpha and
/// palette PNGs come out as RGB). The format is sniffed from the content, not the name; other
/// content is refused ("not PNG, JPEG, BMP or TIFF data"). EXIF orientation is not applied, as
/// with PIL's Image.open. Float or signed TIFFs are rejected ("unsupported sample type").
/// The width and height a header declares are checked against options.max_pixels before
/// anything is decoded, and the file against options.max_file_bytes before it is read.
/// PNG and JPEG are decoded by libpng and libjpeg with camkit's own message handlers: nothing is
/// printed, and any error or warning about the data (bad CRC, corrupt compressed or entropy-coded
/// data, premature end of data) fails the input with the decoder's message, e.g. "cut.jpg: cannot
/// decode JPEG (Corrupt JPEG data: premature end of data segment)". Truncation is also caught by
/// walking the container first: a JPEG's marker segments and entropy-coded data must reach an
/// end-of-image marker (FF D9) that is not inside a segment (an EXIF thumbnail's EOI does not
/// count; bytes after the EOI are ignored); a PNG's chunks must reach IEND; an uncompressed BMP
/// must hold header offset + padded rows bytes, with a complete header and palette. A TIFF is
/// first read through libtiff with handlers of its own (size, the fields OpenCV needs, every
/// strip or tile), failing with libtiff's message ("cannot decode TIFF (...)"); then BMP and TIFF
/// are decoded by OpenCV, which prints on stderr only for damage these checks do not foresee.
Image read_image(const std::string& path, const ReadOptions& options = {});

/// Reads a NumPy .npy file (format versions 1.0, 2.0, 3.0): dtypes float32, float64 (as stored,
/// bit_depth 0; NaN/Inf rejected, float64 outside the float32 range rejected), uint8 (/255,
/// bit_depth 8) and uint16 (/65535, bit_depth 16), little- or big-endian; C (row-major) order
/// only. The data must be exactly shape-product * itemsize bytes: sizes in the header are never
/// trusted. The header is read first (at most 64 KiB of it), and the shape is judged against the
/// file's size, options.max_pixels and options.max_decoded_bytes before the data is read.
/// Shapes, after dropping one leading batch dimension of 1 from a 4-D shape:
///   (H, W)     -> 1 channel
///   (C, H, W)  when C is 1 or 3             -> planar input, interleaved on output
///   (H, W, C)  when C is 1 or 3 and the first dimension is not
/// so a shape that fits both, such as (3, 5, 3) or (1, 4, 1), is read as (C, H, W), PyTorch's
/// layout. Anything else, and any zero-sized dimension, is an error that prints the shape.
Image read_npy(const std::string& path, const ReadOptions& options = {});

/// Reads one single-frame DICOM Part 10 file (docs/dicom.md has the exact definitions):
///  - grey (MONOCHROME1/2; BitsAllocated 8 or 16, any BitsStored/HighBit inside them, signed or
///    unsigned): stored values -> modality values (Modality LUT Sequence, else RescaleSlope and
///    RescaleIntercept) -> VOI window (options.window, else the file's first WindowCenter/
///    WindowWidth with its VOILUTFunction, else the image's min..max) -> [0,1]; MONOCHROME1 is
///    inverted so that bright means dense as in MONOCHROME2. One channel, bit_depth 0.
///  - RGB (3 samples of 8 bits, interleaved or planar): samples / 255, 3 channels, bit_depth 8;
///    no window. JPEG colour (YBR) data comes out as RGB from the decoder.
/// Native (uncompressed, deflated or big-endian) transfer syntaxes, JPEG (baseline, extended,
/// lossless), JPEG-LS and RLE are decoded; others fail with "compressed transfer syntax <name>
/// (<UID>) is not supported". NumberOfFrames, Rows x Columns and the total of samples are checked
/// against options.max_slices, max_pixels and max_decoded_bytes before the pixel data is decoded.
/// Throws Error(ErrorCode::input, "<path>: <reason>") for a file without the "DICM" marker, a
/// truncated or corrupt file, missing pixel data, zero rows or columns, pixel data of another
/// length than Rows x Columns x NumberOfFrames x SamplesPerPixel x BitsAllocated/8 (+1 padding
/// byte), unsupported pixel formats, a limit exceeded, and multi-frame files.
Image read_dicom(const std::string& path, const ReadOptions& options = {});

/// Reads a stack of equally sized slices, in order:
///  - a directory holding one DICOM series (files *.dcm, *.dicom, and other files starting with
///    the DICM marker; not recursive): all must share SeriesInstanceUID and be single-frame; sorted
///    by position along the slice normal (ImagePositionPatient . (row x column cosines of
///    ImageOrientationPatient)), then InstanceNumber, then file name; one VOI window for all
///    slices (options.window, else the first slice's, else min..max over the whole series);
///  - a multi-frame DICOM file (frames in file order, one window for all frames);
///  - a .npy array of shape (S, H, W), (S, C, H, W) with C 1 or 3, or (1, S, C, H, W), with the
///    dtypes and checks of read_npy; a 2-D array is one slice;
///  - any other input read_input reads: one slice.
/// Limits: the slice count (frames, array slices, files of a series) against options.max_slices,
/// each slice against max_pixels, and the decoded samples of the array, file or whole series
/// against max_decoded_bytes, all before the pixels are decoded.
/// Throws Error(ErrorCode::input, "<path>: <reason>") as read_input does, and for a directory
/// with no DICOM file, two series in one directory (naming both UIDs), multi-frame files in a
/// series directory, or slices of different sizes or channel counts.
std::vector<Image> read_volume(const std::string& path, const ReadOptions& options = {});

/// The series rule of read_volume for an explicit list of single-frame DICOM files (a folder
/// that also holds other exams: .npy files, multi-frame files, sub-folders). `name` (the
/// folder) names the exam in messages. Throws as read_volume does for a series directory.
std::vector<Image> read_series(const std::string& name, const std::vector<std::string>& files,
                               const ReadOptions& options = {});

/// What a directory walk needs to know of a DICOM file to group it, read from the header only
/// (parsing stops before the pixel data).
struct DicomSummary {
  int frames = 1;          ///< NumberOfFrames (1 when absent)
  std::string series_uid;  ///< SeriesInstanceUID, "" when absent
};

/// The summary of a DICOM Part 10 file. Throws Error(ErrorCode::input, "<path>: <reason>") when
/// it is not one or its header cannot be parsed. Never reads a non-regular file (the caller
/// checks), since a FIFO would block.
DicomSummary read_dicom_summary(const std::string& path);

}  // namespace camkit
