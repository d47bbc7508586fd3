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

/// The projection of the positions of `terms` (C, h, w) on their first principal component
/// (each channel centred over positions), signed so that its Pearson correlation with the
/// channel mean of `terms` is >= 0: (h, w). Eigen-CAM is first_component(A); eigen-smoothing
/// takes it of a gradient method's weighted activations instead of their channel sum.
at::Tensor first_component(const at::Tensor& terms);

/// Grad-CAM element-wise (pytorch-grad-cam's GradCAMElementWise): sum_k ReLU(G_k * A_k).
at::Tensor gradcam_elementwise(const at::Tensor& a, const at::Tensor& g);

/// Eigen-Grad-CAM: first_component(G * A), the Eigen-CAM projection of gradients x activations.
at::Tensor eigengradcam(const at::Tensor& a, const at::Tensor& g);

/// Channel weights (C) of the weighted-sum gradient methods; their maps are
/// weighted_sum(weights, a).
at::Tensor gradcam_weights(const at::Tensor& g);
at::Tensor xgradcam_weights(const at::Tensor& a, const at::Tensor& g);
/// Grad-CAM++'s weights from the first three derivatives of the score: d1 = G, d2 = G^2,
/// d3 = G^3 for one gradient, or their means over noisy copies (Smooth Grad-CAM++):
/// alpha = d2 / (2 d2 + sum_ab A_ab d3), 0 where the denominator is 0; w_k = sum_ij alpha_kij
/// ReLU(d1_kij).
at::Tensor gradcam_pp_weights(const at::Tensor& a, const at::Tensor& d1, const at::Tensor& d2,
                              const at::Tensor& d3);

/// Smooth Grad-CAM++ (Omeiza et al. 2019): Grad-CAM++ with the derivatives averaged over n
/// noisy copies of the input. `grads` (n, C, h, w): dy_c/dA of each noisy copy; `a` the clean
/// input's activations (C, h, w). Sums in float64.
at::Tensor smoothgradcam_pp_weights(const at::Tensor& a, const at::Tensor& grads);

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

/// SS-CAM (Wang et al. 2020) and IS-CAM (Naidu et al. 2020) weight the channels like
/// Score-CAM: scorecam(a, scores) with `scores` each channel's logit averaged over its noisy
/// masks (SS-CAM) or over the integration steps t/N, t = 1..N, of its mask (IS-CAM).

/// FullGrad's post-processing of one term (Srinivas & Fleuret 2019, eq. 6, as the authors'
/// reference implementation does it): |t| of the whole (C, h, w) tensor, min-max over all of
/// it at once (divided by max + 1e-6), summed over channels and upsampled bilinearly with
/// align_corners=True to `size` (H, W) when its resolution differs. Returns (H, W), float32.
at::Tensor fullgrad_term(const at::Tensor& t, at::IntArrayRef size);

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
