// to_rgb8 and overlay: known pixel colours.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>

#include "camkit/error.hpp"
#include "camkit/render.hpp"

namespace {

using camkit::Colormap;
using camkit::Image;
using camkit::Map;
using camkit::Region;
using camkit::Rgb8;
using Rgb = std::array<int, 3>;

Rgb pixel(const Rgb8& p, int y, int x) {
  const std::size_t i = (static_cast<std::size_t>(y) * p.width + x) * 3;
  return {p.data[i], p.data[i + 1], p.data[i + 2]};
}

Rgb colour(Colormap map, float v) {
  std::uint8_t c[3];
  camkit::colormap_rgb(map, v, c);
  return {c[0], c[1], c[2]};
}

Rgb8 uniform(int h, int w, Rgb c) {
  Rgb8 p{h, w, std::vector<std::uint8_t>(static_cast<std::size_t>(h) * w * 3)};
  for (std::size_t i = 0; i < p.data.size(); ++i) p.data[i] = static_cast<std::uint8_t>(c[i % 3]);
  return p;
}

TEST(RenderToRgb8, EightBitKeepsSamples) {
  Image im{1, 2, 3, 8, {0.0f, 128 / 255.0f, 1.0f, 17 / 255.0f, 200 / 255.0f, 254 / 255.0f}};
  const Rgb8 p = camkit::to_rgb8(im);
  EXPECT_EQ(pixel(p, 0, 0), (Rgb{0, 128, 255}));
  EXPECT_EQ(pixel(p, 0, 1), (Rgb{17, 200, 254}));
}

// Colour images take a vectorised path: every sample, at any position (16 at a time and the
// tail), must round as the scalar rule does: round(clamp(v, 0, 1) * 255), NaN to 0.
TEST(RenderToRgb8, ColourSamplesRoundAsTheScalarRule) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> special = {
      0.0f, -0.0f, -1e-30f,    1e-30f,     1.0f, 1.0000001f,   0.99999994f,  nan,         inf, -inf,
      2.0f, -3.0f, 0.5f / 255, 1.5f / 255, 0.5f, 0.501960813f, 254.5f / 255, 127.5f / 255};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.1f, 1.1f);
  while (special.size() < 3 * 37) special.push_back(u(rng));  // 111 samples: 6 x 16 + 15
  for (int k = 0; k < 256; ++k) special.push_back(static_cast<float>(k) / 255.0f);
  while (special.size() % 3) special.push_back(0.25f);
  for (int depth : {8, 0}) {  // 8: samples as they are; 0: stretched min..max of the finite ones
    Image im;
    im.channels = 3;
    im.width = static_cast<int>(special.size() / 3);
    im.height = 1;
    im.bit_depth = depth;
    im.data = special;
    const Rgb8 out = camkit::to_rgb8(im);
    float lo = 0.0f, scale = 1.0f;
    if (depth == 0) {
      float mn = inf, mx = -inf;
      for (float v : special)
        if (std::isfinite(v)) mn = std::min(mn, v), mx = std::max(mx, v);
      lo = mn;
      scale = 1.0f / (mx - mn);
    }
    for (std::size_t i = 0; i < special.size(); ++i) {
      const float v = (special[i] - lo) * scale;
      const int want = !(v > 0.0f) ? 0 : v >= 1.0f ? 255 : static_cast<int>(v * 255.0f + 0.5f);
      ASSERT_EQ(out.data[i], want) << "sample " << i << " = " << special[i] << " depth " << depth;
    }
  }
}

TEST(RenderToRgb8, GreyReplicatedOrColourMapped) {
  Image im{1, 3, 1, 8, {0.0f, 100 / 255.0f, 1.0f}};
  const Rgb8 grey = camkit::to_rgb8(im);
  EXPECT_EQ(pixel(grey, 0, 1), (Rgb{100, 100, 100}));
  const Rgb8 bone = camkit::to_rgb8(im, Colormap::bone);
  EXPECT_EQ(pixel(bone, 0, 1), colour(Colormap::bone, 100 / 255.0f));
  EXPECT_EQ(pixel(bone, 0, 2), (Rgb{255, 255, 255}));
}

