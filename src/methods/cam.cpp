#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor weighted_sum(const at::Tensor& weights, const at::Tensor& a) {
  // Any number of spatial axes: (C, s1, ..., sd) -> (k, s1, ..., sd).
  const at::Tensor rows = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
  std::vector<int64_t> shape = a.sizes().vec();
  shape[0] = rows.size(0);
  at::Tensor maps = at::mm(rows, a.reshape({a.size(0), -1})).view(shape);
  return weights.dim() == 1 ? maps[0] : maps;
}

at::Tensor cam(const at::Tensor& weight, const at::Tensor& a) {
  return weighted_sum(weight, a);
}

}  // namespace camkit::methods
