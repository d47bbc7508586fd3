// Score-CAM and Ablation-CAM: maps from extra forward passes, run in batches.
#include <torch/script.h>

#include <algorithm>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"
#include "model/layout.hpp"

namespace camkit::detail {

// Masked inputs per forward pass on the CPU: at most `batch_size`, and no more input elements
// than four 3x224x224 images. Each pass allocates its activations afresh (ResNet18: 3.2 MB per
// input after conv1); glibc returns blocks above its mmap threshold (at most 32 MB) and a heap
// top above its trim threshold to the kernel on free, and the next pass page-faults them in
// again. At 1 thread and batches of 32 that was 3 million page faults and ~10 s of system time
// per ResNet18 explanation, more than batching saves (docs/methods.md, "Score-CAM's cost in
// practice").
// Accelerators take `batch_size` as given.
int64_t mask_batch(const Model::Impl& m, const at::Tensor& x, int batch_size) {
  constexpr int64_t kCpuBatchElements = 4 * 3 * 224 * 224;
  if (m.max_batch == 1) return 1;  // the graph fixes a batch of one
  const int64_t asked = std::max(1, batch_size);
  if (!m.device.is_cpu()) return asked;
  return std::max<int64_t>(1, std::min(asked, kCpuBatchElements / std::max<int64_t>(1, x.numel())));
}

at::Tensor scorecam_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                         const std::vector<int>& classes, int batch_size) {
  const at::Tensor features = a.to(at::kFloat);
  torch::NoGradGuard no_grad;
  const at::Tensor constant = methods::scorecam_constant(features);
  // Channels whose map is constant have an all-zero mask and so one masked input between them:
  // score it once, not once per channel.
  const at::Tensor varying = constant.logical_not().nonzero().flatten();
  const bool any_constant = constant.any().item<bool>();
  const int64_t n = varying.size(0);
  const int64_t step = mask_batch(m, x, batch_size);
  const std::vector<at::Tensor> chunks = run_batches(m, (n + step - 1) / step, [&](int64_t b) {
    const at::Tensor idx = varying.slice(0, b * step, std::min(n, (b + 1) * step));
    // Masks are made per batch, just before their pass, while they are in cache: the whole
    // stack would be C x H x W floats (100 MB at layer4 and 224x224).
    at::Tensor unused;
    const at::Tensor masks =
        methods::scorecam_masks(features.index_select(0, idx), x.sizes().slice(1), &unused);
    return m.logits_rows(m.run(x.unsqueeze(0) * masks.unsqueeze(1)).first, idx.size(0));
  });
  const int64_t k = features.size(0);
  const at::Tensor idx = at::tensor(std::vector<int64_t>(classes.begin(), classes.end()));
  at::Tensor scores = at::empty({k, static_cast<int64_t>(classes.size())}, at::kFloat);
  if (n > 0)
    scores.index_copy_(0, varying.cpu(),
                       at::cat(chunks).to(at::kCPU, at::kFloat).index_select(1, idx));
  if (any_constant) {
    const at::Tensor zero = m.logits_rows(m.run(at::zeros_like(x).unsqueeze(0)).first, 1);
    scores.index_put_({constant.cpu()}, zero.index_select(1, idx));
  }
  std::vector<at::Tensor> maps;
  for (size_t j = 0; j < classes.size(); ++j)
    maps.push_back(methods::scorecam(features, scores.select(1, j).to(features.device())));
  return at::stack(maps);
}

at::Tensor ablationcam_maps(const Model::Impl& m, const at::Tensor& raw, const at::Tensor& a,
                            const std::vector<c10::IValue>& crossing, const at::Tensor& logits,
                            const std::vector<int>& classes, int batch_size) {
  torch::NoGradGuard no_grad;
  const int64_t k = a.size(0);
  // The layers above the tap run on a batch of copies of the layer's output, each with one
  // channel of its map zeroed (for token layouts, in the patch tokens: the prefix tokens are
  // not part of the map). Values they read from below the tap are repeated along the batch
  // when batched; ones that are not tensors of batch 1 force one copy per run.
  bool batchable = true;
  for (const c10::IValue& v : crossing)
    batchable &= v.isTensor() && v.toTensor().dim() > 0 && v.toTensor().size(0) == 1;
  const int64_t step = batchable ? std::max(1, batch_size) : 1;
  const at::Tensor dense = raw.contiguous();  // as each batch below is
  if (!channels_first(dense, m.layout).is_alias_of(dense))
    throw Error(ErrorCode::model,
                "Ablation-CAM cannot ablate channels of layer " + m.layer.layer + " in its layout");
  const std::vector<at::Tensor> out = run_batches(m, (k + step - 1) / step, [&](int64_t s) {
    const int64_t start = s * step;
    const int64_t b = std::min(k, start + step) - start;
    std::vector<int64_t> reps(static_cast<size_t>(raw.dim()), 1);
    reps[0] = b;
    at::Tensor batch = raw.repeat(reps);
    // Copy i has channel start + i of its map zeroed, in one operation on the channels-first
    // view, which shares the batch's storage (for token layouts it leaves the prefix tokens).
    const at::Tensor copies =
        at::arange(b, at::TensorOptions().dtype(at::kLong).device(raw.device()));
    channels_first(batch, m.layout)
        .index_put_({copies, copies + start}, at::zeros({}, batch.options()));
    std::vector<c10::IValue> args{batch};
    for (const c10::IValue& v : crossing) {
      if (b == 1) {  // a copy: other workers read the same value, and the layers may write it
        args.push_back(v.isTensor() ? c10::IValue(v.toTensor().clone()) : v);
        continue;
      }
      std::vector<int64_t> r(v.toTensor().dim(), 1);
      r[0] = b;
      args.emplace_back(v.toTensor().repeat(r));
    }
    return m.logits_rows(m.call(m.upper_fn(), args).toTensor(), b);
  });
  const at::Tensor ablated = at::cat(out).to(at::kFloat);
  const at::Tensor features = a.to(at::kFloat);
  std::vector<at::Tensor> maps;
  for (int c : classes)
    maps.push_back(methods::ablationcam(features, ablated.select(1, c).to(features.device()),
                                        logits[c].item<double>()));
  return at::stack(maps);
}

}  // namespace camkit::detail
