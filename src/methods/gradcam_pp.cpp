#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor gradcam_pp(const at::Tensor& a, const at::Tensor& g) {
  const at::Tensor g2 = g * g;
  const at::Tensor g3 = g2 * g;
  std::vector<int64_t> keep(static_cast<size_t>(a.dim()), 1);
  keep[0] = a.size(0);
  const at::Tensor sum_a = a.flatten(1).sum(1).view(keep);
  const at::Tensor denom = 2 * g2 + sum_a * g3;
  // alpha is 0 where the gradient is 0 (the denominator vanishes there too).
  const at::Tensor alpha =
      at::where(g != 0, g2 / at::where(denom != 0, denom, at::ones_like(denom)), at::zeros_like(g));
  return weighted_sum((alpha * g.relu()).flatten(1).sum(1), a);
}

}  // namespace camkit::methods
