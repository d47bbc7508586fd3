#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor smoothgradcam_pp_weights(const at::Tensor& a, const at::Tensor& grads) {
  // Omeiza et al. 2019, eq. for alpha and w with D^1..D^3 the sample means of the first three
  // derivatives of exp(y_c), which for piecewise-linear networks are powers of dy_c/dA (up to
  // the factor exp(y_c), left out as in Grad-CAM++).
  const at::Tensor g = grads.to(at::kDouble);
  const at::Tensor g2 = g * g;
  const at::Tensor d1 = g.mean(0), d2 = g2.mean(0), d3 = (g2 * g).mean(0);
  return gradcam_pp_weights(a.to(at::kDouble), d1, d2, d3).to(a.scalar_type());
}

}  // namespace camkit::methods
