#include "methods/methods.hpp"

namespace camkit::methods {

at::Tensor fullgrad_term(const at::Tensor& t, at::IntArrayRef size) {
  // psi of the paper, in the order and with the epsilon of the authors' _postProcess: the
  // rescaling spans the whole layer (every channel at once), not each channel.
  at::Tensor a = t.to(at::kFloat).abs();
  a = a - a.min();
  a = a / (a.max() + 1e-6);
  // Upsampling is linear, so summing the channels first equals summing upsampled channels.
  at::Tensor s = a.sum(0);
  if (s.sizes() == size) return s;
  return at::upsample_bilinear2d(s.unsqueeze(0).unsqueeze(0), size, /*align_corners=*/true)[0][0];
}

}  // namespace camkit::methods
