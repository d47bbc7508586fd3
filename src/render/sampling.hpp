// render/sampling.hpp — private: pixel-centre bilinear taps shared by upsampling and overlays.
#pragma once

#include <vector>

namespace camkit::render_detail {

/// For each destination index d, the two source indices and the weight of the second one.
struct LinearTaps {
  std::vector<int> i0;
  std::vector<int> i1;
  std::vector<float> w1;  ///< weight of i1; i0 gets 1 - w1
};

/// Taps for destination samples at continuous source positions
///   src(d) = (first + d + 0.5 - origin) * scale - 0.5,
/// with torch's align_corners=False clamping: a negative src reads sample 0, a src past the
/// last sample reads the last one. upsample uses first = origin = 0, scale = in / out, which is
/// exactly torch.nn.functional.interpolate's (and cv2.resize INTER_LINEAR's) source index.
LinearTaps linear_taps(int count, int first, double origin, double scale, int in_size);

/// a + w * (b - a): equal neighbours give exactly their value, so a constant map stays
/// constant (torch's w0 * a + w1 * b leaves 1-ulp noise that min-max would stretch to [0,1]).
inline float lerp(float a, float b, float w) {
  return a + w * (b - a);
}

}  // namespace camkit::render_detail
