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
  if (map.height < 0 || map.width < 0 || map.depth < 1 ||
      map.data.size() != static_cast<std::size_t>(map.depth) * map.height * map.width) {
    throw Error(ErrorCode::usage, std::string(what) + ": map data size " +
                                      std::to_string(map.data.size()) + " does not match " +
                                      (map.depth != 1 ? std::to_string(map.depth) + "x" : "") +
                                      std::to_string(map.height) + "x" + std::to_string(map.width));
  }
}

}  // namespace render_detail

using render_detail::check_map;
using render_detail::lerp;
using render_detail::linear_taps;
using render_detail::LinearTaps;

namespace {

// One separable pass along an axis of a (outer, n, inner) block of samples: n -> count.
std::vector<float> linear_pass(const std::vector<float>& in, std::size_t outer, int n,
                               std::size_t inner, int count) {
  const LinearTaps t = linear_taps(count, 0, 0.0, static_cast<double>(n) / count, n);
  std::vector<float> out(outer * static_cast<std::size_t>(count) * inner);
  for (std::size_t o = 0; o < outer; ++o) {
    const float* src = in.data() + o * static_cast<std::size_t>(n) * inner;
    float* dst = out.data() + o * static_cast<std::size_t>(count) * inner;
    for (int d = 0; d < count; ++d) {
      const float* a = src + static_cast<std::size_t>(t.i0[d]) * inner;
      const float* b = src + static_cast<std::size_t>(t.i1[d]) * inner;
      const float w = t.w1[d];
      float* r = dst + static_cast<std::size_t>(d) * inner;
      for (std::size_t i = 0; i < inner; ++i) r[i] = lerp(a[i], b[i], w);
    }
  }
  return out;
}

}  // namespace

Map upsample_trilinear(const Map& map, int depth, int height, int width) {
  check_map(map, "upsample");
  if (map.height == 0 || map.width == 0) {
    throw Error(ErrorCode::usage, "upsample: cannot resample an empty map");
  }
  if (depth <= 0 || height <= 0 || width <= 0) {
    throw Error(ErrorCode::usage, "upsample: invalid output size " +
                                      (depth != 1 ? std::to_string(depth) + "x" : "") +
                                      std::to_string(height) + "x" + std::to_string(width));
  }
  const auto d0 = static_cast<std::size_t>(map.depth);
  // Separable, in torch's order for images: along rows first, then between rows; then between
  // planes, which a depth kept as it is (every image) skips: its taps would only copy.
  std::vector<float> v =
      linear_pass(map.data, d0 * static_cast<std::size_t>(map.height), map.width, 1, width);
  v = linear_pass(v, d0, map.height, static_cast<std::size_t>(width), height);
  if (depth != map.depth)
    v = linear_pass(v, 1, map.depth, static_cast<std::size_t>(height) * width, depth);
  Map result;
  result.depth = depth;
  result.height = height;
  result.width = width;
  result.data = std::move(v);
  return result;
}

Map upsample_bilinear(const Map& map, int height, int width) {
  check_map(map, "upsample_bilinear");
  return upsample_trilinear(map, map.depth, height, width);
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

Map display_map(const Map& raw, int depth, int height, int width, bool relu) {
  check_map(raw, "display_map");
  Map result;
  if (relu) {
    Map rectified = raw;
    for (float& v : rectified.data) v = v > 0.0f ? v : 0.0f;  // NaN -> 0 too
    result = upsample_trilinear(rectified, depth, height, width);
  } else {
    result = upsample_trilinear(raw, depth, height, width);
  }
  normalize_minmax(result);
  return result;
}

Map display_map(const Map& raw, int height, int width, bool relu) {
  return display_map(raw, raw.depth, height, width, relu);
}

}  // namespace camkit
