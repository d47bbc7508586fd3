// resize_bilinear_antialias: hand-checked PIL cases and properties; the bulk comparison with PIL
// lives in reference_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <vector>

#include "camkit/error.hpp"
#include "camkit/preprocess.hpp"

namespace {

camkit::Image grey_row(const std::vector<int>& levels) {
  camkit::Image im;
  im.height = 1;
  im.width = static_cast<int>(levels.size());
  im.channels = 1;
  im.bit_depth = 8;
  for (int v : levels) im.data.push_back(static_cast<float>(v) / 255.0f);
  return im;
}

std::vector<int> levels(const camkit::Image& im) {
  std::vector<int> out;
  for (float v : im.data) out.push_back(static_cast<int>(std::lround(v * 255.0f)));
  return out;
}

camkit::Image noise_rgb(int height, int width, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> level(0, 255);
  camkit::Image im;
  im.height = height;
  im.width = width;
  im.channels = 3;
  im.bit_depth = 8;
  im.data.resize(static_cast<std::size_t>(height) * width * 3);
  for (float& v : im.data) v = static_cast<float>(level(rng)) / 255.0f;
  return im;
}

// Values printed by Pillow 9.4: Image.fromarray(uint8 [[0,255,0,255]]).resize((2,1), BILINEAR).
// Shrinking by 2 widens the triangle to 2 pixels; the tap windows are [0,3) and [1,4).
// 8-bit images enter PIL's resampler as grey levels lround(v * 255) clamped to 0..255, through
// a vectorised conversion: every value, at any position, as lround. A resize to the same size
// skips both passes and returns exactly the levels / 255.
TEST(PreprocessResample, GreyLevelsRoundAsLround) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f,
                          -0.0f,
                          -1e-30f,
                          nan,
                          inf,
                          -inf,
                          1.0f,
                          1.5f,
                          -0.5f,
                          std::nextafter(0.5f / 255, 0.0f),
                          0.5f / 255,
                          254.5f / 255,
                          std::nextafter(254.5f / 255, 1.0f),
                          0.49999997f / 255};
  for (int k = 0; k <= 255; ++k) {
    v.push_back(static_cast<float>(k) / 255.0f);
    v.push_back((static_cast<float>(k) + 0.5f) / 255.0f);
    v.push_back(std::nextafter((static_cast<float>(k) + 0.5f) / 255.0f, 0.0f));
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-0.2f, 1.2f);
  while (v.size() % 16 != 5) v.push_back(u(rng));  // a tail after the blocks of 16
  camkit::Image im;
  im.height = 1;
  im.width = static_cast<int>(v.size());
  im.channels = 1;
  im.bit_depth = 8;
  im.data = v;
  const camkit::Image out = camkit::resize_bilinear_antialias(im, 1, im.width, true);
  ASSERT_EQ(out.data.size(), v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float x = v[i] * 255.0f;
    const long want = !(x >= 0.0f) ? 0 : x >= 255.0f ? 255 : std::lround(x);
    ASSERT_EQ(out.data[i], static_cast<float>(want) / 255.0f) << "sample " << i << " = " << v[i];
  }
}

TEST(PreprocessResample, ShrinkMatchesPilByHand) {
  const camkit::Image out =
      camkit::resize_bilinear_antialias(grey_row({0, 255, 0, 255}), 1, 2, true);
  EXPECT_EQ(levels(out), (std::vector<int>{109, 146}));
}

// [[0,255]] -> 5 wide gives [0, 25, 128, 230, 255] in PIL. 255 * 0.1 = 25.5 comes out as 25
// only with PIL's 22-bit fixed-point weights; rounding in floating point would give 26.
TEST(PreprocessResample, EnlargeUsesPilFixedPoint) {
  const camkit::Image out = camkit::resize_bilinear_antialias(grey_row({0, 255}), 1, 5, true);
  EXPECT_EQ(levels(out), (std::vector<int>{0, 25, 128, 230, 255}));
}

TEST(PreprocessResample, FloatPathKeepsFractions) {
  camkit::Image im = grey_row({0, 255});
  im.bit_depth = 0;
  im.data = {0.0f, 1.0f};
  const camkit::Image out = camkit::resize_bilinear_antialias(im, 1, 5, false);
  EXPECT_EQ(out.bit_depth, 0);
  ASSERT_EQ(out.data.size(), 5u);
  EXPECT_FLOAT_EQ(out.data[1], 0.1f);
  EXPECT_FLOAT_EQ(out.data[2], 0.5f);
}

TEST(PreprocessResample, ConstantImagesStayConstant) {
  for (bool eight_bit : {true, false}) {
    camkit::Image im = noise_rgb(37, 53, 1);
    std::fill(im.data.begin(), im.data.end(), 173.0f / 255.0f);
    im.bit_depth = eight_bit ? 8 : 0;
    for (auto [h, w] : {std::pair{10, 13}, std::pair{80, 101}, std::pair{37, 5}, std::pair{1, 1}}) {
      const camkit::Image out = camkit::resize_bilinear_antialias(im, h, w, eight_bit);
      ASSERT_EQ(out.height, h);
      ASSERT_EQ(out.width, w);
      ASSERT_EQ(out.channels, 3);
      for (float v : out.data) ASSERT_NEAR(v, 173.0f / 255.0f, 1e-6f);
    }
  }
}

TEST(PreprocessResample, SameSizeIsIdentity) {
  const camkit::Image im = noise_rgb(19, 23, 2);
  const camkit::Image out = camkit::resize_bilinear_antialias(im, 19, 23, true);
  EXPECT_EQ(out.data, im.data);
}

TEST(PreprocessResample, RejectsBadSizesAndImages) {
  const camkit::Image im = noise_rgb(4, 4, 3);
  try {
    camkit::resize_bilinear_antialias(im, 0, 4, true);
    FAIL() << "expected an error";
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::usage);
  }
  camkit::Image broken = im;
  broken.data.pop_back();
  EXPECT_THROW(camkit::resize_bilinear_antialias(broken, 2, 2, true), camkit::Error);
}

// Why the port exists: OpenCV's bilinear resize is neither antialiased nor rounded per pass, so it
// lands far from PIL (and so from what the model was trained on) when shrinking.
TEST(PreprocessResample, OpenCvLinearDoesNotMatchPil) {
  const camkit::Image im = noise_rgb(200, 300, 4);
  const camkit::Image ours = camkit::resize_bilinear_antialias(im, 85, 128, true);
  cv::Mat src(im.height, im.width, CV_32FC3, const_cast<float*>(im.data.data()));
  cv::Mat dst;
  cv::resize(src, dst, cv::Size(128, 85), 0, 0, cv::INTER_LINEAR);
  double worst = 0;
  for (int y = 0; y < 85; ++y) {
    for (int x = 0; x < 128 * 3; ++x) {
      worst = std::max(worst, 255.0 * std::fabs(dst.ptr<float>(y)[x] - ours.data[y * 128 * 3 + x]));
    }
  }
  EXPECT_GT(worst, 20.0) << "cv::resize INTER_LINEAR unexpectedly close to PIL";
}

}  // namespace
