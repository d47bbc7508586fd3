#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor hirescam(const at::Tensor& a, const at::Tensor& g) {
  return (g * a).sum(0);
}

}  // namespace camkit::methods
