// Bilinear upsampling, min-max normalisation and the display map (see camkit/render.hpp).
#include <algorithm>
#include <string>

#include "camkit/error.hpp"
#include "camkit/render.hpp"
#include "render/detail.hpp"
#include "render/sampling.hpp"

namespace camkit {
namespace render_detail {

LinearTaps linear_taps(int count, int first, double origin, double scale, int in_size) {
  LinearTaps taps;
  taps.i0.resize(count);
  taps.i1.resize(count);
  taps.w1.resize(count);
  for (int d = 0; d < count; ++d) {
    // torch: area_pixel_compute_source_index clamps a negative source to 0; the upper
    // neighbour is clamped to the last sample (index0 + (index0 < in - 1)).
    // Clamping src to the last sample first keeps the cast defined for any region; it
    // changes nothing, as both neighbours are the last sample there anyway. NaN reads 0.
    double src = (first + d + 0.5 - origin) * scale - 0.5;
    src = src > 0.0 ? std::min(src, static_cast<double>(in_size - 1)) : 0.0;
    const int i0 = static_cast<int>(src);
    taps.i0[d] = i0;
    taps.i1[d] = std::min(i0 + 1, in_size - 1);
    taps.w1[d] = static_cast<float>(src - i0);
  }
  return taps;
}

void check_map(const Map& map, const char* what) {
  if (map.height < 0 || map.width < 0 ||
      map.data.size() != static_cast<std::size_t>(map.height) * map.width) {
    throw Error(ErrorCode::usage, std::string(what) + ": map data size " +
                                      std::to_string(map.data.size()) + " does not match " +
                                      std::to_string(map.height) + "x" + std::to_string(map.width));
  }
}

}  // namespace render_detail

using render_detail::check_map;
using render_detail::lerp;
using render_detail::linear_taps;
using render_detail::LinearTaps;

Map upsample_bilinear(const Map& map, int height, int width) {
  check_map(map, "upsample_bilinear");
  if (map.height == 0 || map.width == 0) {
    throw Error(ErrorCode::usage, "upsample_bilinear: cannot resample an empty map");
  }
  if (height <= 0 || width <= 0) {
    throw Error(ErrorCode::usage, "upsample_bilinear: invalid output size " +
                                      std::to_string(height) + "x" + std::to_string(width));
  }
  const LinearTaps xt =
      linear_taps(width, 0, 0.0, static_cast<double>(map.width) / width, map.width);
  const LinearTaps yt =
      linear_taps(height, 0, 0.0, static_cast<double>(map.height) / height, map.height);

  // Separable, in torch's order: along rows first, then between the two rows.
  std::vector<float> rows(static_cast<std::size_t>(map.height) * width);
  for (int y = 0; y < map.height; ++y) {
    const float* in = map.data.data() + static_cast<std::size_t>(y) * map.width;
    float* out = rows.data() + static_cast<std::size_t>(y) * width;
    for (int x = 0; x < width; ++x) {
      out[x] = lerp(in[xt.i0[x]], in[xt.i1[x]], xt.w1[x]);
    }
  }
  Map result;
  result.height = height;
  result.width = width;
  result.data.resize(static_cast<std::size_t>(height) * width);
  for (int y = 0; y < height; ++y) {
    const float* r0 = rows.data() + static_cast<std::size_t>(yt.i0[y]) * width;
    const float* r1 = rows.data() + static_cast<std::size_t>(yt.i1[y]) * width;
    const float w1 = yt.w1[y];
    float* out = result.data.data() + static_cast<std::size_t>(y) * width;
    for (int x = 0; x < width; ++x) out[x] = lerp(r0[x], r1[x], w1);
  }
  return result;
}

void normalize_minmax(Map& map) {
  float lo = 0.0f;
  float hi = 0.0f;
  render_detail::finite_range(map.data.data(), map.data.size(), 1, lo, hi);
  if (!(hi > lo)) {  // constant, empty, or nothing finite
    std::fill(map.data.begin(), map.data.end(), 0.0f);
    return;
  }
  const float range = hi - lo;
  for (float& v : map.data) {
    const float n = (v - lo) / range;
    v = n > 0.0f ? std::min(n, 1.0f) : 0.0f;  // NaN and -Inf -> 0, +Inf -> 1
  }
}

Map display_map(const Map& raw, int height, int width, bool relu) {
  check_map(raw, "display_map");
  Map result;
  if (relu) {
    Map rectified = raw;
    for (float& v : rectified.data) v = v > 0.0f ? v : 0.0f;  // NaN -> 0 too
    result = upsample_bilinear(rectified, height, width);
  } else {
    result = upsample_bilinear(raw, height, width);
  }
  normalize_minmax(result);
  return result;
}

}  // namespace camkit
