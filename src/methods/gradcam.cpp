#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor gradcam(const at::Tensor& a, const at::Tensor& g) {
  return weighted_sum(g.flatten(1).mean(1), a);
}

}  // namespace camkit::methods
