// Smooth Grad-CAM++ (Omeiza et al. 2019): the gradients of noisy copies of one input.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <algorithm>

#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"
#include "model/layout.hpp"

namespace camkit::detail {

at::Tensor smoothing_noise(const at::Tensor& x, double sigma, int samples, uint64_t seed) {
  // A generator of its own, seeded per input: the noise of an input depends on the seed and
  // its shape only, never on its place in a batch, a shard or a resumed run. LibTorch's
  // CPU generator, so torch.randn(..., generator=torch.Generator().manual_seed(seed)) in
  // Python draws the same numbers.
  at::Generator gen = at::detail::createCPUGenerator(seed);
  std::vector<int64_t> shape{samples};
  for (int64_t s : x.sizes()) shape.push_back(s);
  const at::Tensor x32 = x.to(at::kCPU, at::kFloat);
  const double range = (x32.max() - x32.min()).item<double>();
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * (sigma * range);
}

at::Tensor smoothgradcam_pp_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                                 const std::vector<int>& classes, const ExplainOptions& options) {
  const int64_t n = options.samples;
  const at::Tensor noisy = x.to(at::kCPU, at::kFloat).unsqueeze(0) +
                           smoothing_noise(x, options.noise_sigma, options.samples, options.seed);
  const int64_t step =
      m.max_batch == 1 ? 1 : std::max<int64_t>(1, std::min<int64_t>(options.batch_size, n));
  std::vector<std::vector<at::Tensor>> grads(classes.size());  // per class: (b, C, h, w) chunks
  for (int64_t start = 0; start < n; start += step) {
    const int64_t b = std::min(n, start + step) - start;
    auto [logits, raw] = m.run_with_grad(noisy.slice(0, start, start + b).to(m.device));
    for (size_t j = 0; j < classes.size(); ++j) {
      // The gradient of sum_s y_c(x + n_s) with respect to copy s's activations is copy s's own.
      at::Tensor go = at::zeros_like(logits);
      go.view({b, -1}).select(1, classes[j]).fill_(1);
      grads[j].push_back(
          channels_first(torch::autograd::grad({logits}, {raw}, {go},
                                               /*retain_graph=*/j + 1 < classes.size())[0],
                         m.layout)
              .detach()
              .to(a.scalar_type()));
    }
  }
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> maps;
  for (size_t j = 0; j < classes.size(); ++j) {
    const at::Tensor w = methods::smoothgradcam_pp_weights(a, at::cat(grads[j]));
    if (options.eigen_smooth) {
      std::vector<int64_t> keep(static_cast<size_t>(a.dim()), 1);
      keep[0] = a.size(0);
      maps.push_back(methods::first_component(w.view(keep) * a));
    } else {
      maps.push_back(methods::weighted_sum(w, a));
    }
  }
  return at::stack(maps);
}

}  // namespace camkit::detail
