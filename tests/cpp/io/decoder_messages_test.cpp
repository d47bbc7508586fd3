// What libpng and libjpeg say about damaged files ends up in camkit's one line, and nowhere
// else: every file here is damaged the way real files are (cut, bit flips, stray markers), the
// read must fail naming the file and the decoder's reason, and nothing may reach stderr.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/image.hpp"
#include "dicom_writer.hpp"

namespace {

using dicom_test::TempDir;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

cv::Mat noise(int rows, int cols, int type) {
  cv::Mat m(rows, cols, type);
  cv::RNG rng(4242);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

std::string encoded(const std::string& ext, const cv::Mat& m, const std::vector<int>& params = {}) {
  std::vector<unsigned char> buf;
  if (!cv::imencode(ext, m, buf, params)) throw std::runtime_error("imencode failed");
  return std::string(buf.begin(), buf.end());
}

std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

// The offset of the first chunk of `type` in a PNG, and its data length.
std::pair<std::size_t, std::size_t> find_chunk(const std::string& png, const std::string& type) {
  std::size_t p = 8;
  while (p + 8 <= png.size()) {
    const std::size_t length =
        (static_cast<std::size_t>(static_cast<unsigned char>(png[p])) << 24) |
        (static_cast<std::size_t>(static_cast<unsigned char>(png[p + 1])) << 16) |
        (static_cast<std::size_t>(static_cast<unsigned char>(png[p + 2])) << 8) |
        static_cast<unsigned char>(png[p + 3]);
    if (png.compare(p + 4, 4, type) == 0) return {p, length};
    p += 12 + length;
  }
  throw std::runtime_error("no " + type + " chunk");
}

// Reads `path`, expecting Error(input) "<path>: <reason>" with `reason` in it and an empty
// stderr; returns the message.
std::string expect_failure(const std::string& path, const std::string& reason) {
  testing::internal::CaptureStderr();
  std::string message;
  try {
    camkit::read_input(path);
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::input);
    message = e.what();
  }
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "") << path;
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(reason), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  return message;
}

void expect_decodes(const std::string& path) {
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(camkit::read_input(path)) << path;
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << path;
}

// Cut in the middle of the entropy-coded data, with an end-of-image marker put back: the
// container looks complete; only the decoder notices the missing rows.
TEST(DecoderMessages, TruncatedJpegWithEndMarkerAppended) {
  TempDir dir;
  const std::string full = encoded(".jpg", noise(128, 128, CV_8UC3));
  const std::string path = dir.file("cut.jpg");
  write_bytes(path, full.substr(0, full.size() / 2) + "\xFF\xD9");
  EXPECT_EQ(expect_failure(path, "cannot decode JPEG"),
            path + ": cannot decode JPEG (Corrupt JPEG data: premature end of data segment)");
}

// A restart marker out of sequence inside the scan: libjpeg resynchronises and warns.
TEST(DecoderMessages, JpegRestartMarkerOutOfSequence) {
  TempDir dir;
  std::string jpeg = encoded(".jpg", noise(64, 64, CV_8UC3), {cv::IMWRITE_JPEG_RST_INTERVAL, 1});
  const std::size_t rst = jpeg.find("\xFF\xD1");
  ASSERT_NE(rst, std::string::npos);
  jpeg[rst + 1] = '\xD5';
  const std::string path = dir.file("rst.jpg");
  write_bytes(path, jpeg);
  expect_failure(path, "cannot decode JPEG (Corrupt JPEG data");
}

TEST(DecoderMessages, JpegCorruptHeaderIsAnError) {
  TempDir dir;
  std::string jpeg = encoded(".jpg", noise(16, 16, CV_8UC1));
  const std::size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 9] = 7;  // component count 7 in a segment sized for 1
  const std::string path = dir.file("sof.jpg");
  write_bytes(path, jpeg);
  expect_failure(path, "cannot decode JPEG (");
}

// Padding between segments is harmless; libjpeg only warns about it, and it is not reported.
TEST(DecoderMessages, JpegExtraneousBytesBetweenSegmentsDecode) {
  TempDir dir;
  const std::string jpeg = encoded(".jpg", noise(16, 16, CV_8UC3));
  const std::size_t dqt = jpeg.find("\xFF\xDB");
  ASSERT_NE(dqt, std::string::npos);
  const std::string path = dir.file("pad.jpg");
  write_bytes(path, jpeg.substr(0, dqt) + "\x00\x00\x00" + jpeg.substr(dqt));
  expect_decodes(path);
}

