// Compressed DICOM: files made by DCMTK's own tools (img2dcm keeps a JPEG's bytes as JPEG
// baseline; dcmcjpeg, dcmcjpls and dcmcrle re-encode a file camkit wrote losslessly) must decode
// to the values of the uncompressed original, or, for lossy JPEG, to what dcmdjpeg and OpenCV's
// libjpeg decode. Skipped when the dcmtk tools are not installed (tools/install_deps.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <thread>
#include <vector>

#include "camkit/image.hpp"
#include "dicom_writer.hpp"

namespace {

using dicom_test::Spec;
using dicom_test::TempDir;

#define REQUIRE_TOOL(name) \
  if (!dicom_test::have_tool(name)) GTEST_SKIP() << name << " not installed (package dcmtk)"

// The transfer syntax UID appears in the file's meta header as text.
bool file_mentions(const std::string& path, const std::string& text) {
  const std::vector<char> bytes = dicom_test::file_bytes(path);
  return std::string(bytes.begin(), bytes.end()).find(text) != std::string::npos;
}

// A 12-bit CT-like slice with every kind of neighbourhood a predictor or run coder sees.
Spec ct_slice() {
  Spec s;
  s.rows = 12;
  s.columns = 17;
  s.bits_stored = 12;
  s.intercept = "-1024";
  s.center = "40";
  s.width = "400";
  for (int i = 0; i < s.rows * s.columns; ++i) {
    s.words.push_back(static_cast<std::uint16_t>(i < 20 ? 0 : (i * 97 + (i % 7) * 301) % 4096));
  }
  return s;
}

// A picture with smooth and sharp parts, written by OpenCV as an 8-bit JPEG.
cv::Mat test_picture(int type) {
  cv::Mat m(24, 32, type);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      const int v = (x * 8 + y * 3) % 256;
      if (type == CV_8UC1) {
        m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(x > 20 ? 255 - v : v);
      } else {
        m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>(v), 128,
                                          static_cast<std::uint8_t>(255 - v));  // B, G, R
      }
    }
  }
  return m;
}

void expect_equal_images(const camkit::Image& a, const camkit::Image& b) {
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.channels, b.channels);
  EXPECT_EQ(a.bit_depth, b.bit_depth);
  EXPECT_EQ(a.data, b.data);
}

class LosslessCodec : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(LosslessCodec, DecodesToTheUncompressedValues) {
  const std::string tool = GetParam()[0], uid = GetParam()[1];
  REQUIRE_TOOL(tool);
  TempDir dir;
  const std::string native = dir.file("native.dcm"), packed = dir.file("packed.dcm");
  dicom_test::write(native, ct_slice());
  ASSERT_TRUE(dicom_test::run(tool + " " + native + " " + packed)) << tool;
  ASSERT_TRUE(file_mentions(packed, uid)) << tool << " did not write " << uid;
  expect_equal_images(camkit::read_dicom(packed), camkit::read_dicom(native));
}

INSTANTIATE_TEST_SUITE_P(
    DicomCodec, LosslessCodec,
    ::testing::Values(std::vector<std::string>{"dcmcjpeg", "1.2.840.10008.1.2.4.70"},  // SV1
                      std::vector<std::string>{"dcmcjpls", "1.2.840.10008.1.2.4.80"},
                      std::vector<std::string>{"dcmcrle", "1.2.840.10008.1.2.5"}),
    [](const ::testing::TestParamInfo<std::vector<std::string>>& info) { return info.param[0]; });

