// largest_component_box, map_plane and upsample_trilinear on hand-made 3-D maps.
#include <gtest/gtest.h>

#include "camkit/error.hpp"
#include "camkit/render.hpp"

namespace {

using camkit::Map;

Map zeros(int d, int h, int w) {
  Map m;
  m.depth = d;
  m.height = h;
  m.width = w;
  m.data.assign(static_cast<std::size_t>(d) * h * w, 0.0f);
  return m;
}

void set(Map& m, int z, int y, int x, float v) {
  m.data[(static_cast<std::size_t>(z) * m.height + y) * m.width + x] = v;
}

TEST(RenderBox3d, LoneVoxelUsesVoxelEdges) {
  Map m = zeros(5, 4, 6);
  set(m, 3, 1, 2, 1.0f);
  const auto box = camkit::largest_component_box(m, 0.2f);
  ASSERT_TRUE(box);
  EXPECT_EQ(box->z0, 3);
  EXPECT_EQ(box->z1, 4);
  EXPECT_EQ(box->y0, 1);
  EXPECT_EQ(box->y1, 2);
  EXPECT_EQ(box->x0, 2);
  EXPECT_EQ(box->x1, 3);
}

TEST(RenderBox3d, CornerNeighboursAcrossPlanesAreConnected) {
  // Three voxels touching only at corners through the planes: one 26-connected component,
  // larger than a pair of voxels elsewhere.
  Map m = zeros(4, 6, 6);
  set(m, 0, 0, 0, 1.0f);
  set(m, 1, 1, 1, 1.0f);
  set(m, 2, 2, 2, 1.0f);
  set(m, 0, 5, 4, 1.0f);
  set(m, 0, 5, 5, 1.0f);
  const auto box = camkit::largest_component_box(m, 0.5f);
  ASSERT_TRUE(box);
  EXPECT_EQ(box->z0, 0);
  EXPECT_EQ(box->z1, 3);
  EXPECT_EQ(box->x0, 0);
  EXPECT_EQ(box->x1, 3);
}

TEST(RenderBox3d, TwoDimensionalBoxesSpanTheUnitDepth) {
  Map m{4, 4, std::vector<float>(16, 0.0f)};
  m.data[5] = 1.0f;
  const auto box = camkit::largest_component_box(m, 0.2f);
  ASSERT_TRUE(box);
  EXPECT_EQ(box->z0, 0);
  EXPECT_EQ(box->z1, 1);
}

TEST(RenderPlanes, PlanesKeepTheOtherAxesInOrder) {
  Map m = zeros(2, 3, 4);
  for (std::size_t i = 0; i < m.data.size(); ++i) m.data[i] = static_cast<float>(i);
  const Map a = camkit::map_plane(m, 0, 1);  // h x w at z 1
  EXPECT_EQ(a.height, 3);
  EXPECT_EQ(a.width, 4);
  EXPECT_EQ(a.at(2, 3), m.at(1, 2, 3));
  const Map b = camkit::map_plane(m, 1, 2);  // d x w at y 2
  EXPECT_EQ(b.height, 2);
  EXPECT_EQ(b.width, 4);
  EXPECT_EQ(b.at(1, 3), m.at(1, 2, 3));
  const Map c = camkit::map_plane(m, 2, 3);  // d x h at x 3
  EXPECT_EQ(c.height, 2);
  EXPECT_EQ(c.width, 3);
  EXPECT_EQ(c.at(1, 2), m.at(1, 2, 3));
  EXPECT_THROW(camkit::map_plane(m, 0, 2), camkit::Error);
  EXPECT_THROW(camkit::map_plane(m, 3, 0), camkit::Error);
}

TEST(RenderUpsample3d, DepthIsInterpolatedWithPixelCentres) {
  // Two planes of constant 0 and 1 to four planes: centres at 0.25 .. 1.75 of the input's
  // two, so the planes are 0, 0.25, 0.75, 1 (torch interpolate, align_corners=False).
  Map m = zeros(2, 1, 1);
  m.data = {0.0f, 1.0f};
  const Map up = camkit::upsample_trilinear(m, 4, 2, 3);
  ASSERT_EQ(up.depth, 4);
  const float want[4] = {0.0f, 0.25f, 0.75f, 1.0f};
  for (int z = 0; z < 4; ++z)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) EXPECT_FLOAT_EQ(up.at(z, y, x), want[z]);
  EXPECT_THROW(camkit::upsample_trilinear(m, 0, 2, 3), camkit::Error);
}

}  // namespace
