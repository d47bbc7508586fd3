// camkit decodes PNG and JPEG through libpng and libjpeg itself (io/image_codecs.hpp); what it
// returns must stay what cv::imdecode(IMREAD_UNCHANGED) returned before, sample for sample, over
// every PNG colour type, bit depth, transparency and interlacing, and JPEG's colour spaces,
// subsampling and progressive mode. Files are written by libpng and libjpeg directly.
#include <png.h>

#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <gtest/gtest.h>

#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "camkit/image.hpp"
#include "dicom_writer.hpp"

namespace {

using dicom_test::TempDir;

struct PngCase {
  const char* name;
  int color_type, bit_depth;
  bool interlaced, trns;
};

void write_png(const std::string& path, const PngCase& c, int width, int height) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, c.bit_depth, c.color_type,
               c.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> palette(256);
  for (int i = 0; i < 256; ++i) {
    palette[i] = {static_cast<png_byte>(i * 7), static_cast<png_byte>(255 - i),
                  static_cast<png_byte>(i * 3)};
  }
  if (c.color_type == PNG_COLOR_TYPE_PALETTE) {
    png_set_PLTE(png, info, palette.data(), 1 << c.bit_depth);
  }
  std::vector<png_byte> alpha(16, 128);
  png_color_16 key{};
  key.gray = 1;
  key.red = 1;
  if (c.trns) {
    png_set_tRNS(png, info, alpha.data(), c.color_type == PNG_COLOR_TYPE_PALETTE ? 16 : 0, &key);
  }
  png_write_info(png, info);
  const int channels = c.color_type == PNG_COLOR_TYPE_RGB          ? 3
                       : c.color_type == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                       : c.color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                                                                   : 1;
  const std::size_t row_bytes = (static_cast<std::size_t>(width) * channels * c.bit_depth + 7) / 8;
  std::vector<png_byte> data(row_bytes * height);
  cv::RNG rng(99);
  for (png_byte& b : data) b = static_cast<png_byte>(rng.uniform(0, 256));
  std::vector<png_bytep> rows(height);
  for (int y = 0; y < height; ++y) rows[y] = data.data() + y * row_bytes;
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

// JPEG in `space` (JCS_GRAYSCALE, JCS_RGB, JCS_CMYK) with the given sampling of component 0.
void write_jpeg(const std::string& path, J_COLOR_SPACE space, int h_samp, int v_samp,
                bool progressive, int width, int height) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = space == JCS_GRAYSCALE ? 1 : space == JCS_CMYK ? 4 : 3;
  cinfo.in_color_space = space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 85, TRUE);
  cinfo.comp_info[0].h_samp_factor = h_samp;
  cinfo.comp_info[0].v_samp_factor = v_samp;
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<JSAMPLE> row(static_cast<std::size_t>(width) * cinfo.input_components);
  cv::RNG rng(7);
  while (cinfo.next_scanline < cinfo.image_height) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = static_cast<JSAMPLE>((i * 5 + cinfo.next_scanline * 3) % 256 ^ rng.uniform(0, 32));
    }
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

// camkit's result against OpenCV's decode of the same file, with camkit's contract applied to
// OpenCV's Mat: RGB order, alpha dropped, divided by the full scale.
void expect_same_as_opencv(const std::string& path) {
  const cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(m.empty()) << path;
  const camkit::Image im = camkit::read_image(path);
  const int channels = m.channels() == 1 ? 1 : 3;
  ASSERT_EQ(im.height, m.rows) << path;
  ASSERT_EQ(im.width, m.cols) << path;
  ASSERT_EQ(im.channels, channels) << path;
  const bool wide = m.depth() == CV_16U;
  ASSERT_EQ(im.bit_depth, wide ? 16 : 8) << path;
  const int order[3] = {channels == 3 ? 2 : 0, 1, 0};
  int wrong = 0;
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int i = x * m.channels() + order[c];
        const float v =
            wide ? m.ptr<std::uint16_t>(y)[i] / 65535.0f : m.ptr<std::uint8_t>(y)[i] / 255.0f;
        wrong += im.at(y, x, c) != v;
      }
    }
  }
  EXPECT_EQ(wrong, 0) << path;
}

TEST(CodecParity, PngEveryColourTypeAndDepth) {
  TempDir dir;
  const PngCase cases[] = {
      {"grey1", PNG_COLOR_TYPE_GRAY, 1, false, false},
      {"grey2", PNG_COLOR_TYPE_GRAY, 2, false, false},
      {"grey4", PNG_COLOR_TYPE_GRAY, 4, true, false},
      {"grey8", PNG_COLOR_TYPE_GRAY, 8, false, false},
      {"grey8_trns", PNG_COLOR_TYPE_GRAY, 8, false, true},
      {"grey16", PNG_COLOR_TYPE_GRAY, 16, true, false},
      {"grey_alpha8", PNG_COLOR_TYPE_GRAY_ALPHA, 8, false, false},
      {"grey_alpha16", PNG_COLOR_TYPE_GRAY_ALPHA, 16, false, false},
      {"palette1", PNG_COLOR_TYPE_PALETTE, 1, false, false},
      {"palette4", PNG_COLOR_TYPE_PALETTE, 4, false, true},
      {"palette8", PNG_COLOR_TYPE_PALETTE, 8, true, false},
      {"palette8_trns", PNG_COLOR_TYPE_PALETTE, 8, false, true},
      {"rgb8", PNG_COLOR_TYPE_RGB, 8, false, false},
      {"rgb8_trns", PNG_COLOR_TYPE_RGB, 8, true, true},
      {"rgb16", PNG_COLOR_TYPE_RGB, 16, false, false},
      {"rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8, true, false},
      {"rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, false, false},
  };
  for (const PngCase& c : cases) {
    const std::string path = dir.file(std::string(c.name) + ".png");
    write_png(path, c, 13, 9);
    expect_same_as_opencv(path);
  }
}

TEST(CodecParity, JpegColourSpacesSubsamplingProgressive) {
  TempDir dir;
  struct Case {
    const char* name;
    J_COLOR_SPACE space;
    int h, v;
    bool progressive;
  };
  const Case cases[] = {{"grey", JCS_GRAYSCALE, 1, 1, false},
                        {"grey_progressive", JCS_GRAYSCALE, 1, 1, true},
                        {"rgb444", JCS_RGB, 1, 1, false},
                        {"rgb420", JCS_RGB, 2, 2, false},
                        {"rgb422_progressive", JCS_RGB, 2, 1, true},
                        {"cmyk", JCS_CMYK, 1, 1, false}};
  for (const Case& c : cases) {
    const std::string path = dir.file(std::string(c.name) + ".jpg");
    write_jpeg(path, c.space, c.h, c.v, c.progressive, 37, 21);
    expect_same_as_opencv(path);
  }
}

}  // namespace