TEST(DicomCodec, Img2dcmGreyJpegBaseline) {
  REQUIRE_TOOL("img2dcm");
  REQUIRE_TOOL("dcmdjpeg");
  TempDir dir;
  const std::string jpg = dir.file("grey.jpg"), dcm = dir.file("grey.dcm");
  const cv::Mat picture = test_picture(CV_8UC1);
  ASSERT_TRUE(cv::imwrite(jpg, picture, {cv::IMWRITE_JPEG_QUALITY, 90}));
  ASSERT_TRUE(dicom_test::run("img2dcm " + jpg + " " + dcm));
  ASSERT_TRUE(file_mentions(dcm, "1.2.840.10008.1.2.4.50"));  // still compressed

  camkit::ReadOptions o;
  o.window = std::make_pair(128.0, 256.0);  // LINEAR: exactly x / 255 on 0..255
  const camkit::Image im = camkit::read_dicom(dcm, o);
  ASSERT_EQ(im.height, 24);
  ASSERT_EQ(im.width, 32);
  ASSERT_EQ(im.channels, 1);
  // Same decoder as DCMTK's own dcmdjpeg: identical values.
  const std::string plain = dir.file("plain.dcm");
  ASSERT_TRUE(dicom_test::run("dcmdjpeg " + dcm + " " + plain));
  ASSERT_FALSE(file_mentions(plain, "1.2.840.10008.1.2.4.50"));
  expect_equal_images(im, camkit::read_dicom(plain, o));
  // OpenCV's libjpeg-turbo may round its inverse DCT differently by a level or two.
  const cv::Mat decoded = cv::imread(jpg, cv::IMREAD_GRAYSCALE);
  for (int y = 0; y < 24; ++y) {
    for (int x = 0; x < 32; ++x) {
      ASSERT_NEAR(im.at(y, x, 0), decoded.at<std::uint8_t>(y, x) / 255.0f, 2.5f / 255) << y << x;
    }
  }
}

TEST(DicomCodec, Img2dcmColourJpegBecomesRgb) {
  REQUIRE_TOOL("img2dcm");
  REQUIRE_TOOL("dcmdjpeg");
  TempDir dir;
  const std::string jpg = dir.file("colour.jpg"), dcm = dir.file("colour.dcm");
  ASSERT_TRUE(cv::imwrite(jpg, test_picture(CV_8UC3), {cv::IMWRITE_JPEG_QUALITY, 95}));
  ASSERT_TRUE(dicom_test::run("img2dcm " + jpg + " " + dcm));
  ASSERT_TRUE(file_mentions(dcm, "YBR_FULL_422"));  // the JPEG's own colour space

  const camkit::Image im = camkit::read_dicom(dcm);
  ASSERT_EQ(im.channels, 3);
  EXPECT_EQ(im.bit_depth, 8);
  const std::string plain = dir.file("plain.dcm");
  ASSERT_TRUE(dicom_test::run("dcmdjpeg " + dcm + " " + plain));
  expect_equal_images(im, camkit::read_dicom(plain));
  // Against OpenCV (BGR): chroma upsampling and colour conversion may differ by a few levels.
  const cv::Mat decoded = cv::imread(jpg, cv::IMREAD_COLOR);
  double total = 0;
  for (int y = 0; y < 24; ++y) {
    for (int x = 0; x < 32; ++x) {
      for (int c = 0; c < 3; ++c) {
        const float want = decoded.at<cv::Vec3b>(y, x)[2 - c] / 255.0f;
        ASSERT_NEAR(im.at(y, x, c), want, 6.0f / 255) << y << "," << x << "," << c;
        total += std::abs(im.at(y, x, c) - want);
      }
    }
  }
  EXPECT_LT(total / (24 * 32 * 3), 1.5 / 255);
}

TEST(DicomCodec, LosslessJpegMultiFrameVolume) {
  REQUIRE_TOOL("dcmcjpls");
  TempDir dir;
  Spec s;
  s.rows = 3;
  s.columns = 4;
  s.frames = 3;
  for (int i = 0; i < 36; ++i) s.words.push_back(static_cast<std::uint16_t>(i * 100));
  const std::string native = dir.file("cine.dcm"), packed = dir.file("cine_ls.dcm");
  dicom_test::write(native, s);
  ASSERT_TRUE(dicom_test::run("dcmcjpls " + native + " " + packed));
  const std::vector<camkit::Image> a = camkit::read_volume(packed), b = camkit::read_volume(native);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) expect_equal_images(a[k], b[k]);
  // One min..max window over all frames: 0 .. 3500.
  EXPECT_FLOAT_EQ(a[1].data[0], 1200 / 3500.0f);
}

// The pipeline decodes on several worker threads: DCMTK's codec registry and dictionary must
// serve them at once (the first decode also registers the codecs).
TEST(DicomCodec, ConcurrentDecodesAgree) {
  REQUIRE_TOOL("dcmcjpls");
  TempDir dir;
  const std::string native = dir.file("native.dcm"), packed = dir.file("packed.dcm");
  dicom_test::write(native, ct_slice());
  ASSERT_TRUE(dicom_test::run("dcmcjpls " + native + " " + packed));
  const std::vector<float> want = camkit::read_dicom(native).data;
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) got[t] = camkit::read_dicom(t % 2 ? packed : native).data;
    });
  }
  for (std::thread& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

}  // namespace
