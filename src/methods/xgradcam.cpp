#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor xgradcam(const at::Tensor& a, const at::Tensor& g) {
  return weighted_sum((a * g).sum({1, 2}) / (a.sum({1, 2}) + 1e-7), a);
}

}  // namespace camkit::methods
