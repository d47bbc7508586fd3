// Finding the CAM head (global average pooling + linear classifier) in an inlined graph.
// Private to the model area.
#pragma once

#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <string>

namespace camkit::detail {

struct GraphHead {
  bool found = false;
  std::string reason;                     ///< why not, when !found
  std::string kind;                       ///< "linear" or "conv1x1"
  std::string pooling;                    ///< e.g. "aten::adaptive_avg_pool2d"
  std::string classifier;                 ///< module path or attribute path
  torch::jit::Value* features = nullptr;  ///< A: (N, C, h, w)
  torch::jit::Value* logits = nullptr;    ///< (N, K) before any softmax in the model
  at::Tensor weight;                      ///< (K, C), float32, contiguous
  at::Tensor bias;                        ///< (K) or undefined
  bool relu_before_pool = false;
  std::string slice_reduce;  ///< "max"/"mean" over dimension 0 after pooling (exam models), or ""
};

/// Analyses `graph` (the model's inlined forward) structurally: a global average pooling whose
/// result reaches a linear classifier only through shape-only or identity ops (flatten, view,
/// dropout), and whose classifier output is `logits` (the output chosen as the model's logits,
/// before any final softmax/sigmoid) or reaches it only through such ops; or a 1x1 convolution
/// classifier, optionally followed by ReLU, before the pooling. Weights are read from `module`.
/// Reasons name the op in the way as torch.nn does ("a LayerNorm (classifier.0, LayerNorm2d)").
GraphHead find_cam_head(torch::jit::Graph& graph, const torch::jit::Module& module,
                        torch::jit::Value* logits);

}  // namespace camkit::detail
