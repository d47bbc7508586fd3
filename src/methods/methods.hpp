// The maps of every method, as pure functions of one image's tensors. No I/O, no state, no model.
// A: activations of the tapped layer (C, h, w); G: dy_c/dA (C, h, w), y_c the pre-softmax logit.
// Each returns the raw map (h, w): before ReLU, normalisation and upsampling. Definitions and
// papers: docs/methods.md. Volumes and clips: A and G are (C, d, h, w) and the maps (d, h, w);
// every sum or mean over positions runs over all spatial axes.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace camkit::methods {

/// CAM (Zhou et al. 2016, sec. 2): sum_k W[c,k] A_k for the rows `weight` (k, C): one
/// (k, C) x (C, h*w) product, returned as (k, h, w).
at::Tensor cam(const at::Tensor& weight, const at::Tensor& a);

/// Grad-CAM (Selvaraju et al. 2017, eq. 1-2): w_k = mean_ij G_kij; sum_k w_k A_k.
at::Tensor gradcam(const at::Tensor& a, const at::Tensor& g);

/// Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19): alpha = G^2 / (2 G^2 + sum_ab A_ab G^3)
/// (0 where G is 0); w_k = sum_ij alpha_kij ReLU(G_kij); sum_k w_k A_k.
at::Tensor gradcam_pp(const at::Tensor& a, const at::Tensor& g);

/// XGrad-CAM (Fu et al. 2020): w_k = sum_ij A_kij G_kij / (sum_ij A_kij + 1e-7); sum_k w_k A_k.
at::Tensor xgradcam(const at::Tensor& a, const at::Tensor& g);

/// Layer-CAM (Jiang et al. 2021, eq. 5-6): sum_k ReLU(G_k) * A_k.
at::Tensor layercam(const at::Tensor& a, const at::Tensor& g);

/// HiResCAM (Draelos & Carin 2020): sum_k G_k * A_k.
at::Tensor hirescam(const at::Tensor& a, const at::Tensor& g);

/// Eigen-CAM (Muhammad & Yeasin 2020): projection of the centred activations on their first
/// principal component, signed to correlate positively with the mean activation.
at::Tensor eigencam(const at::Tensor& a);

/// Whether each channel of `a` (C, h, w) is constant over positions: (C) bool.
at::Tensor scorecam_constant(const at::Tensor& a);

/// Score-CAM masks (Wang et al. 2020, Alg. 1): each channel upsampled bilinearly to (H, W) and
/// min-max normalised; a constant channel gives an all-zero mask. Returns (C, H, W) and sets
/// `constant` (C) to true for those channels. Channels are independent: masks of a subset of
/// channels equal the same rows of the whole stack's masks.
at::Tensor scorecam_masks(const at::Tensor& a, int64_t height, int64_t width, at::Tensor* constant);
/// The same for any number of spatial axes: `a` (C, s1, ..., sd) to `size` (d values; 3-D
/// stacks are upsampled trilinearly, align_corners=False).
at::Tensor scorecam_masks(const at::Tensor& a, at::IntArrayRef size, at::Tensor* constant);

/// Score-CAM map from the masked inputs' logits `scores` (C) of one class:
/// alpha = softmax_k(scores); sum_k alpha_k A_k.
at::Tensor scorecam(const at::Tensor& a, const at::Tensor& scores);

/// Ablation-CAM (Desai & Ramaswamy 2020, eq. 3): w_k = (y_c - y_c^k) / y_c from the logit with
/// channel k zeroed, `ablated` (C); sum_k w_k A_k.
at::Tensor ablationcam(const at::Tensor& a, const at::Tensor& ablated, double logit);

/// Gradient-weighted attention relevance (Chefer, Gur & Wolf 2021, "Generic Attention-model
/// Explainability", eq. 5-6): R = I (T x T); for each attention layer b in order,
/// Abar_b = mean over heads of ReLU(dy_c/dA_b * A_b), R = R + Abar_b R. Returns the row of
/// token `source` (the class token) over the `prefix` + h*w tokens, the grid part reshaped to
/// `grid` (h, w). `attention` and `gradients`: one (heads, T, T) tensor per layer.
at::Tensor attention_relevance(const std::vector<at::Tensor>& attention,
                               const std::vector<at::Tensor>& gradients, int64_t source,
                               int64_t prefix, at::IntArrayRef grid);

/// sum_k w_k A_k for weights (C) or (k, C).
at::Tensor weighted_sum(const at::Tensor& weights, const at::Tensor& a);

}  // namespace camkit::methods