TEST(DecoderMessages, PngCrcError) {
  TempDir dir;
  std::string png = encoded(".png", noise(32, 32, CV_8UC3));
  const auto [idat, length] = find_chunk(png, "IDAT");
  png[idat + 8 + length + 1] ^= 0x55;  // the CRC itself
  const std::string path = dir.file("crc.png");
  write_bytes(path, png);
  EXPECT_EQ(expect_failure(path, "cannot decode PNG"),
            path + ": cannot decode PNG (IDAT: CRC error)");
}

// Damaged compressed data under a CRC that matches it: zlib's own check finds it.
TEST(DecoderMessages, PngCorruptCompressedData) {
  TempDir dir;
  std::string png = encoded(".png", noise(32, 32, CV_8UC3));
  const auto [idat, length] = find_chunk(png, "IDAT");
  std::string data = png.substr(idat + 8, length);
  for (std::size_t i = data.size() / 3; i < data.size() / 3 + 16; ++i) data[i] ^= 0x3C;
  png = png.substr(0, idat) + chunk("IDAT", data) + png.substr(idat + 12 + length);
  const std::string path = dir.file("zlib.png");
  write_bytes(path, png);
  expect_failure(path, "cannot decode PNG (IDAT: ");
}

// The image data cut short, the end chunk put back: IEND is there, the rows are not.
TEST(DecoderMessages, PngTruncatedImageDataWithEnd) {
  TempDir dir;
  const std::string png = encoded(".png", noise(64, 64, CV_8UC3), {cv::IMWRITE_PNG_COMPRESSION, 0});
  const auto [idat, length] = find_chunk(png, "IDAT");
  const std::string cut =
      png.substr(0, idat) + chunk("IDAT", png.substr(idat + 8, length / 2)) + chunk("IEND", "");
  const std::string path = dir.file("short.png");
  write_bytes(path, cut);
  expect_failure(path, "cannot decode PNG (");
}

TEST(DecoderMessages, PngAncillaryChunkWithBadCrcFails) {
  TempDir dir;
  const std::string png = encoded(".png", noise(8, 8, CV_8UC1));
  std::string text = chunk("tEXt", std::string("Comment\0hello", 13));
  text[text.size() - 1] ^= 1;
  const std::string path = dir.file("text.png");
  write_bytes(path, png.substr(0, 33) + text + png.substr(33));
  expect_failure(path, "cannot decode PNG (tEXt: CRC error)");
}

// Colour profiles that libpng would complain about are not read at all: camkit applies none.
TEST(DecoderMessages, PngBadColourProfileIsIgnored) {
  TempDir dir;
  const std::string png = encoded(".png", noise(8, 8, CV_8UC3));
  const std::string iccp =
      chunk("iCCP", std::string("bad\0\0\x78\x9c\x03\x00\x00\x00\x00\x01", 14));
  const std::string path = dir.file("iccp.png");
  write_bytes(path, png.substr(0, 33) + iccp + png.substr(33));
  expect_decodes(path);
}

}  // namespace

namespace {

// libtiff's messages about a damaged strip come back in the line; OpenCV's reader, which would
// print them, never sees the file.
TEST(DecoderMessages, TiffDamagedStrip) {
  TempDir dir;
  std::string tiff = encoded(".tif", noise(64, 64, CV_8UC3));  // LZW strips
  for (std::size_t i = 100; i < 400; ++i) tiff[i] = static_cast<char>(0xFF);
  const std::string path = dir.file("strip.tif");
  write_bytes(path, tiff);
  expect_failure(path, "cannot decode TIFF (");
}

TEST(DecoderMessages, BmpDamagedHeaders) {
  TempDir dir;
  const std::string bmp = encoded(".bmp", noise(4, 4, CV_8UC1));  // 8-bit: a palette
  std::string many = bmp;
  many[46] = 0x01;
  many[47] = 0x02;  // 513 palette entries
  const std::string path = dir.file("palette.bmp");
  write_bytes(path, many);
  expect_failure(path, "corrupt BMP (palette of 513 colours)");
  const std::string cut = dir.file("header.bmp");
  write_bytes(cut, bmp.substr(0, 30));
  expect_failure(cut, "truncated BMP (incomplete header)");
}

}  // namespace
