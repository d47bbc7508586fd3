// Shared pieces of the explainer: class selection and map conversion. Private.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "camkit/explain.hpp"
#include "model/model_impl.hpp"

namespace camkit::detail {

/// Per input: predictions (top-k) and the classes to explain, from the batch's logits (N, K).
struct Selection {
  std::vector<Explanation> explanations;  ///< predictions filled, maps empty
  std::vector<std::vector<int>> classes;  ///< per input, in request order
};
Selection select_classes(const at::Tensor& logits, const ExplainOptions& options,
                         const Model& model);

/// Appends the raw maps (k, h, w) of input `i` for its classes.
void add_maps(Explanation& ex, const std::vector<int>& classes, const at::Tensor& maps,
              const at::Tensor& logits_row, bool binary, const Model& model);

Map to_map(const at::Tensor& hw);

/// Score-CAM and Ablation-CAM maps (k, h, w) for one input: x (C_in, H, W), features (C, h, w).
at::Tensor scorecam_maps(const Model::Impl& m, const at::Tensor& x, const at::Tensor& features,
                         const std::vector<int>& classes, int batch_size);
at::Tensor ablationcam_maps(const Model::Impl& m, const at::Tensor& features,
                            const std::vector<c10::IValue>& crossing, const at::Tensor& logits,
                            const std::vector<int>& classes, int batch_size);

/// The inputs as one (N, C, H, W) float tensor; Error(input) when sizes differ or the channel
/// count is not `channels` (0: any).
at::Tensor to_batch(const std::vector<const Prepared*>& inputs, int channels);

/// Prediction of class c from a row of logits and its scores.
Prediction predict(const Model& model, bool binary, const float* logits, const float* scores,
                   int c);

bool is_gradient_method(Method m);

/// The map (h, w) of a gradient method from activations a and gradients g, both (C, h, w).
at::Tensor gradient_map(Method m, const at::Tensor& a, const at::Tensor& g);

}  // namespace camkit::detail
