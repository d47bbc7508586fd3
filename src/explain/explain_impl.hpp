// Shared pieces of the explainer: targets and scores, class selection, checks, map conversion.
// Private.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "camkit/explain.hpp"
#include "model/model_impl.hpp"

namespace camkit::detail {

/// Scores of logits (N, K) under the model's task: softmax over K (multiclass), sigmoid
/// (binary, multilabel), the values themselves (regression).
at::Tensor scores_of(const at::Tensor& logits, Task task);

/// Per input: predictions (top-k) and the classes to explain, from the batch's logits (N, K).
struct Selection {
  std::vector<Explanation> explanations;  ///< predictions filled, maps empty
  std::vector<std::vector<int>> classes;  ///< per input, in request order
};
Selection select_classes(const at::Tensor& logits, const ExplainOptions& options,
                         const Model& model);

/// Appends the raw maps (k, h, w) or (k, d, h, w) of input `i` for its classes.
void add_maps(Explanation& ex, const std::vector<int>& classes, const at::Tensor& maps,
              const at::Tensor& logits_row, const ExplainOptions& options, const Model& model);

/// A map from an (h, w) or (d, h, w) tensor.
Map to_map(const at::Tensor& hw);

/// Score-CAM maps (k, h, w) for one input: x (C_in, H, W), a its map stack (C, h, w); for 3-D
/// inputs x (C_in, D, H, W) and a (C, d, h, w), maps (k, d, h, w).
at::Tensor scorecam_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                         const std::vector<int>& classes, int batch_size);
/// Masked inputs of `x` (one input) per forward pass of Score-CAM and its variants: at most
/// `batch_size`, on the CPU at most four 3x224x224 inputs' worth of elements, 1 when the graph
/// fixes a batch of one.
int64_t mask_batch(const Model::Impl& m, const at::Tensor& x, int batch_size);
/// batch(0), ..., batch(count - 1) in order. On the CPU with T > 1 intra-op threads, T workers
/// (the caller and T - 1 of LibTorch's inter-op threads) take the batches in turn, each running
/// them on one intra-op thread, with the caller's grad and inference modes; so every batch is
/// computed on one thread whatever T is. The first batch's error (by index) is rethrown after
/// all workers stop; workers that cannot start leave their batches to the others.
std::vector<at::Tensor> run_batches(const Model::Impl& m, int64_t count,
                                    const std::function<at::Tensor(int64_t)>& batch);
/// SS-CAM and IS-CAM maps (k, h, w) for one input, as scorecam_maps: each channel's score
/// averaged over ExplainOptions::samples noisy masks (SS-CAM, noise from a CPU generator seeded
/// with ExplainOptions::seed, drawn channel by channel) or integration steps (IS-CAM).
at::Tensor sscam_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                      const std::vector<int>& classes, const ExplainOptions& options);
at::Tensor iscam_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                      const std::vector<int>& classes, const ExplainOptions& options);
/// Whether FullGrad's layers can be found in the graph: "" when they can, else why not.
std::string check_fullgrad(const Model::Impl& m);
/// FullGrad (docs/methods.md) for a batch of inputs: input-resolution raw maps (H, W).
std::vector<Explanation> explain_fullgrad(const Model& model,
                                          const std::vector<const Prepared*>& inputs,
                                          const ExplainOptions& options);

/// Ablation-CAM maps (k, h, w) for one input: raw its tapped activation as the layer returns it
/// (batch of one), a the map stack (C, h, w), crossing the values the upper layers also read.
at::Tensor ablationcam_maps(const Model::Impl& m, const at::Tensor& raw, const at::Tensor& a,
                            const std::vector<c10::IValue>& crossing, const at::Tensor& logits,
                            const std::vector<int>& classes, int batch_size);

/// The inputs as one (N, C, H, W) float tensor, or (N, C, D, H, W) for `rank` 3; Error(input)
/// when sizes differ or the channel count is not `channels` (0: any).
at::Tensor to_batch(const std::vector<const Prepared*>& inputs, int channels, int rank = 2);

/// Prediction of class c from a row of logits and its scores.
Prediction predict(const Model& model, const float* logits, const float* scores, int c,
                   const ExplainOptions& options);

bool is_gradient_method(Method m);

/// The map (h, w) of a gradient method from activations a and gradients g, both (C, h, w);
/// with `eigen_smooth` the first principal component of its weighted activations instead of
/// their sum over channels (docs/methods.md).
at::Tensor gradient_map(Method m, const at::Tensor& a, const at::Tensor& g,
                        bool eigen_smooth = false);

/// The options of ExplainOptions that modify a method (eigen-smoothing, test-time
/// augmentation, Smooth Grad-CAM++'s noise) fit the method: Error(usage) otherwise.
void check_method_options(const ExplainOptions& options);

/// Test-time augmentation (ExplainOptions::aug_smooth): each input's maps averaged over the
/// augmentations, flipped back. The classes are those the unaugmented input selects.
std::vector<Explanation> explain_augmented(const Explainer& explainer,
                                           const std::vector<const Prepared*>& inputs,
                                           const ExplainOptions& options);

/// Guided backpropagation and Guided Grad-CAM (docs/methods.md): input-resolution raw maps
/// (H, W), predictions and classes from a Grad-CAM pass at the layer.
std::vector<Explanation> explain_guided(const Explainer& explainer, const Model& model,
                                        const std::vector<const Prepared*>& inputs,
                                        const ExplainOptions& options);

/// Smooth Grad-CAM++ maps (k, h, w) for one input x (C_in, H, W) whose clean activations are
/// a (C, h, w): gradients of ExplainOptions::samples noisy copies (detail in docs/methods.md).
at::Tensor smoothgradcam_pp_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& a,
                                 const std::vector<int>& classes, const ExplainOptions& options);

/// The noise Smooth Grad-CAM++ adds to an input of shape (C_in, H, W): (samples, C_in, H, W),
/// float32, N(0, 1) from LibTorch's CPU generator seeded with `seed`, times
/// sigma * (max x - min x).
at::Tensor smoothing_noise(const at::Tensor& x, double sigma, int samples, uint64_t seed);

/// Gradient-weighted attention relevance for a batch (N, C, H, W): explanations in input order.
std::vector<Explanation> explain_attention(const Model& model, const at::Tensor& batch,
                                           const ExplainOptions& options);

/// The attention probabilities' shape must fit the layer's tokens, and gradients must reach
/// them: checked once on the probe input. "" when they do, else why not.
std::string check_attention(const Model::Impl& m);

/// Explainer::check without an Explainer.
void check_method(const Model& model, const ExplainOptions& options);

/// (logits, features) of the tapped graph on `batch`: with gradients recorded from the tap
/// upwards for gradient methods, else under no-grad. Features as the layer returns them.
std::pair<at::Tensor, at::Tensor> run_tapped(const Model::Impl& m, Method method,
                                             const at::Tensor& batch);

/// CAM's checks on channels-first float features (N, C, h, w) and the model's CPU logits: the
/// layer's channels fit the classifier (Error(usage)), and for linear heads the CAM identity
/// holds: the head applied to the features reproduces the logits (Error(model) "the maps do
/// not reproduce the model's logits; <why>"). Costs K*C multiply-adds per row.
void check_cam(const Model::Impl& m, const at::Tensor& features, const at::Tensor& logits,
               const std::string& why);

/// Throws Error(input) naming what is not finite: logits (N, K), map stacks, maps. The
/// optimised graph's ReLU turns NaN into 0, so the inputs are checked as well (prepare()).
void check_finite(const at::Tensor& t, const std::string& what);

}  // namespace camkit::detail
