// Decoding PNG/JPEG/BMP/TIFF through camkit::read_image: values, channel order, bit depth, and
// every way a file can be unusable. Inputs are written by OpenCV into a fresh temporary directory.
#include "camkit/image.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "camkit/error.hpp"

namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "camkit_io_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Runs f, expecting Error(input) whose one-line message is "<path>: ..." containing `part`.
template <typename F>
std::string expect_input_error(F&& f, const std::string& path, const std::string& part) {
  try {
    f();
  } catch (const camkit::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.code(), camkit::ErrorCode::input) << msg;
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no error for " << path;
  return {};
}

// A deterministic image whose every sample differs from its neighbours and channels.
cv::Mat pattern(int rows, int cols, int type) {
  cv::Mat m(rows, cols, type);
  cv::RNG rng(12345);
  rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
  return m;
}

// What the contract says `m` must decode to: RGB order, alpha dropped, divided by full scale.
void expect_matches(const camkit::Image& im, const cv::Mat& m) {
  const bool wide = m.depth() == CV_16U;
  const float scale = wide ? 65535.0f : 255.0f;
  ASSERT_EQ(im.height, m.rows);
  ASSERT_EQ(im.width, m.cols);
  ASSERT_EQ(im.channels, m.channels() == 1 ? 1 : 3);
  ASSERT_EQ(im.data.size(), static_cast<std::size_t>(m.rows) * m.cols * im.channels);
  EXPECT_EQ(im.bit_depth, wide ? 16 : 8);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      for (int c = 0; c < im.channels; ++c) {
        const int src = im.channels == 1 ? 0 : 2 - c;  // BGR(A) -> RGB
        const float raw = wide ? m.ptr<unsigned short>(y)[x * m.channels() + src]
                               : m.ptr<unsigned char>(y)[x * m.channels() + src];
        ASSERT_EQ(im.at(y, x, c), raw / scale) << "y=" << y << " x=" << x << " c=" << c;
      }
    }
  }
}

struct LosslessCase {
  const char* name;
  int type;
};

// Keeps CTest's discovered names stable: the default printer dumps the struct's bytes (a pointer).
void PrintTo(const LosslessCase& c, std::ostream* os) {
  *os << c.name;
}

class ImageConversionLossless : public ::testing::TestWithParam<LosslessCase> {};

TEST_P(ImageConversionLossless, DecodesEverySampleExactly) {
  TempDir dir;
  const std::string path = dir.file(GetParam().name);
  const cv::Mat m = pattern(5, 7, GetParam().type);
  ASSERT_TRUE(cv::imwrite(path, m));
  expect_matches(camkit::read_image(path), m);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, ImageConversionLossless,
    ::testing::Values(LosslessCase{"grey8.png", CV_8UC1}, LosslessCase{"rgb8.png", CV_8UC3},
                      LosslessCase{"rgba8.png", CV_8UC4}, LosslessCase{"grey16.png", CV_16UC1},
                      LosslessCase{"rgb16.png", CV_16UC3}, LosslessCase{"rgba16.png", CV_16UC4},
                      LosslessCase{"grey8.bmp", CV_8UC1}, LosslessCase{"rgb8.bmp", CV_8UC3},
                      LosslessCase{"grey8.tif", CV_8UC1}, LosslessCase{"rgb8.tiff", CV_8UC3},
                      LosslessCase{"grey16.tif", CV_16UC1}, LosslessCase{"rgb16.tif", CV_16UC3}),
    [](const ::testing::TestParamInfo<LosslessCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n) ch = ch == '.' ? '_' : ch;
      return n;
    });

TEST(ImageConversion, SixteenBitFullScaleIsOne) {
  TempDir dir;
  const std::string path = dir.file("full.png");
  cv::Mat m(1, 3, CV_16UC1);
  m.at<unsigned short>(0, 0) = 65535;
  m.at<unsigned short>(0, 1) = 0;
  m.at<unsigned short>(0, 2) = 1;
  ASSERT_TRUE(cv::imwrite(path, m));
  const camkit::Image im = camkit::read_image(path);
  EXPECT_EQ(im.bit_depth, 16);
  EXPECT_EQ(im.at(0, 0, 0), 1.0f);
  EXPECT_EQ(im.at(0, 1, 0), 0.0f);
  EXPECT_EQ(im.at(0, 2, 0), 1.0f / 65535.0f);
}

TEST(ImageConversion, KnownPixelComesOutRgb) {
  TempDir dir;
  const std::string path = dir.file("red.png");
  const cv::Mat m(2, 2, CV_8UC3, cv::Scalar(10, 20, 255));  // B, G, R
  ASSERT_TRUE(cv::imwrite(path, m));
  const camkit::Image im = camkit::read_image(path);
  ASSERT_EQ(im.channels, 3);
  EXPECT_EQ(im.at(1, 1, 0), 1.0f);
  EXPECT_EQ(im.at(1, 1, 1), 20.0f / 255.0f);
  EXPECT_EQ(im.at(1, 1, 2), 10.0f / 255.0f);
}

