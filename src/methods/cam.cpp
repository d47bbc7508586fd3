#include "methods/cam.hpp"

namespace camkit::methods {

at::Tensor cam(const at::Tensor& weight, const at::Tensor& features) {
  const int64_t c = features.size(0), h = features.size(1), w = features.size(2);
  return at::mm(weight, features.reshape({c, h * w})).view({weight.size(0), h, w});
}

}  // namespace camkit::methods
