#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor ablationcam(const at::Tensor& a, const at::Tensor& ablated, double logit) {
  return weighted_sum((logit - ablated) / logit, a);
}

}  // namespace camkit::methods
