#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor first_component(const at::Tensor& terms) {
  const int64_t c = terms.size(0);
  at::Tensor x = terms.reshape({c, -1}).t().to(at::kDouble);  // positions x channels
  x = x - x.mean(0, /*keepdim=*/true);
  const auto svd = at::linalg_svd(x, /*full_matrices=*/false);
  const at::Tensor v = std::get<2>(svd)[0];  // first right-singular vector
  at::Tensor proj = at::mv(x, v);
  // An eigenvector's sign is arbitrary: choose the one that agrees with the channel mean.
  const at::Tensor mean = terms.mean(0).reshape({-1}).to(at::kDouble);
  const at::Tensor pc = proj - proj.mean(), mc = mean - mean.mean();
  if ((pc * mc).sum().item<double>() < 0) proj = -proj;
  return proj.view(terms.sizes().slice(1)).to(terms.scalar_type());
}

at::Tensor eigencam(const at::Tensor& a) {
  return first_component(a);
}

}  // namespace camkit::methods
