#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor gradcam_weights(const at::Tensor& g) {
  return g.flatten(1).mean(1);
}

at::Tensor gradcam(const at::Tensor& a, const at::Tensor& g) {
  return weighted_sum(gradcam_weights(g), a);
}

}  // namespace camkit::methods
