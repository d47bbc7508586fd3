// The slice mosaics of a 3-D input (docs/volumes3d.md, docs/report.md): every plane of the
// volume across one axis as a tile of one picture, and the same tiles with a class's display
// map blended in at full strength, so that the report's three-plane viewer draws any slice
// with one drawImage of a picture it has already loaded.
#pragma once

#include <functional>
#include <optional>

#include "camkit/render.hpp"
#include "camkit/volume.hpp"

namespace camkit::pipeline {

/// Where the tiles of the planes across `axis` lie: tile k (0-based plane index) at column
/// k % columns, row k / columns, each tile_width x tile_height pixels.
struct MosaicGrid {
  int axis = 0;  ///< 0: planes of constant d (h x w); 1: constant h (d x w); 2: constant w (d x h)
  int slices = 0;  ///< planes across the axis
  int columns = 1, rows = 1;
  int tile_width = 0, tile_height = 0;
};

/// The tiles are the planes shrunk so that the longer side is at most `max_side` and the whole
/// mosaic holds at most `max_pixels` pixels (a browser decodes it at once).
MosaicGrid mosaic_grid(int depth, int height, int width, int axis, int max_side,
                       long long max_pixels);

/// The planes of `volume` across grid.axis as tiles, at the grid's tile size: 8-bit samples as
/// they are, other samples stretched from the volume's minimum to its maximum (one scale for
/// every plane, so a grey level means the same value on every tile), grey through `grey_map`.
std::vector<Rgb8> volume_tiles(const Volume& volume, const MosaicGrid& grid,
                               std::optional<Colormap> grey_map);

/// The tiles with the display map of plane k (`plane(k)`, a 2-D map) drawn over tile k inside
/// `region` (tile pixels) at alpha 1: outside the region the tile keeps the input's pixels.
std::vector<Rgb8> heat_tiles(const std::vector<Rgb8>& tiles, const std::function<Map(int)>& plane,
                             const Region& region, Colormap colormap);

/// The tiles as one picture; cells past the last tile are black.
Rgb8 assemble_mosaic(const std::vector<Rgb8>& tiles, const MosaicGrid& grid);

}  // namespace camkit::pipeline
