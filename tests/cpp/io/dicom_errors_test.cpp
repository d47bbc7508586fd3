// camkit::read_dicom on broken or unsupported files: each must give one line naming the file and
// the reason (ErrorCode::input), never a crash or a partial image.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "dicom_writer.hpp"

namespace {

using dicom_test::dicom_error;
using dicom_test::Spec;
using dicom_test::TempDir;

Spec grey(int rows, int columns) {
  Spec s;
  s.rows = rows;
  s.columns = columns;
  s.words.assign(static_cast<std::size_t>(rows) * columns, 1);
  return s;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DicomErrors, NotDicomDespiteExtension) {
  TempDir dir;
  const std::string path = dir.file("photo.dcm");
  dicom_test::write_file(path, std::vector<char>(300, 'x'));
  EXPECT_EQ(dicom_error(path), path + ": not a DICOM file (no 'DICM' marker at byte 128)");
  const std::string tiny = dir.file("tiny.dcm");
  dicom_test::write_file(tiny, {'D', 'I', 'C', 'M'});
  EXPECT_EQ(dicom_error(tiny), tiny + ": not a DICOM file (no 'DICM' marker at byte 128)");
  EXPECT_EQ(dicom_test::input_error([&] { camkit::read_input(path); }),
            path + ": not a DICOM file (no 'DICM' marker at byte 128)");
}

TEST(DicomErrors, MissingEmptyAndDirectory) {
  TempDir dir;
  EXPECT_EQ(dicom_error(dir.file("none.dcm")), dir.file("none.dcm") + ": no such file");
  dicom_test::write_file(dir.file("empty.dcm"), {});
  EXPECT_EQ(dicom_error(dir.file("empty.dcm")), dir.file("empty.dcm") + ": empty file");
  EXPECT_EQ(dicom_error(dir.path()), dir.path() + ": is a directory");
}

TEST(DicomErrors, TruncatedInsidePixelData) {
  TempDir dir;
  const std::string whole = dir.file("whole.dcm");
  dicom_test::write(whole, grey(64, 64));
  std::vector<char> bytes = dicom_test::file_bytes(whole);
  bytes.resize(bytes.size() - 100);
  const std::string path = dir.file("cut.dcm");
  dicom_test::write_file(path, bytes);
  const std::string e = dicom_error(path);
  EXPECT_TRUE(contains(e, path + ": truncated or corrupt DICOM data (")) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(DicomErrors, TruncatedInsideTheHeader) {
  TempDir dir;
  const std::string whole = dir.file("whole.dcm");
  dicom_test::write(whole, grey(4, 4));
  for (std::size_t keep : {131u, 140u, 200u, 300u}) {
    std::vector<char> bytes = dicom_test::file_bytes(whole);
    bytes.resize(keep);
    const std::string path = dir.file("cut" + std::to_string(keep) + ".dcm");
    dicom_test::write_file(path, bytes);
    const std::string e = dicom_error(path);
    EXPECT_EQ(e.rfind(path + ": ", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

TEST(DicomErrors, PixelDataShorterThanRowsTimesColumns) {
  TempDir dir;
  Spec s = grey(4, 4);
  s.words.resize(10);
  const std::string path = dir.file("short.dcm");
  dicom_test::write(path, s);
  EXPECT_EQ(dicom_error(path), path +
                                   ": pixel data too short: 20 bytes, Rows x Columns x "
                                   "NumberOfFrames x SamplesPerPixel x BitsAllocated/8 = "
                                   "4 x 4 x 1 x 1 x 2 = 32");
}

TEST(DicomErrors, PixelDataLongerThanDescribed) {
  TempDir dir;
  Spec s = grey(2, 2);
  s.words.resize(8);
  const std::string path = dir.file("long.dcm");
  dicom_test::write(path, s);
  EXPECT_TRUE(contains(dicom_error(path), path + ": unexpected pixel data size: 16 bytes")) << path;
}

TEST(DicomErrors, NumberOfFramesBeyondTheData) {
  TempDir dir;
  Spec s = grey(2, 2);
  s.frames = 1000000;
  const std::string path = dir.file("frames.dcm");
  dicom_test::write(path, s);
  EXPECT_EQ(dicom_error(path),
            path + ": pixel data too short: 8 bytes for 1000000 frames of 8 bytes");
}

TEST(DicomErrors, NoPixelData) {
  TempDir dir;
  Spec s = grey(2, 2);
  s.pixel_data = false;
  const std::string path = dir.file("nopixels.dcm");
  dicom_test::write(path, s);
  EXPECT_EQ(dicom_error(path), path + ": no pixel data (7FE0,0010)");
}

TEST(DicomErrors, ZeroRowsOrColumns) {
  TempDir dir;
  Spec s = grey(2, 2);
  s.rows = 0;
  const std::string path = dir.file("zero.dcm");
  dicom_test::write(path, s);
  EXPECT_EQ(dicom_error(path), path + ": empty image (0 rows, 2 columns)");
}

TEST(DicomErrors, UnsupportedPixelFormats) {
  TempDir dir;
  const std::string path = dir.file("format.dcm");
  Spec wide = grey(2, 2);
  wide.bits_allocated = wide.bits_stored = 32;
  dicom_test::write(path, wide);
  EXPECT_EQ(dicom_error(path), path + ": unsupported BitsAllocated 32 (8 or 16 are read)");

  Spec bits = grey(2, 2);
  bits.bits_stored = 12;
  bits.high_bit = 4;
  dicom_test::write(path, bits);
  EXPECT_EQ(dicom_error(path),
            path + ": inconsistent BitsStored 12 / HighBit 4 for BitsAllocated 16");

  Spec palette = grey(2, 2);
  palette.photometric = "PALETTE COLOR";
  dicom_test::write(path, palette);
  EXPECT_EQ(dicom_error(path),
            path +
                ": unsupported PhotometricInterpretation 'PALETTE COLOR' with 1 samples per "
                "pixel");

  Spec ybr;
  ybr.samples = 3;
  ybr.photometric = "YBR_FULL";
  ybr.bits_allocated = ybr.bits_stored = 8;
  ybr.rows = ybr.columns = 2;
  ybr.bytes.assign(12, 0);
  dicom_test::write(path, ybr);
  EXPECT_EQ(dicom_error(path),
            path + ": unsupported PhotometricInterpretation 'YBR_FULL' with 3 samples per pixel");

  Spec rgb16 = grey(2, 2);
  rgb16.samples = 3;
  rgb16.photometric = "RGB";
  rgb16.words.assign(12, 0);
  dicom_test::write(path, rgb16);
  EXPECT_EQ(dicom_error(path), path + ": unsupported RGB with BitsAllocated 16 (8 is read)");

  Spec four = grey(2, 2);
  four.samples = 4;
  four.photometric = "ARGB";
  dicom_test::write(path, four);
  EXPECT_EQ(dicom_error(path), path + ": unsupported SamplesPerPixel 4");
}

TEST(DicomErrors, Jpeg2000IsNotSupported) {
  TempDir dir;
  Spec s = grey(2, 2);
  const std::string path = dir.file("j2k.dcm");
  // The codestream is never looked at: no JPEG 2000 decoder is registered.
  dicom_test::write_encapsulated(path, s, EXS_JPEG2000, {0xFF, 0x4F, 0xFF, 0x51});
  EXPECT_EQ(dicom_error(path), path +
                                   ": compressed transfer syntax JPEG 2000 (Lossless or Lossy) "
                                   "(1.2.840.10008.1.2.4.91) is not supported");
  dicom_test::write_encapsulated(path, s, EXS_JPEG2000LosslessOnly, {0xFF, 0x4F, 0xFF, 0x51});
  EXPECT_EQ(dicom_error(path), path +
                                   ": compressed transfer syntax JPEG 2000 (Lossless only) "
                                   "(1.2.840.10008.1.2.4.90) is not supported");
}

TEST(DicomErrors, CorruptJpegFragment) {
  TempDir dir;
  const std::string path = dir.file("badjpeg.dcm");
  Spec s = grey(2, 2);
  s.bits_allocated = s.bits_stored = 8;
  dicom_test::write_encapsulated(path, s, EXS_JPEGProcess1, {0xFF, 0xD8, 0x00, 0x01, 0x02});
  const std::string e = dicom_error(path);
  EXPECT_TRUE(contains(e, path + ": cannot decode JPEG Baseline")) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(DicomErrors, MultiFrameThroughReadInputPointsToVolumes) {
  TempDir dir;
  Spec s = grey(2, 2);
  s.frames = 3;
  s.words.assign(12, 5);
  const std::string path = dir.file("cine.dcm");
  dicom_test::write(path, s);
  EXPECT_EQ(dicom_test::input_error([&] { camkit::read_input(path); }),
            path + ": multi-frame DICOM (3 frames); read it as a volume (--volume)");
}

}  // namespace
