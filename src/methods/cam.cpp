#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor weighted_sum(const at::Tensor& weights, const at::Tensor& a) {
  const int64_t c = a.size(0), h = a.size(1), w = a.size(2);
  const at::Tensor rows = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
  at::Tensor maps = at::mm(rows, a.reshape({c, h * w})).view({rows.size(0), h, w});
  return weights.dim() == 1 ? maps[0] : maps;
}

at::Tensor cam(const at::Tensor& weight, const at::Tensor& a) {
  return weighted_sum(weight, a);
}

}  // namespace camkit::methods
