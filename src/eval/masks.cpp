// Ground-truth masks of camkit eval for 3-D models: read on the grid of their input volume.
#include <cmath>

#include "camkit/error.hpp"
#include "camkit/eval.hpp"

namespace camkit {
namespace {

std::string grid(int d, int h, int w) {
  return std::to_string(d) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

}  // namespace

VoxelMask read_mask(const std::string& path, const Volume& volume, const ReadOptions& options) {
  const Volume m = read_volume_3d(path, options);
  auto fail = [&](const std::string& why) { throw Error(ErrorCode::input, path + ": " + why); };
  if (m.kind != "nifti" && m.kind != "npy") fail("a mask is a NIfTI file or a .npy array");
  if (m.channels != 1) fail("a mask has one channel, this one " + std::to_string(m.channels));
  if (m.depth != volume.depth || m.height != volume.height || m.width != volume.width)
    fail("mask of " + grid(m.depth, m.height, m.width) + " voxels, its input has " +
         grid(volume.depth, volume.height, volume.width) + " (masks lie on the input's grid)");
  if (!m.space.source.empty() && !volume.space.source.empty())
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c)
        if (std::abs(m.space.affine[r][c] - volume.space.affine[r][c]) > 1e-3)
          fail("the mask's voxel -> world affine (" + m.space.source +
               ") differs from its input's (" + volume.space.source +
               "): masks lie on the input's grid");
  VoxelMask out;
  out.depth = m.depth;
  out.height = m.height;
  out.width = m.width;
  out.on.resize(m.data.size());
  bool any = false;
  for (std::size_t i = 0; i < m.data.size(); ++i) {
    out.on[i] = m.data[i] != 0.0f;
    any = any || out.on[i];
  }
  if (!any) fail("the mask has no object voxel (all zero)");
  return out;
}

}  // namespace camkit
