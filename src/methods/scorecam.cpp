#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor scorecam_constant(const at::Tensor& a) {
  // Constancy is decided at feature resolution, where it is exact; interpolation can add
  // rounding noise that min-max would stretch into a spurious mask.
  const at::Tensor fa = a.flatten(1);
  return std::get<0>(fa.max(1)) == std::get<0>(fa.min(1));
}

at::Tensor scorecam_masks(const at::Tensor& a, int64_t height, int64_t width,
                          at::Tensor* constant) {
  return scorecam_masks(a, std::vector<int64_t>{height, width}, constant);
}

at::Tensor scorecam_masks(const at::Tensor& a, at::IntArrayRef size, at::Tensor* constant) {
  *constant = scorecam_constant(a);
  // Arithmetic in place on the upsampled stack: at ResNet's layer4 and 224x224 one temporary
  // of this size is 100 MB, and each costs more in page faults than its arithmetic.
  // Volumes and clips are upsampled trilinearly, with the same pixel-centre convention.
  at::Tensor up = size.size() == 3
                      ? at::upsample_trilinear3d(a.unsqueeze(0), size, /*align_corners=*/false)[0]
                      : at::upsample_bilinear2d(a.unsqueeze(0), size, /*align_corners=*/false)[0];
  std::vector<int64_t> per_channel(size.size() + 1, 1);
  per_channel[0] = -1;
  const at::Tensor flat = up.view({up.size(0), -1});
  const at::Tensor lo = std::get<0>(flat.min(1)).view(per_channel);
  const at::Tensor range = std::get<0>(flat.max(1)).view(per_channel) - lo;
  const at::Tensor keep = (range > 0) & constant->logical_not().view(per_channel);
  up.sub_(lo).div_(at::where(keep, range, at::ones_like(range)));
  return up.masked_fill_(keep.logical_not(), 0);
}

at::Tensor scorecam(const at::Tensor& a, const at::Tensor& scores) {
  return weighted_sum(scores.softmax(0), a);
}

}  // namespace camkit::methods
