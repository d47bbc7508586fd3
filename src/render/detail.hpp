// render/detail.hpp — private helpers shared by the render sources.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "camkit/render.hpp"

namespace camkit::render_detail {

/// Throws Error(ErrorCode::usage) naming `what` when map.data does not hold height * width
/// samples (or a dimension is negative).
void check_map(const Map& map, const char* what);

/// Smallest and largest finite value among p[0], p[step], ... (n values); lo > hi when none
/// is finite. The first pass lets NaN fall through the comparisons, in independent lanes kept
/// in locals (no aliasing with p, so the compiler pipelines them); only data holding an
/// infinity pays for a second, checked pass.
inline void finite_range(const float* p, std::size_t n, std::size_t step, float& lo_out,
                         float& hi_out) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  constexpr std::size_t kLanes = 8;
  float lo[kLanes];
  float hi[kLanes];
  for (std::size_t j = 0; j < kLanes; ++j) {
    lo[j] = inf;
    hi[j] = -inf;
  }
  std::size_t i = 0;
  if (step == 1) {
    for (; i + kLanes <= n; i += kLanes) {
      for (std::size_t j = 0; j < kLanes; ++j) {
        const float v = p[i + j];
        lo[j] = v < lo[j] ? v : lo[j];
        hi[j] = v > hi[j] ? v : hi[j];
      }
    }
  }
  for (; i < n; ++i) {
    const float v = p[i * step];
    lo[0] = v < lo[0] ? v : lo[0];
    hi[0] = v > hi[0] ? v : hi[0];
  }
  for (std::size_t j = 1; j < kLanes; ++j) {
    lo[0] = lo[j] < lo[0] ? lo[j] : lo[0];
    hi[0] = hi[j] > hi[0] ? hi[j] : hi[0];
  }
  if (lo[0] == -inf || hi[0] == inf) {
    lo[0] = inf;
    hi[0] = -inf;
    for (i = 0; i < n; ++i) {
      const float v = p[i * step];
      if (std::isfinite(v)) {
        lo[0] = v < lo[0] ? v : lo[0];
        hi[0] = v > hi[0] ? v : hi[0];
      }
    }
  }
  lo_out = lo[0];
  hi_out = hi[0];
}

}  // namespace camkit::render_detail
