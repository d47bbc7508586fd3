#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor eigengradcam(const at::Tensor& a, const at::Tensor& g) {
  return first_component(g * a);
}

}  // namespace camkit::methods
