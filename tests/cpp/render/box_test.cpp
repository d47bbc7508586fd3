// largest_component_box on hand-made maps with known answers, and draw_box.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "camkit/error.hpp"
#include "camkit/render.hpp"

namespace {

using camkit::Box;
using camkit::Map;

Map zeros(int h, int w) {
  return Map{h, w, std::vector<float>(static_cast<std::size_t>(h) * w)};
}

void set(Map& m, int y, int x, float v) {
  m.data[static_cast<std::size_t>(y) * m.width + x] = v;
}

void fill(Map& m, int y0, int y1, int x0, int x1, float v) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) set(m, y, x, v);
}

void expect_box(const std::optional<Box>& box, double x0, double y0, double x1, double y1) {
  ASSERT_TRUE(box.has_value());
  EXPECT_EQ(box->x0, x0);
  EXPECT_EQ(box->y0, y0);
  EXPECT_EQ(box->x1, x1);
  EXPECT_EQ(box->y1, y1);
}

TEST(RenderBox, SinglePixelUsesPixelEdges) {
  Map m = zeros(8, 6);
  set(m, 4, 3, 1.0f);
  expect_box(camkit::largest_component_box(m, 0.2f), 3, 4, 4, 5);
}

TEST(RenderBox, LargerBlobWinsOverHigherPeak) {
  Map m = zeros(10, 10);
  fill(m, 1, 4, 1, 4, 0.9f);  // 3x3, area 9
  fill(m, 6, 8, 6, 8, 0.5f);  // 2x2, area 4, holds the global max
  set(m, 7, 7, 1.0f);
  expect_box(camkit::largest_component_box(m, 0.2f), 1, 1, 4, 4);
}

TEST(RenderBox, AreaTieGoesToComponentWithGlobalMax) {
  Map m = zeros(10, 10);
  fill(m, 1, 3, 1, 3, 0.6f);  // first in raster order
  fill(m, 6, 8, 5, 7, 0.6f);
  set(m, 7, 6, 0.9f);
  expect_box(camkit::largest_component_box(m, 0.2f), 5, 6, 7, 8);
  set(m, 7, 6, 0.6f);
  set(m, 1, 1, 0.9f);
  expect_box(camkit::largest_component_box(m, 0.2f), 1, 1, 3, 3);
}

TEST(RenderBox, ThresholdIsInclusive) {
  Map m = zeros(3, 8);
  set(m, 1, 1, 1.0f);
  set(m, 1, 2, 0.2f);  // == 0.2 * max: in
  set(m, 1, 3, 0.2f);
  set(m, 1, 4, std::nextafter(0.2f, 0.0f));  // just below: out
  set(m, 1, 5, 0.5f);                        // in, but cut off from the rest
  expect_box(camkit::largest_component_box(m, 0.2f), 1, 1, 4, 2);
  // Threshold relative to the max: halve everything, same box.
  for (float& v : m.data) v *= 0.5f;
  expect_box(camkit::largest_component_box(m, 0.2f), 1, 1, 4, 2);
}

TEST(RenderBox, DiagonalNeighboursConnect) {  // 8-connectivity
  Map m = zeros(6, 6);
  for (int i = 1; i < 5; ++i) set(m, i, i, 1.0f);
  fill(m, 0, 2, 4, 6, 0.8f);  // a 2x2 blob, area 4 == the diagonal's
  expect_box(camkit::largest_component_box(m, 0.5f), 1, 1, 5, 5);
}

TEST(RenderBox, FullMap) {
  Map m = zeros(5, 7);
  for (float& v : m.data) v = 0.3f;
  expect_box(camkit::largest_component_box(m, 0.2f), 0, 0, 7, 5);
  // Threshold 0 keeps every pixel (display maps are >= 0).
  Map g = zeros(5, 7);
  set(g, 2, 2, 1.0f);
  expect_box(camkit::largest_component_box(g, 0.0f), 0, 0, 7, 5);
  // Threshold 1 keeps only the maximum.
  expect_box(camkit::largest_component_box(g, 1.0f), 2, 2, 3, 3);
}

TEST(RenderBox, NoBoxWithoutPositiveMax) {
  EXPECT_FALSE(camkit::largest_component_box(zeros(4, 4), 0.2f));
  Map neg = zeros(4, 4);
  for (float& v : neg.data) v = -1.0f;
  EXPECT_FALSE(camkit::largest_component_box(neg, 0.2f));
  EXPECT_FALSE(camkit::largest_component_box(Map{}, 0.2f));
}

TEST(RenderBox, IgnoresNaN) {
  Map m = zeros(4, 4);
  set(m, 0, 0, std::numeric_limits<float>::quiet_NaN());
  set(m, 2, 2, 1.0f);
  expect_box(camkit::largest_component_box(m, 0.2f), 2, 2, 3, 3);
}

TEST(RenderBox, RejectsBadArguments) {
  EXPECT_THROW(camkit::largest_component_box(zeros(2, 2), 1.5f), camkit::Error);
  EXPECT_THROW(camkit::largest_component_box(zeros(2, 2), -0.1f), camkit::Error);
  Map bad{3, 3, std::vector<float>(4)};
  try {
    camkit::largest_component_box(bad, 0.2f);
    FAIL() << "no throw";
  } catch (const camkit::Error& e) {
    EXPECT_EQ(e.code(), camkit::ErrorCode::usage);
  }
}

camkit::Rgb8 black(int h, int w) {
  return camkit::Rgb8{h, w, std::vector<std::uint8_t>(static_cast<std::size_t>(h) * w * 3)};
}

bool lit(const camkit::Rgb8& p, int y, int x) {
  return p.data[(static_cast<std::size_t>(y) * p.width + x) * 3] != 0;
}

TEST(RenderDrawBox, OutlineInsideTheBox) {
  camkit::Rgb8 p = black(10, 10);
  const std::uint8_t red[3] = {255, 0, 0};
  camkit::draw_box(p, Box{2, 3, 7, 8}, red, 1);
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x) {
      const bool inside = x >= 2 && x < 7 && y >= 3 && y < 8;
      const bool edge = inside && (x == 2 || x == 6 || y == 3 || y == 7);
      EXPECT_EQ(lit(p, y, x), edge) << x << "," << y;
    }
  }
  EXPECT_EQ(p.data[(3 * 10 + 2) * 3 + 1], 0);  // green stays 0: the colour is red
}

TEST(RenderDrawBox, ThicknessAndClipping) {
  camkit::Rgb8 p = black(10, 10);
  const std::uint8_t white[3] = {255, 255, 255};
  camkit::draw_box(p, Box{1, 1, 9, 9}, white, 2);
  EXPECT_TRUE(lit(p, 1, 1));
  EXPECT_TRUE(lit(p, 2, 5));
  EXPECT_FALSE(lit(p, 3, 5));
  EXPECT_TRUE(lit(p, 7, 5));
  EXPECT_FALSE(lit(p, 0, 0));
  camkit::Rgb8 q = black(10, 10);
  camkit::draw_box(q, Box{-5, -5, 4.4, 30}, white, 1);  // 4.4 snaps to edge 4
  EXPECT_TRUE(lit(q, 5, 3));
  EXPECT_FALSE(lit(q, 5, 4));
  EXPECT_FALSE(lit(q, 5, 0));  // the left edge lies outside the picture
  EXPECT_THROW(camkit::draw_box(q, Box{0, 0, 2, 2}, white, 0), camkit::Error);
}

}  // namespace
