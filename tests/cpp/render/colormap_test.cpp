// Colormap names, clamping, and table entries against published values and matplotlib's
// segment data (recomputed here independently of the generated tables).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "camkit/render.hpp"

namespace {

using camkit::Colormap;
using Rgb = std::array<int, 3>;

Rgb rgb_of(Colormap map, float v) {
  std::uint8_t c[3];
  camkit::colormap_rgb(map, v, c);
  return {c[0], c[1], c[2]};
}

Rgb entry(Colormap map, int i) {
  return rgb_of(map, i / 255.0f);
}

TEST(RenderColormap, NamesRoundTrip) {
  for (Colormap map : {Colormap::jet, Colormap::turbo, Colormap::inferno, Colormap::viridis,
                       Colormap::bone, Colormap::gray}) {
    EXPECT_EQ(camkit::parse_colormap(camkit::colormap_name(map)), map);
  }
  EXPECT_EQ(camkit::colormap_name(Colormap::viridis), "viridis");
  EXPECT_FALSE(camkit::parse_colormap("hot"));
  EXPECT_FALSE(camkit::parse_colormap(""));
  EXPECT_FALSE(camkit::parse_colormap("JET"));
}

// Published 8-bit values: viridis #440154 .. #21918c .. #fde725; Google's turbo_srgb_bytes
// first and last entries; inferno's first/last rows of matplotlib's table, rounded.
TEST(RenderColormap, KnownEntries) {
  EXPECT_EQ(entry(Colormap::viridis, 0), (Rgb{68, 1, 84}));
  EXPECT_EQ(entry(Colormap::viridis, 128), (Rgb{33, 145, 140}));
  EXPECT_EQ(entry(Colormap::viridis, 255), (Rgb{253, 231, 37}));
  EXPECT_EQ(entry(Colormap::turbo, 0), (Rgb{48, 18, 59}));
  EXPECT_EQ(entry(Colormap::turbo, 255), (Rgb{122, 4, 3}));
  EXPECT_EQ(entry(Colormap::inferno, 0), (Rgb{0, 0, 4}));
  EXPECT_EQ(entry(Colormap::inferno, 255), (Rgb{252, 255, 164}));
  EXPECT_EQ(entry(Colormap::jet, 0), (Rgb{0, 0, 128}));  // matplotlib: 0.5 blue
  EXPECT_EQ(entry(Colormap::jet, 255), (Rgb{128, 0, 0}));
  EXPECT_EQ(entry(Colormap::bone, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(entry(Colormap::bone, 255), (Rgb{255, 255, 255}));
}

TEST(RenderColormap, GrayIsIdentity) {
  for (int i = 0; i < 256; ++i) EXPECT_EQ(entry(Colormap::gray, i), (Rgb{i, i, i}));
}

TEST(RenderColormap, ValueToIndexRoundsAndClamps) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(rgb_of(Colormap::gray, -3.0f), (Rgb{0, 0, 0}));
  EXPECT_EQ(rgb_of(Colormap::gray, nan), (Rgb{0, 0, 0}));
  EXPECT_EQ(rgb_of(Colormap::gray, 7.0f), (Rgb{255, 255, 255}));
  EXPECT_EQ(rgb_of(Colormap::gray, 0.5f), (Rgb{128, 128, 128}));  // round(127.5)
  EXPECT_EQ(rgb_of(Colormap::gray, 0.2f), (Rgb{51, 51, 51}));
  EXPECT_EQ(rgb_of(Colormap::gray, 1.4f / 255.0f), (Rgb{1, 1, 1}));
  EXPECT_EQ(rgb_of(Colormap::gray, 1.6f / 255.0f), (Rgb{2, 2, 2}));
}

// matplotlib's LinearSegmentedColormap sampling (colors._create_lookup_table, N=256, gamma 1)
// of segment data (x, y0, y1), rounded to bytes.
struct Point {
  double x, y0, y1;
};

// The colour level y * 255 (not yet rounded) at entry i.
double segment(const std::vector<Point>& pts, int i) {
  const double x = i / 255.0;
  double y = pts.back().y0;
  if (i == 0) y = pts.front().y1;
  for (std::size_t k = 1; k < pts.size() && i > 0 && i < 255; ++k) {
    if (x <= pts[k].x) {  // numpy.searchsorted(side='left')
      const double t = (x - pts[k - 1].x) / (pts[k].x - pts[k - 1].x);
      y = t * (pts[k].y0 - pts[k - 1].y1) + pts[k - 1].y1;
      break;
    }
  }
  return y * 255.0;
}

void expect_segments(Colormap map, const std::vector<Point>& r, const std::vector<Point>& g,
                     const std::vector<Point>& b) {
  for (int i = 0; i < 256; ++i) {
    const double want[3] = {segment(r, i), segment(g, i), segment(b, i)};
    const Rgb got = entry(map, i);
    for (int c = 0; c < 3; ++c) {
      // Exact rounding, except at a .5 tie (jet's slopes of 4 make many: 4i - 127.5), where
      // float noise in matplotlib's own arithmetic decides and either neighbour is right.
      const double frac = want[c] - std::floor(want[c]);
      if (std::abs(frac - 0.5) < 1e-6) {
        EXPECT_TRUE(got[c] == std::floor(want[c]) || got[c] == std::ceil(want[c]))
            << camkit::colormap_name(map) << "[" << i << "]";
      } else {
        EXPECT_EQ(got[c], std::floor(want[c] + 0.5))
            << camkit::colormap_name(map) << "[" << i << "]";
      }
    }
  }
}

TEST(RenderColormap, JetIsMatplotlibs) {  // matplotlib _cm._jet_data
  expect_segments(Colormap::jet,
                  {{0, 0, 0}, {0.35, 0, 0}, {0.66, 1, 1}, {0.89, 1, 1}, {1, 0.5, 0.5}},
                  {{0, 0, 0}, {0.125, 0, 0}, {0.375, 1, 1}, {0.64, 1, 1}, {0.91, 0, 0}, {1, 0, 0}},
                  {{0, 0.5, 0.5}, {0.11, 1, 1}, {0.34, 1, 1}, {0.65, 0, 0}, {1, 0, 0}});
}

TEST(RenderColormap, BoneIsMatplotlibs) {  // matplotlib _cm._bone_data
  expect_segments(
      Colormap::bone, {{0, 0, 0}, {0.746032, 0.652778, 0.652778}, {1, 1, 1}},
      {{0, 0, 0}, {0.365079, 0.319444, 0.319444}, {0.746032, 0.777778, 0.777778}, {1, 1, 1}},
      {{0, 0, 0}, {0.365079, 0.444444, 0.444444}, {1, 1, 1}});
}

// Perceptually uniform maps get brighter monotonically (a sanity check on table order).
TEST(RenderColormap, SequentialMapsBrighten) {
  for (Colormap map : {Colormap::viridis, Colormap::inferno, Colormap::bone, Colormap::gray}) {
    double last = -1;
    for (int i = 0; i < 256; ++i) {
      const Rgb c = entry(map, i);
      const double luma = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
      EXPECT_GE(luma, last - 1.0) << camkit::colormap_name(map) << "[" << i << "]";
      last = luma;
    }
  }
}

}  // namespace
