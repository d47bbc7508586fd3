#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor xgradcam_weights(const at::Tensor& a, const at::Tensor& g) {
  return (a * g).flatten(1).sum(1) / (a.flatten(1).sum(1) + 1e-7);
}

at::Tensor xgradcam(const at::Tensor& a, const at::Tensor& g) {
  return weighted_sum(xgradcam_weights(a, g), a);
}

}  // namespace camkit::methods
