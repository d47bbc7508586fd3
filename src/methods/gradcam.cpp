#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor gradcam(const at::Tensor& a, const at::Tensor& g) {
  return weighted_sum(g.mean({1, 2}), a);
}

}  // namespace camkit::methods
