// Planes of 3-D maps: what the three slice views of a volume show.
#include <string>

#include "camkit/error.hpp"
#include "camkit/render.hpp"
#include "render/detail.hpp"

namespace camkit {

Map map_plane(const Map& volume, int axis, int index) {
  render_detail::check_map(volume, "map_plane");
  const int sizes[3] = {volume.depth, volume.height, volume.width};
  if (axis < 0 || axis > 2 || index < 0 || index >= sizes[axis]) {
    throw Error(ErrorCode::usage, "map_plane: plane " + std::to_string(index) + " of axis " +
                                      std::to_string(axis) + " is outside the map");
  }
  // The plane keeps the other two axes in their order: rows are the earlier one.
  const int rows = axis == 0 ? volume.height : volume.depth;
  const int cols = axis == 2 ? volume.height : volume.width;
  Map plane;
  plane.height = rows;
  plane.width = cols;
  plane.data.resize(static_cast<std::size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int z = axis == 0 ? index : r;
      const int y = axis == 1 ? index : (axis == 0 ? r : c);
      const int x = axis == 2 ? index : c;
      plane.data[static_cast<std::size_t>(r) * cols + c] = volume.at(z, y, x);
    }
  }
  return plane;
}

}  // namespace camkit
