#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor layercam(const at::Tensor& a, const at::Tensor& g) {
  return (g.relu() * a).sum(0);
}

}  // namespace camkit::methods
