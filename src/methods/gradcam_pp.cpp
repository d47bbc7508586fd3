#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor gradcam_pp_weights(const at::Tensor& a, const at::Tensor& d1, const at::Tensor& d2,
                              const at::Tensor& d3) {
  std::vector<int64_t> keep(static_cast<size_t>(a.dim()), 1);
  keep[0] = a.size(0);
  const at::Tensor sum_a = a.flatten(1).sum(1).view(keep).to(d3.scalar_type());
  const at::Tensor denom = 2 * d2 + sum_a * d3;
  // alpha is 0 where the denominator vanishes (for one gradient: where G is 0).
  const at::Tensor alpha = at::where(
      denom != 0, d2 / at::where(denom != 0, denom, at::ones_like(denom)), at::zeros_like(d2));
  return (alpha * d1.relu()).flatten(1).sum(1);
}

at::Tensor gradcam_pp(const at::Tensor& a, const at::Tensor& g) {
  const at::Tensor g2 = g * g;
  return weighted_sum(gradcam_pp_weights(a, g, g2, g2 * g), a);
}

}  // namespace camkit::methods
