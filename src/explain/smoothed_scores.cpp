// SS-CAM (Wang et al. 2020) and IS-CAM (Naidu et al. 2020): Score-CAM with each channel's score
// averaged over noisy masks or integrated from a zero mask (docs/methods.md).
#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <algorithm>

#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"

namespace camkit::detail {
namespace {

at::Tensor class_index(const std::vector<int>& classes) {
  return at::tensor(std::vector<int64_t>(classes.begin(), classes.end()));
}

// sum over the rows of `masks` (b, spatial...) of the logits of x * mask, for the classes:
// (classes) in float64, run `step` masked inputs at a time.
at::Tensor summed_scores(const Model::Impl& m, const at::Tensor& x, const at::Tensor& masks,
                         const at::Tensor& idx, int64_t step) {
  at::Tensor sum = at::zeros({idx.size(0)}, at::kDouble);
  const int64_t n = masks.size(0);
  const std::vector<at::Tensor> parts = run_batches(m, (n + step - 1) / step, [&](int64_t s) {
    const int64_t start = s * step;
    const int64_t b = std::min(n, start + step) - start;
    const at::Tensor in = x.unsqueeze(0) * masks.slice(0, start, start + b).unsqueeze(1);
    const at::Tensor lg = m.logits_rows(m.run(in).first, b).to(at::kCPU, at::kDouble);
    return lg.index_select(1, idx).sum(0);
  });
  for (const at::Tensor& p : parts) sum += p;  // in batch order, as one loop would add them
  return sum;
}

// The maps of every class from the channel scores (C, classes).
at::Tensor maps_of(const at::Tensor& features, const at::Tensor& scores) {
  std::vector<at::Tensor> maps;
  for (int64_t j = 0; j < scores.size(1); ++j)
    maps.push_back(
        methods::scorecam(features, scores.select(1, j).to(features.device(), at::kFloat)));
  return at::stack(maps);
}

}  // namespace

at::Tensor sscam_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                      const std::vector<int>& classes, const ExplainOptions& options) {
  const at::Tensor features = a.to(at::kFloat);
  torch::NoGradGuard no_grad;
  const at::IntArrayRef size = x.sizes().slice(1);
  const int64_t k = features.size(0);
  const int64_t n = options.samples;
  const at::Tensor idx = class_index(classes);
  const int64_t step = mask_batch(m, x, options.batch_size);
  // One generator per input, drawn channel by channel in channel order: the noise of channel
  // k is the k-th draw of (n, spatial...) values, whatever the batching; torch.randn with
  // torch.Generator().manual_seed(seed) draws the same numbers.
  at::Generator gen = at::detail::createCPUGenerator(options.seed);
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), size.begin(), size.end());
  at::Tensor scores = at::empty({k, idx.size(0)}, at::kDouble);
  for (int64_t c = 0; c < k; ++c) {
    at::Tensor unused;
    // The Score-CAM mask of channel c (all zero for a constant channel), plus the noise: the
    // mask's range is 1, so sigma is a fraction of it.
    const at::Tensor mask = methods::scorecam_masks(features.slice(0, c, c + 1), size, &unused);
    const at::Tensor noise =
        at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * options.noise_sigma;
    scores[c] =
        summed_scores(m, x, mask + noise.to(mask.device()), idx, step) / static_cast<double>(n);
  }
  return maps_of(features, scores);
}

at::Tensor iscam_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                      const std::vector<int>& classes, const ExplainOptions& options) {
  const at::Tensor features = a.to(at::kFloat);
  torch::NoGradGuard no_grad;
  const at::IntArrayRef size = x.sizes().slice(1);
  const int64_t k = features.size(0);
  const int64_t n = options.samples;
  const at::Tensor idx = class_index(classes);
  const int64_t step = mask_batch(m, x, options.batch_size);
  // The steps t/N, t = 1..N, of the path from the zero mask to the channel's mask.
  std::vector<int64_t> per_step(size.size() + 1, 1);
  per_step[0] = n;
  const at::Tensor steps =
      (at::arange(1, n + 1, at::kDouble) / static_cast<double>(n)).to(x.device(), at::kFloat);
  const at::Tensor constant = methods::scorecam_constant(features).cpu();
  at::Tensor scores = at::empty({k, idx.size(0)}, at::kDouble);
  at::Tensor zero_score;  // every step of an all-zero mask is the same zero input: run once
  for (int64_t c = 0; c < k; ++c) {
    if (constant[c].item<bool>()) {
      if (!zero_score.defined())
        zero_score = summed_scores(m, x, at::zeros_like(x.select(0, 0)).unsqueeze(0), idx, 1);
      scores[c] = zero_score;
      continue;
    }
    at::Tensor unused;
    const at::Tensor mask = methods::scorecam_masks(features.slice(0, c, c + 1), size, &unused);
    scores[c] =
        summed_scores(m, x, mask * steps.view(per_step), idx, step) / static_cast<double>(n);
  }
  return maps_of(features, scores);
}

}  // namespace camkit::detail