TEST(ImageConversion, AlphaIsDropped) {
  TempDir dir;
  const std::string path = dir.file("rgba.png");
  const cv::Mat m(1, 1, CV_8UC4, cv::Scalar(0, 128, 255, 7));
  ASSERT_TRUE(cv::imwrite(path, m));
  const camkit::Image im = camkit::read_image(path);
  ASSERT_EQ(im.channels, 3);
  ASSERT_EQ(im.data, (std::vector<float>{1.0f, 128.0f / 255.0f, 0.0f}));
}

TEST(ImageConversion, JpegColourCloseToSource) {
  TempDir dir;
  const std::string path = dir.file("red.jpg");
  const cv::Mat m(16, 16, CV_8UC3, cv::Scalar(40, 90, 200));
  ASSERT_TRUE(cv::imwrite(path, m, {cv::IMWRITE_JPEG_QUALITY, 100}));
  const camkit::Image im = camkit::read_image(path);
  ASSERT_EQ(im.channels, 3);
  EXPECT_EQ(im.bit_depth, 8);
  EXPECT_NEAR(im.at(8, 8, 0), 200.0f / 255.0f, 3.0f / 255.0f);
  EXPECT_NEAR(im.at(8, 8, 1), 90.0f / 255.0f, 3.0f / 255.0f);
  EXPECT_NEAR(im.at(8, 8, 2), 40.0f / 255.0f, 3.0f / 255.0f);
}

TEST(ImageConversion, GreyJpegHasOneChannel) {
  TempDir dir;
  const std::string path = dir.file("grey.jpeg");
  ASSERT_TRUE(cv::imwrite(path, cv::Mat(8, 8, CV_8UC1, cv::Scalar(128))));
  const camkit::Image im = camkit::read_image(path);
  ASSERT_EQ(im.channels, 1);
  EXPECT_NEAR(im.at(3, 3, 0), 128.0f / 255.0f, 1.0f / 255.0f);
}

