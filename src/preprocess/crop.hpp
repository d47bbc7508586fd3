// The centre crop's offset, shared by images and video frames.
#pragma once

namespace camkit::detail {

/// torchvision's CenterCrop offset int(round(excess / 2.0)) in Python: halves round to the even
/// neighbour (1.5 -> 2, 2.5 -> 2).
inline int center_offset(int excess) {
  const int half = excess / 2;
  if (excess % 2 == 0 || half % 2 == 0) return half;
  return half + 1;
}

}  // namespace camkit::detail
