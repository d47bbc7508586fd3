#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor attention_relevance(const std::vector<at::Tensor>& attention,
                               const std::vector<at::Tensor>& gradients, int64_t source,
                               int64_t prefix, at::IntArrayRef grid) {
  const int64_t t = attention.front().size(-1);
  // In float64: a product of 12 layers' T x T matrices carries no rounding of its own.
  at::Tensor r = at::eye(t, attention.front().options().dtype(at::kDouble));
  for (size_t b = 0; b < attention.size(); ++b) {
    const at::Tensor a = attention[b].to(at::kDouble), g = gradients[b].to(at::kDouble);
    r = r + at::mm((g * a).clamp_min(0).mean(0), r);
  }
  int64_t cells = 1;
  for (int64_t s : grid) cells *= s;
  return r[source].narrow(0, prefix, cells).reshape(grid).to(attention.front().scalar_type());
}

}  // namespace camkit::methods