TEST(RenderToRgb8, SixteenBitAndFloatAreStretched) {
  Image im16{1, 3, 1, 16, {0.25f, 0.5f, 0.75f}};
  const Rgb8 p = camkit::to_rgb8(im16);
  EXPECT_EQ(pixel(p, 0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(pixel(p, 0, 1), (Rgb{128, 128, 128}));  // 127.5 rounds up
  EXPECT_EQ(pixel(p, 0, 2), (Rgb{255, 255, 255}));
  // Float RGB: one stretch over all channels keeps the colour balance.
  Image f{1, 2, 3, 0, {-2.0f, 0.0f, 2.0f, 2.0f, 2.0f, 2.0f}};
  const Rgb8 q = camkit::to_rgb8(f);
  EXPECT_EQ(pixel(q, 0, 0), (Rgb{0, 128, 255}));
  EXPECT_EQ(pixel(q, 0, 1), (Rgb{255, 255, 255}));
  Image flat{2, 2, 1, 0, {5.0f, 5.0f, 5.0f, 5.0f}};
  EXPECT_EQ(pixel(camkit::to_rgb8(flat), 1, 1), (Rgb{0, 0, 0}));
}

TEST(RenderToRgb8, OtherChannelCountsShowTheFirstChannel) {
  Image two{1, 2, 2, 8, {1.0f, 0.0f, 0.0f, 1.0f}};
  const Rgb8 p = camkit::to_rgb8(two);
  EXPECT_EQ(pixel(p, 0, 0), (Rgb{255, 255, 255}));
  EXPECT_EQ(pixel(p, 0, 1), (Rgb{0, 0, 0}));
  Image four{1, 1, 4, 0, {3.0f, 0.0f, 0.0f, 0.0f}};
  EXPECT_EQ(camkit::to_rgb8(four).data.size(), 3u);
  EXPECT_THROW(camkit::to_rgb8(Image{2, 2, 3, 8, std::vector<float>(5)}), camkit::Error);
  EXPECT_THROW(camkit::to_rgb8(Image{1, 1, 0, 8, {}}), camkit::Error);
}

TEST(RenderOverlay, AlphaZeroOneAndHalf) {
  const Rgb8 base = uniform(4, 5, {100, 150, 200});
  const Map ones{2, 2, {1.0f, 1.0f, 1.0f, 1.0f}};
  const Region all{0, 0, 5, 4};
  EXPECT_EQ(camkit::overlay(base, ones, all, Colormap::viridis, 0.0f).data, base.data);
  const Rgb8 full = camkit::overlay(base, ones, all, Colormap::viridis, 1.0f);
  EXPECT_EQ(pixel(full, 3, 4), (Rgb{253, 231, 37}));
  const Rgb8 half = camkit::overlay(base, ones, all, Colormap::viridis, 0.5f);
  EXPECT_EQ(pixel(half, 2, 2), (Rgb{177, 191, 119}));  // (x + y) / 2 = .5 rounds up
  const Rgb8 quarter = camkit::overlay(base, ones, all, Colormap::viridis, 0.25f);
  EXPECT_EQ(pixel(quarter, 0, 0), (Rgb{138, 170, 159}));  // 138.25, 170.25, 159.25
}

TEST(RenderOverlay, RegionSmallerThanPicture) {
  const Rgb8 base = uniform(8, 10, {10, 20, 30});
  const Map ramp{2, 2, {0.0f, 1.0f, 0.0f, 1.0f}};  // 0 on the left, 1 on the right
  const Rgb8 out = camkit::overlay(base, ramp, Region{2, 1, 6, 5}, Colormap::gray, 1.0f);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 10; ++x) {
      if (x < 2 || x >= 6 || y < 1 || y >= 5) {
        EXPECT_EQ(pixel(out, y, x), (Rgb{10, 20, 30}));
      }
    }
  }
  // Map columns at 0.5 picture px per map px: centres read src -0.25 (clamped), 0.25, 0.75, 1.25.
  EXPECT_EQ(pixel(out, 1, 2), (Rgb{0, 0, 0}));
  EXPECT_EQ(pixel(out, 2, 3), (Rgb{64, 64, 64}));     // 0.25 * 255 = 63.75
  EXPECT_EQ(pixel(out, 3, 4), (Rgb{191, 191, 191}));  // 191.25
  EXPECT_EQ(pixel(out, 4, 5), (Rgb{255, 255, 255}));
}

