// camkit::read_dicom on files written with DCMTK's API: stored-value extraction (bits, sign),
// Modality LUT (rescale, LUT sequence), VOI windows (file, --window, min..max, LINEAR_EXACT,
// SIGMOID), MONOCHROME1, RGB, transfer syntaxes DCMTK encodes natively, and dispatch through
// read_input / is_supported_input / is_dicom_file. Expected values are worked out by hand from
// the stored values and DICOM PS3.3 C.11.2.1.2 (LINEAR: y = (x - (c - 0.5)) / (w - 1) + 0.5,
// clipped to [0, 1]).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "dicom_writer.hpp"

namespace {

using dicom_test::Spec;
using dicom_test::TempDir;

// Two's complement bits of a signed stored value, as a 16-bit word of pixel data.
std::uint16_t word(int v) {
  return static_cast<std::uint16_t>(v & 0xFFFF);
}

void expect_samples(const camkit::Image& im, const std::vector<double>& want,
                    double tolerance = 1e-6) {
  ASSERT_EQ(im.data.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(im.data[i], want[i], tolerance) << "sample " << i;
  }
}

// For samples computed in float, as camkit does for 8-bit RGB (value / 255.0f, like ToTensor).
void expect_exact(const camkit::Image& im, const std::vector<float>& want) {
  ASSERT_EQ(im.data.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(im.data[i], want[i]) << "sample " << i;
}

// A CT slice: signed stored values, intercept -24, so HU = stored - 24.
Spec ct_slice() {
  Spec s;
  s.is_signed = true;
  s.words = {word(-1000), word(0), word(24), word(40), word(240), word(1000)};
  s.slope = "1";
  s.intercept = "-24";
  s.center = "40";
  s.width = "400";
  return s;
}

TEST(DicomGrey, SignedCtValuesRescaledThenFileWindow) {
  TempDir dir;
  const std::string path = dir.file("ct.dcm");
  dicom_test::write(path, ct_slice());
  const camkit::Image im = camkit::read_dicom(path);
  EXPECT_EQ(im.height, 2);
  EXPECT_EQ(im.width, 3);
  EXPECT_EQ(im.channels, 1);
  EXPECT_EQ(im.bit_depth, 0);
  // HU -1024, -24, 0, 16, 216, 976; C 40, W 400: 0 at or below -160, 1 above 239,
  // else (x - 39.5) / 399 + 0.5.
  expect_samples(im, {0.0, (-24 - 39.5) / 399 + 0.5, (0 - 39.5) / 399 + 0.5,
                      (16 - 39.5) / 399 + 0.5, (216 - 39.5) / 399 + 0.5, 1.0});
}

TEST(DicomGrey, WindowOptionReplacesTheFileWindow) {
  TempDir dir;
  const std::string path = dir.file("ct.dcm");
  dicom_test::write(path, ct_slice());
  camkit::ReadOptions o;
  o.window = std::make_pair(-24.0, 2001.0);  // (x + 24.5) / 2000 + 0.5 on (-1024.5, 975.5]
  const camkit::Image im = camkit::read_dicom(path, o);
  expect_samples(im, {(-1024 + 24.5) / 2000 + 0.5, (-24 + 24.5) / 2000 + 0.5, 24.5 / 2000 + 0.5,
                      (16 + 24.5) / 2000 + 0.5, (216 + 24.5) / 2000 + 0.5, 1.0});
  // read_input passes the options on.
  expect_samples(camkit::read_input(path, o),
                 {(-1024 + 24.5) / 2000 + 0.5, (-24 + 24.5) / 2000 + 0.5, 24.5 / 2000 + 0.5,
                  (16 + 24.5) / 2000 + 0.5, (216 + 24.5) / 2000 + 0.5, 1.0});
}

TEST(DicomGrey, MinMaxOfModalityValuesWithoutWindow) {
  TempDir dir;
  Spec s;
  s.rows = 1;
  s.columns = 4;
  s.words = {300, 100, 900, 500};
  s.slope = "2";
  s.intercept = "-100";  // 500, 100, 1700, 900: (x - 100) / 1600
  const std::string path = dir.file("mr.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {0.25, 0.0, 1.0, 0.5});
}

TEST(DicomGrey, ConstantImageWithoutWindowIsAllZero) {
  TempDir dir;
  Spec s;
  s.words = std::vector<std::uint16_t>(6, 77);
  const std::string path = dir.file("flat.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), std::vector<double>(6, 0.0));
}

TEST(DicomGrey, FractionalRescaleSlope) {
  TempDir dir;
  Spec s;
  s.rows = 1;
  s.columns = 3;
  s.words = {0, 3, 10};
  s.slope = "0.25";
  s.intercept = "1.5";  // 1.5, 2.25, 4.0
  s.center = "2.5";
  s.width = "3";  // (x - 2) / 2 + 0.5 on (1, 3]
  const std::string path = dir.file("pet.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {(1.5 - 2) / 2 + 0.5, (2.25 - 2) / 2 + 0.5, 1.0});
}

TEST(DicomGrey, Monochrome1IsInvertedAfterTheWindow) {
  TempDir dir;
  Spec s;
  s.photometric = "MONOCHROME1";
  s.bits_allocated = s.bits_stored = 8;
  s.rows = 1;
  s.columns = 4;
  s.bytes = {0, 51, 255, 102};  // min..max 0..255: x / 255, then 1 - y
  const std::string path = dir.file("cr.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {1.0, 1 - 51 / 255.0, 0.0, 1 - 102 / 255.0});

  s.center = "128";  // x / 255 exactly on [0, 255], then inverted
  s.width = "256";
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {1.0, 1 - 51 / 255.0, 0.0, 1 - 102 / 255.0});
}

TEST(DicomGrey, TwelveBitsStoredInSixteenIgnoreTheUpperBits) {
  TempDir dir;
  Spec s;
  s.rows = 1;
  s.columns = 4;
  s.bits_stored = 12;  // HighBit 11: bits 12..15 may hold overlays and must be masked off
  s.words = {0xF000, 0xAFFF, 0x5123, 0x0800};
  s.center = "2048";
  s.width = "4096";  // (x - 2047.5) / 4095 + 0.5 = x / 4095
  const std::string path = dir.file("12bit.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {0.0, 1.0, 0x123 / 4095.0, 2048 / 4095.0});
}

TEST(DicomGrey, TwelveBitsStoredAtTheTopOfTheWord) {
  TempDir dir;
  Spec s;
  s.rows = 1;
  s.columns = 3;
  s.bits_stored = 12;
  s.high_bit = 15;  // value in bits 4..15
  s.words = {0x0007, 0xFFF0, 0x1230};
  s.center = "2048";
  s.width = "4096";
  const std::string path = dir.file("12bit_high.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {0.0, 1.0, 0x123 / 4095.0});
}

TEST(DicomGrey, SignedTwelveBitValuesAreSignExtended) {
  TempDir dir;
  Spec s;
  s.rows = 1;
  s.columns = 4;
  s.bits_stored = 12;
  s.is_signed = true;
  // 12-bit two's complement: 0x800 = -2048, 0xFFF = -1, 0x7FF = 2047; the top nibble is noise.
  s.words = {0x3800, 0xCFFF, 0x07FF, 0x9000};
  s.center = "0.5";
  s.width = "4096";  // (x - 0) / 4095 + 0.5
  const std::string path = dir.file("signed12.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {0.0, -1 / 4095.0 + 0.5, 2047 / 4095.0 + 0.5, 0.5});
}

TEST(DicomGrey, EightBitUnsigned) {
  TempDir dir;
  Spec s;
  s.bits_allocated = s.bits_stored = 8;
  s.rows = 1;
  s.columns = 3;  // odd length: DCMTK pads the element to 4 bytes
  s.bytes = {10, 20, 250};
  s.center = "128";
  s.width = "256";
  const std::string path = dir.file("u8.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {10 / 255.0, 20 / 255.0, 250 / 255.0});
}

TEST(DicomGrey, EightBitSigned) {
  TempDir dir;
  Spec s;
  s.bits_allocated = s.bits_stored = 8;
  s.is_signed = true;
  s.rows = 1;
  s.columns = 4;
  s.bytes = {0x80, 0xFF, 0x00, 0x7F};  // -128, -1, 0, 127; min..max: (x + 128) / 255
  const std::string path = dir.file("s8.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path), {0.0, 127 / 255.0, 128 / 255.0, 1.0});
}

TEST(DicomGrey, FirstOfSeveralWindowsIsUsed) {
  TempDir dir;
  Spec s = ct_slice();
  s.center = "40\\-600";
  s.width = "400\\1500";
  const std::string path = dir.file("two_windows.dcm");
  dicom_test::write(path, s);
  EXPECT_NEAR(camkit::read_dicom(path).data[1], (-24 - 39.5) / 399 + 0.5, 1e-6);
}

TEST(DicomGrey, InvalidFileWindowFallsBackToMinMax) {
  TempDir dir;
  Spec s = ct_slice();
  s.width = "0";
  const std::string path = dir.file("zero_width.dcm");
  dicom_test::write(path, s);
  // HU -1024 .. 976: (x + 1024) / 2000
  expect_samples(camkit::read_dicom(path),
                 {0.0, 1000 / 2000.0, 1024 / 2000.0, 1040 / 2000.0, 1240 / 2000.0, 1.0});
}

TEST(DicomGrey, LinearExactVoiFunction) {
  TempDir dir;
  Spec s = ct_slice();
  s.voi_function = "LINEAR_EXACT";  // (x - 40) / 400 + 0.5 on (-160, 240]
  const std::string path = dir.file("exact.dcm");
  dicom_test::write(path, s);
  expect_samples(camkit::read_dicom(path),
                 {0.0, (-24 - 40) / 400.0 + 0.5, -40 / 400.0 + 0.5, (16 - 40) / 400.0 + 0.5,
                  (216 - 40) / 400.0 + 0.5, 1.0});
}

TEST(DicomGrey, SigmoidVoiFunction) {
  TempDir dir;
  Spec s = ct_slice();
  s.voi_function = "SIGMOID";  // 1 / (1 + exp(-4 (x - 40) / 400))
  const std::string path = dir.file("sigmoid.dcm");
  dicom_test::write(path, s);
  std::vector<double> want;
  for (double hu : {-1024.0, -24.0, 0.0, 16.0, 216.0, 976.0}) {
    want.push_back(1 / (1 + std::exp(-4 * (hu - 40) / 400)));
  }
  expect_samples(camkit::read_dicom(path), want);
}

TEST(DicomGrey, ModalityLutSequenceReplacesRescale) {
  TempDir dir;
  Spec s;
  s.rows = 1;
  s.columns = 5;
  s.words = {0, 10, 11, 13, 200};
  s.slope = "100";                 // ignored: the LUT sequence wins
  s.lut_descriptor = {4, 10, 16};  // 4 entries for stored values 10..13
  s.lut_data = {1000, 2000, 3000, 5000};
  s.center = "3000.5";
  s.width = "4001";  // (x - 1000) / 4000 on (1000, 5000]
  const std::string path = dir.file("lut.dcm");
  dicom_test::write(path, s);
  // 0 -> first entry (below the table), 10 -> 1000, 11 -> 2000, 13 -> 5000, 200 -> last entry.
  expect_samples(camkit::read_dicom(path), {0.0, 0.0, 0.25, 1.0, 1.0});
}

TEST(DicomRgb, InterleavedIsDividedBy255WithoutWindow) {
  TempDir dir;
  Spec s;
  s.samples = 3;
  s.photometric = "RGB";
  s.bits_allocated = s.bits_stored = 8;
  s.planar = 0;
  s.rows = 1;
  s.columns = 2;
  s.bytes = {255, 0, 10, 20, 30, 40};
  s.center = "0";  // a window in an RGB file does not apply
  s.width = "1";
  const std::string path = dir.file("rgb.dcm");
  dicom_test::write(path, s);
  camkit::ReadOptions o;
  o.window = std::make_pair(1000.0, 10.0);  // nor does --window
  const camkit::Image im = camkit::read_dicom(path, o);
  EXPECT_EQ(im.channels, 3);
  EXPECT_EQ(im.bit_depth, 8);
  expect_exact(im, {1.0f, 0.0f, 10 / 255.0f, 20 / 255.0f, 30 / 255.0f, 40 / 255.0f});
}

TEST(DicomRgb, PlanarIsInterleaved) {
  TempDir dir;
  Spec s;
  s.samples = 3;
  s.photometric = "RGB";
  s.bits_allocated = s.bits_stored = 8;
  s.planar = 1;
  s.rows = 1;
  s.columns = 2;
  s.bytes = {1, 2, 3, 4, 5, 6};  // R R G G B B
  const std::string path = dir.file("planar.dcm");
  dicom_test::write(path, s);
  expect_exact(camkit::read_dicom(path),
               {1 / 255.0f, 3 / 255.0f, 5 / 255.0f, 2 / 255.0f, 4 / 255.0f, 6 / 255.0f});
}

// DCMTK writes these encodings itself; values must not depend on them.
TEST(DicomTransferSyntax, ImplicitLittleAndExplicitBigEndianReadAlike) {
  TempDir dir;
  const std::vector<double> want = {0.0,
                                    (-24 - 39.5) / 399 + 0.5,
                                    (0 - 39.5) / 399 + 0.5,
                                    (16 - 39.5) / 399 + 0.5,
                                    (216 - 39.5) / 399 + 0.5,
                                    1.0};
  for (const E_TransferSyntax xfer :
       {EXS_LittleEndianImplicit, EXS_BigEndianExplicit, EXS_DeflatedLittleEndianExplicit}) {
    const std::string path = dir.file("xfer" + std::to_string(static_cast<int>(xfer)) + ".dcm");
    dicom_test::write(path, ct_slice(), xfer);
    SCOPED_TRACE(path);
    expect_samples(camkit::read_dicom(path), want);
  }
  Spec s;
  s.bits_allocated = s.bits_stored = 8;
  s.rows = 1;
  s.columns = 3;
  s.bytes = {0, 128, 255};
  for (const E_TransferSyntax xfer : {EXS_LittleEndianImplicit, EXS_BigEndianExplicit}) {
    const std::string path = dir.file("u8_" + std::to_string(static_cast<int>(xfer)) + ".dcm");
    dicom_test::write(path, s, xfer);
    SCOPED_TRACE(path);
    expect_samples(camkit::read_dicom(path), {0.0, 128 / 255.0, 1.0});
  }
}

TEST(DicomDispatch, ExtensionsAndMagic) {
  for (const char* p : {"a.dcm", "a.DCM", "b/a.dicom", "a.Dicom"}) {
    EXPECT_TRUE(camkit::is_supported_input(p)) << p;
  }
  EXPECT_FALSE(camkit::is_supported_input("a.dcm.txt"));
  TempDir dir;
  const std::string no_ext = dir.file("IM0001");
  dicom_test::write(no_ext, ct_slice());
  EXPECT_TRUE(camkit::is_dicom_file(no_ext));
  EXPECT_FALSE(camkit::is_dicom_file(dir.file("missing")));
  EXPECT_FALSE(camkit::is_dicom_file(dir.path()));
  dicom_test::write_file(dir.file("short"), {'D', 'I', 'C', 'M'});
  EXPECT_FALSE(camkit::is_dicom_file(dir.file("short")));
  // Extension-less DICOM goes through read_input; other extension-less files stay unsupported.
  EXPECT_EQ(camkit::read_input(no_ext).data, camkit::read_dicom(no_ext).data);
  const std::string upper = dir.file("CT.DICOM");
  dicom_test::write(upper, ct_slice());
  EXPECT_EQ(camkit::read_input(upper).data, camkit::read_dicom(no_ext).data);
  EXPECT_EQ(dicom_test::input_error([&] { camkit::read_input(dir.file("short")); }),
            dir.file("short") + ": unsupported file type (no extension)");
}

}  // namespace
