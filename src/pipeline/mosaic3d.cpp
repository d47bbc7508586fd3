// Slice mosaics of 3-D inputs: see mosaic3d.hpp.
#include "pipeline/mosaic3d.hpp"

#include <algorithm>
#include <cmath>

#include "camkit/error.hpp"

namespace camkit::pipeline {

MosaicGrid mosaic_grid(int depth, int height, int width, int axis, int max_side,
                       long long max_pixels) {
  const int sizes[3] = {depth, height, width};
  MosaicGrid g;
  g.axis = axis;
  g.slices = sizes[axis];
  // Plane rows and columns as volume_plane and map_plane give them: (h, w), (d, w), (d, h).
  const int rows = axis == 0 ? height : depth;
  const int cols = axis == 2 ? height : width;
  double scale = std::min(1.0, static_cast<double>(max_side) / std::max(rows, cols));
  const double pixels = static_cast<double>(rows) * cols * g.slices * scale * scale;
  if (pixels > static_cast<double>(max_pixels)) scale *= std::sqrt(max_pixels / pixels);
  // As shrink_to_fit rounds, so that the tiles it makes have exactly the grid's size.
  g.tile_height = std::max(1, static_cast<int>(std::lround(rows * scale)));
  g.tile_width = std::max(1, static_cast<int>(std::lround(cols * scale)));
  // Near-square mosaics: browsers and PNG decoders handle them better than long strips.
  g.columns = std::max(1, static_cast<int>(std::ceil(std::sqrt(static_cast<double>(g.slices) *
                                                               g.tile_height / g.tile_width))));
  g.columns = std::min(g.columns, g.slices);
  g.rows = (g.slices + g.columns - 1) / g.columns;
  return g;
}

namespace {

// A tile of exactly the grid's size (INTER_AREA when shrinking, as shrink_to_fit does).
Rgb8 fit(const Rgb8& picture, const MosaicGrid& g) {
  if (picture.width == g.tile_width && picture.height == g.tile_height) return picture;
  Rgb8 out = shrink_to_fit(picture, std::max(g.tile_width, g.tile_height));
  if (out.width == g.tile_width && out.height == g.tile_height) return out;
  // A rounding difference of one pixel: nearest sampling to the grid's size.
  Rgb8 exact;
  exact.width = g.tile_width;
  exact.height = g.tile_height;
  exact.data.resize(static_cast<std::size_t>(exact.width) * exact.height * 3);
  for (int y = 0; y < exact.height; ++y)
    for (int x = 0; x < exact.width; ++x) {
      const int sy = std::min(out.height - 1, y * out.height / exact.height);
      const int sx = std::min(out.width - 1, x * out.width / exact.width);
      for (int c = 0; c < 3; ++c)
        exact.data[(static_cast<std::size_t>(y) * exact.width + x) * 3 + c] =
            out.data[(static_cast<std::size_t>(sy) * out.width + sx) * 3 + c];
    }
  return exact;
}

}  // namespace

std::vector<Rgb8> volume_tiles(const Volume& volume, const MosaicGrid& grid,
                               std::optional<Colormap> grey_map) {
  float lo = 0, hi = 1;
  const bool stretch = volume.bit_depth != 8;
  if (stretch && !volume.data.empty()) {
    const auto [mn, mx] = std::minmax_element(volume.data.begin(), volume.data.end());
    lo = *mn;
    hi = *mx;
  }
  std::vector<Rgb8> tiles;
  tiles.reserve(static_cast<std::size_t>(grid.slices));
  for (int k = 0; k < grid.slices; ++k) {
    Image plane = volume_plane(volume, grid.axis, k);
    if (stretch) {
      // One scale for the volume; as 8-bit samples to_rgb8 keeps them (a constant volume: 0).
      for (float& v : plane.data) v = hi > lo ? (v - lo) / (hi - lo) : 0.f;
      plane.bit_depth = 8;
    }
    tiles.push_back(fit(to_rgb8(plane, plane.channels == 3 ? std::nullopt : grey_map), grid));
  }
  return tiles;
}

std::vector<Rgb8> heat_tiles(const std::vector<Rgb8>& tiles, const std::function<Map(int)>& plane,
                             const Region& region, Colormap colormap) {
  std::vector<Rgb8> out;
  out.reserve(tiles.size());
  for (std::size_t k = 0; k < tiles.size(); ++k)
    out.push_back(overlay(tiles[k], plane(static_cast<int>(k)), region, colormap, 1.0f));
  return out;
}

Rgb8 assemble_mosaic(const std::vector<Rgb8>& tiles, const MosaicGrid& g) {
  if (static_cast<int>(tiles.size()) != g.slices)
    throw Error(ErrorCode::usage, "assemble_mosaic: tile count does not match the grid");
  Rgb8 m;
  m.width = g.columns * g.tile_width;
  m.height = g.rows * g.tile_height;
  m.data.assign(static_cast<std::size_t>(m.width) * m.height * 3, 0);
  const std::size_t row_bytes = static_cast<std::size_t>(g.tile_width) * 3;
  for (int k = 0; k < g.slices; ++k) {
    const Rgb8& t = tiles[static_cast<std::size_t>(k)];
    const int x0 = (k % g.columns) * g.tile_width, y0 = (k / g.columns) * g.tile_height;
    for (int y = 0; y < g.tile_height; ++y)
      std::copy_n(t.data.begin() + static_cast<std::ptrdiff_t>(y * row_bytes), row_bytes,
                  m.data.begin() + static_cast<std::ptrdiff_t>(
                                       (static_cast<std::size_t>(y0 + y) * m.width + x0) * 3));
  }
  return m;
}

}  // namespace camkit::pipeline