TEST(RenderOverlay, FractionalRegionCoversPixelsByCentre) {
  const Rgb8 base = uniform(3, 8, {0, 0, 0});
  const Map one{1, 1, {1.0f}};
  const Rgb8 out = camkit::overlay(base, one, Region{1.5, 0, 4.5, 3}, Colormap::gray, 1.0f);
  // Centres 1.5, 2.5, 3.5 lie in [1.5, 4.5); 0.5 and 4.5 do not.
  EXPECT_EQ(pixel(out, 1, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(pixel(out, 1, 1), (Rgb{255, 255, 255}));
  EXPECT_EQ(pixel(out, 1, 3), (Rgb{255, 255, 255}));
  EXPECT_EQ(pixel(out, 1, 4), (Rgb{0, 0, 0}));
}

TEST(RenderOverlay, RegionBeyondThePictureIsClipped) {
  const Rgb8 base = uniform(4, 4, {9, 9, 9});
  const Map one{1, 1, {1.0f}};
  const Rgb8 out = camkit::overlay(base, one, Region{-10, -10, 50, 50}, Colormap::gray, 1.0f);
  EXPECT_EQ(out.data, std::vector<std::uint8_t>(48, 255));
  const Rgb8 off = camkit::overlay(base, one, Region{5, 5, 9, 9}, Colormap::gray, 1.0f);
  EXPECT_EQ(off.data, base.data);
  const Rgb8 flat = camkit::overlay(base, one, Region{1, 1, 1, 3}, Colormap::gray, 1.0f);
  EXPECT_EQ(flat.data, base.data);
  // Extreme coordinates stay defined: a huge region, a sliver, infinities, NaN.
  const Map ramp{1, 2, {0.0f, 1.0f}};
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(camkit::overlay(base, ramp, Region{-1e300, -1e300, 1e300, 1e300}, Colormap::gray, 1)
                .data.size(),
            48u);
  EXPECT_EQ(camkit::overlay(base, ramp, Region{0, 0, 1e-300, 4}, Colormap::gray, 1).data,
            base.data);
  EXPECT_EQ(camkit::overlay(base, ramp, Region{-inf, 0, inf, 4}, Colormap::gray, 1).data.size(),
            48u);
  EXPECT_EQ(camkit::overlay(base, ramp, Region{NAN, 0, 4, 4}, Colormap::gray, 1).data, base.data);
}

// With the region = the whole picture, an overlay is the colour-mapped upsampled map.
TEST(RenderOverlay, WholePictureEqualsUpsampleThenColormap) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Map m{7, 7, std::vector<float>(49)};
  for (float& v : m.data) v = u(rng);
  const int h = 40, w = 53;
  const Rgb8 out = camkit::overlay(uniform(h, w, {0, 0, 0}), m, Region{0, 0, double(w), double(h)},
                                   Colormap::jet, 1.0f);
  const Map up = camkit::upsample_bilinear(m, h, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) ASSERT_EQ(pixel(out, y, x), colour(Colormap::jet, up.at(y, x)));
}

TEST(RenderOverlay, RejectsAlphaOutsideZeroOne) {
  const Rgb8 base = uniform(2, 2, {0, 0, 0});
  const Map one{1, 1, {1.0f}};
  for (float a : {-0.1f, 1.1f, std::numeric_limits<float>::quiet_NaN()}) {
    try {
      camkit::overlay(base, one, Region{0, 0, 2, 2}, Colormap::jet, a);
      FAIL() << "alpha " << a << " accepted";
    } catch (const camkit::Error& e) {
      EXPECT_EQ(e.code(), camkit::ErrorCode::usage);
    }
  }
}

TEST(RenderDisplayMap, ConstantAndNaNMapsGiveZerosNotNaN) {
  const Map flat{3, 3, std::vector<float>(9, 2.5f)};
  for (float v : camkit::display_map(flat, 10, 10, true).data) EXPECT_EQ(v, 0.0f);
  Map holes{
      3,
      3,
      {0.0f, 1.0f, 2.0f, 3.0f, std::numeric_limits<float>::quiet_NaN(), 5.0f, 6.0f, 7.0f, 8.0f}};
  for (bool relu : {true, false}) {
    const Map d = camkit::display_map(holes, 9, 9, relu);
    for (float v : d.data) EXPECT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  }
  Map inf{1, 3, {0.0f, std::numeric_limits<float>::infinity(), 2.0f}};
  camkit::normalize_minmax(inf);
  EXPECT_EQ(inf.data, (std::vector<float>{0.0f, 1.0f, 1.0f}));
  EXPECT_THROW(camkit::upsample_bilinear(Map{}, 4, 4), camkit::Error);
  EXPECT_THROW(camkit::upsample_bilinear(flat, 0, 4), camkit::Error);
}

}  // namespace
