// The loaded network behind camkit::Model. Private; shared by the model and explain areas.
#pragma once

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "camkit/model.hpp"

namespace camkit {

struct Model::Impl {
  std::string path;
  ModelOptions options;
  ModelMetadata metadata;
  HeadInfo head;
  LayerInfo layer;
  std::string cam_layer_error;  ///< why CAM cannot use the --layer given, if it cannot
  int num_classes = 0;          ///< logits per input; 0 while unknown (no head, probe did not run)
  InputSpec input;
  std::vector<std::string> modules;
  c10::Device device{c10::kCPU};

  torch::jit::Module module;  ///< as loaded, eval mode
  /// The model's forward inlined and retargeted: (self, x) -> (logits, features). Runs on
  /// `module` as loaded; defined when a layer was found.
  std::shared_ptr<torch::jit::GraphFunction> tapped;
  /// The same, with the features a leaf requiring gradients (gradient methods).
  std::shared_ptr<torch::jit::GraphFunction> tapped_grad;
  /// (self, x) -> (logits, features, crossing...) and (self, features, crossing...) -> logits:
  /// the layers above the tap, re-run on modified features (Ablation-CAM).
  std::shared_ptr<torch::jit::GraphFunction> tapped_cut;
  std::shared_ptr<torch::jit::GraphFunction> upper;
  /// The same graph frozen and optimised for inference (method kTappedMethod), when
  /// options.optimize is set.
  std::optional<torch::jit::Module> frozen;
  at::Tensor weight;  ///< (K, C) float32 on `device`
  at::Tensor bias;    ///< (K) float32 on `device`, zeros when the classifier has none

  static constexpr const char* kTappedMethod = "camkit_tapped";

  /// Runs the tapped graph on a (N, C, H, W) batch, frozen when available. Thread-safe.
  std::pair<at::Tensor, at::Tensor> run(const at::Tensor& batch) const;
  /// Runs the gradient graph with grad mode on: features is a leaf requiring gradients.
  std::pair<at::Tensor, at::Tensor> run_with_grad(const at::Tensor& batch) const;
  /// The logits the CAM head computes from `features` (N, C, h, w): pooling, the slice
  /// reduction of exam models, the classifier. Comparing them with the model's own logits is
  /// the CAM identity check.
  at::Tensor head_logits(const at::Tensor& features) const;
  /// Runs `fn` on (self, args...) and returns its output.
  c10::IValue call(torch::jit::GraphFunction& fn, std::vector<c10::IValue> args) const;
};

}  // namespace camkit
