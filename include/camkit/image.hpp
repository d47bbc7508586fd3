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
struct ReadOptions {
  /// VOI window (centre, width) for grey DICOM images, in modality units (e.g. Hounsfield),
  /// replacing the file's own WindowCenter/WindowWidth; applied with DICOM's LINEAR function.
  /// Ignored for other formats and for RGB DICOM. Width must be > 0.
  std::optional<std::pair<double, double>> window;
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
/// missing ("no such file"), a directory ("is a directory"), empty ("empty file"), unreadable
/// ("cannot read (Permission denied)"), corrupt, truncated, of an unsupported type
/// ("unsupported file type '.gif'"), dtype or shape, or holds NaN/Inf values, and for a
/// multi-frame DICOM file (read it with read_volume).
Image read_input(const std::string& path, const ReadOptions& options = {});

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
/// (<UID>) is not supported". Throws Error(ErrorCode::input, "<path>: <reason>") for a file
/// without the "DICM" marker, a truncated or corrupt file, missing pixel data, zero rows or
/// columns, pixel data of another length than Rows x Columns x NumberOfFrames x SamplesPerPixel x
/// BitsAllocated/8 (+1 padding byte), unsupported pixel formats, and multi-frame files.
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