TEST(ImageConversion, ProgressiveJpegDecodes) {
  TempDir dir;
  const std::string path = dir.file("progressive.jpg");
  ASSERT_TRUE(cv::imwrite(path, pattern(32, 24, CV_8UC3), {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  const camkit::Image im = camkit::read_image(path);
  EXPECT_EQ(im.height, 32);
  EXPECT_EQ(im.width, 24);
}

TEST(ImageConversion, JpegWithBytesAfterEndMarkerDecodes) {
  TempDir dir;
  const std::string path = dir.file("trailer.jpg");
  std::vector<unsigned char> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", pattern(8, 8, CV_8UC3), jpeg));
  write_bytes(path, std::string(jpeg.begin(), jpeg.end()) + std::string(100, '\0') + "trailer");
  EXPECT_EQ(camkit::read_image(path).width, 8);
}

// The content decides the format, not the name: read_input picks the reader by extension only.
TEST(ImageConversion, ContentNotExtensionDecidesFormat) {
  TempDir dir;
  const std::string path = dir.file("actually_png.jpg");
  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".png", cv::Mat(2, 2, CV_8UC1, cv::Scalar(51)), png));
  write_bytes(path, std::string(png.begin(), png.end()));
  EXPECT_EQ(camkit::read_image(path).at(0, 0, 0), 51.0f / 255.0f);
}

std::string encoded(const std::string& ext, const cv::Mat& m) {
  std::vector<unsigned char> buf;
  if (!cv::imencode(ext, m, buf)) throw std::runtime_error("imencode failed");
  return std::string(buf.begin(), buf.end());
}

TEST(ImageValidation, TruncatedJpeg) {
  TempDir dir;
  const std::string path = dir.file("half.jpg");
  const std::string full = encoded(".jpg", pattern(64, 64, CV_8UC3));
  write_bytes(path, full.substr(0, full.size() / 2));
  expect_input_error([&] { camkit::read_image(path); }, path, "truncated");
}

TEST(ImageValidation, JpegCutJustBeforeEndMarker) {
  TempDir dir;
  const std::string path = dir.file("almost.jpg");
  const std::string full = encoded(".jpg", pattern(16, 16, CV_8UC3));
  write_bytes(path, full.substr(0, full.size() - 2));
  expect_input_error([&] { camkit::read_image(path); }, path, "truncated");
}

// An EXIF thumbnail carries its own end marker inside the APP1 segment; it must not make a
// truncated main image look complete.
TEST(ImageValidation, TruncatedJpegWithEmbeddedThumbnail) {
  TempDir dir;
  const std::string thumb = encoded(".jpg", pattern(4, 4, CV_8UC3));
  const std::string full = encoded(".jpg", pattern(64, 64, CV_8UC3));
  const std::size_t length = 2 + 6 + thumb.size();
  const std::string app1 = std::string("\xFF\xE1") + static_cast<char>(length >> 8) +
                           static_cast<char>(length & 0xFF) + std::string("Exif\0\0", 6) + thumb;
  const std::string with_thumb = full.substr(0, 2) + app1 + full.substr(2);

  const std::string ok = dir.file("thumb.jpg");
  write_bytes(ok, with_thumb);
  EXPECT_EQ(camkit::read_image(ok).width, 64);

  const std::string cut = dir.file("thumb_half.jpg");
  write_bytes(cut, with_thumb.substr(0, app1.size() + full.size() / 2));
  expect_input_error([&] { camkit::read_image(cut); }, cut, "truncated");
}

TEST(ImageValidation, TruncatedPng) {
  TempDir dir;
  const std::string full = encoded(".png", pattern(32, 32, CV_8UC3));
  const std::string half = dir.file("half.png");
  write_bytes(half, full.substr(0, full.size() / 2));
  expect_input_error([&] { camkit::read_image(half); }, half, "truncated PNG");
  // Cut after the pixel data: libpng alone would decode this without complaint.
  const std::string no_end = dir.file("no_iend.png");
  write_bytes(no_end, full.substr(0, full.size() - 12));
  expect_input_error([&] { camkit::read_image(no_end); }, no_end, "truncated PNG");
}

TEST(ImageValidation, TruncatedBmp) {
  TempDir dir;
  const std::string path = dir.file("half.bmp");
  const std::string full = encoded(".bmp", pattern(16, 16, CV_8UC3));
  write_bytes(path, full.substr(0, full.size() / 2));
  expect_input_error([&] { camkit::read_image(path); }, path, "truncated BMP");
}

// OpenCV 4.6 reads only BI_RGB, RLE and BI_BITFIELDS bitmaps.
TEST(ImageValidation, UnsupportedBmpCompression) {
  TempDir dir;
  const std::string path = dir.file("jpeg_in.bmp");
  std::string bytes = encoded(".bmp", pattern(4, 4, CV_8UC3));
  bytes[30] = 4;  // biCompression = BI_JPEG
  write_bytes(path, bytes);
  expect_input_error([&] { camkit::read_image(path); }, path, "unsupported BMP compression (4)");
}

TEST(ImageValidation, TruncatedTiff) {
  TempDir dir;
  const std::string path = dir.file("half.tif");
  const std::string full = encoded(".tif", pattern(32, 32, CV_8UC3));
  write_bytes(path, full.substr(0, full.size() / 2));
  expect_input_error([&] { camkit::read_image(path); }, path, "cannot decode TIFF (");
}

TEST(ImageValidation, CorruptBytes) {
  TempDir dir;
  const std::string text = dir.file("text.png");
  write_bytes(text, "this is not an image\n");
  expect_input_error([&] { camkit::read_image(text); }, text, "cannot decode image");

  const std::string noise = dir.file("noise.jpg");
  std::string bytes(4096, '\0');
  cv::RNG rng(7);
  for (char& b : bytes) b = static_cast<char>(rng.uniform(0, 256));
  write_bytes(noise, bytes);
  expect_input_error([&] { camkit::read_image(noise); }, noise, "cannot decode image");

  // A valid signature followed by garbage chunk lengths.
  const std::string bad_png = dir.file("bad.png");
  write_bytes(bad_png, encoded(".png", pattern(4, 4, CV_8UC1)).substr(0, 8) + bytes);
  expect_input_error([&] { camkit::read_image(bad_png); }, bad_png, "PNG");
}

TEST(ImageValidation, FloatTiffRejected) {
  TempDir dir;
  const std::string path = dir.file("float.tif");
  ASSERT_TRUE(cv::imwrite(path, cv::Mat(3, 3, CV_32FC1, cv::Scalar(0.5))));
  expect_input_error([&] { camkit::read_image(path); }, path,
                     "unsupported sample type (32-bit float");
}

TEST(ImageValidation, MissingDirectoryEmpty) {
  TempDir dir;
  expect_input_error([&] { camkit::read_image(dir.file("nope.png")); }, dir.file("nope.png"),
                     "no such file");
  const std::string folder = dir.file("folder.png");
  fs::create_directory(folder);
  expect_input_error([&] { camkit::read_image(folder); }, folder, "is a directory");
  const std::string empty = dir.file("empty.png");
  write_bytes(empty, "");
  EXPECT_EQ(expect_input_error([&] { camkit::read_image(empty); }, empty, "empty file"),
            empty + ": empty file");
}

}  // namespace
