#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor gradcam_elementwise(const at::Tensor& a, const at::Tensor& g) {
  return (g * a).relu().sum(0);
}

}  // namespace camkit::methods
