// The loaded network behind camkit::Model. Private; shared by the model and explain areas.
#pragma once

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "camkit/model.hpp"
#include "model/layout.hpp"

namespace camkit {

struct Model::Impl {
  std::string path;
  ModelOptions options;
  ModelMetadata metadata;
  HeadInfo head;
  LayerInfo layer;
  OutputInfo output;
  Task task = Task::multiclass;
  std::string cam_layer_error;  ///< why CAM cannot use the --layer given, if it cannot
  int num_classes = 0;          ///< logits per input (the chosen output's second dimension)
  int max_batch = 0;            ///< 0: any batch size; 1: the graph fixes batch size 1
  InputSpec input;
  int spatial_dims = 2;  ///< spatial axes of the input (2 for images)
  std::vector<std::string> modules;
  c10::Device device{c10::kCPU};

  torch::jit::Module module;  ///< as loaded, eval mode
  /// The inlined forward the analysis ran on; the graphs below are cut from it. The values
  /// `logits` (the chosen output, before any final activation) and `features` (the tapped
  /// layer) live in it.
  std::shared_ptr<torch::jit::Graph> graph;
  torch::jit::Value* logits = nullptr;
  torch::jit::Value* features = nullptr;
  detail::Layout layout;  ///< of the tapped value
  at::Tensor probe;       ///< the probe input, batch of one (checks of methods at first use)

  /// (self, x) -> (logits, features) on `module` as loaded; defined when a layer was found.
  std::shared_ptr<torch::jit::GraphFunction> tapped;
  at::Tensor weight;  ///< (K, C) float32 on `device` (CAM head)
  at::Tensor bias;    ///< (K) float32 on `device`, zeros when the classifier has none

  static constexpr const char* kTappedMethod = "camkit_tapped";
  static constexpr const char* kLowerMethod = "camkit_lower";

  /// Runs the tapped graph on a batch, frozen when optimising. Thread-safe.
  std::pair<at::Tensor, at::Tensor> run(const at::Tensor& batch) const;
  /// Runs the gradient graph with grad mode on: features is a leaf requiring gradients. When
  /// optimising, the part below the layer runs frozen and optimised (frozen_lower).
  std::pair<at::Tensor, at::Tensor> run_with_grad(const at::Tensor& batch) const;
  /// (logits, features, crossing...) of a batch, without gradients, for the layers above to
  /// run again on modified features (upper_fn): below the layer frozen and optimised when
  /// frozen_lower() is in use, else cut_fn() as loaded. Thread-safe.
  std::vector<c10::IValue> run_cut(const at::Tensor& batch) const;
  /// (features, crossing...) of frozen_lower() on a batch, without gradients.
  std::vector<c10::IValue> run_lower(torch::jit::Module& lower, const at::Tensor& batch) const;
  /// The logits the CAM head computes from channels-first features (N, C, spatial...):
  /// pooling, the slice reduction of exam models, the classifier. Comparing them with the
  /// model's own logits is the CAM identity check.
  at::Tensor head_logits(const at::Tensor& features) const;
  /// Runs `fn` on (self, args...) and returns its output.
  c10::IValue call(const torch::jit::GraphFunction& fn, std::vector<c10::IValue> args) const;
  /// The logits as (N, K) float on the CPU, from the chosen output of a batch of N.
  at::Tensor logits_rows(const at::Tensor& logits, int64_t n) const;

  // Built on first use, once, from any thread: only the methods that need them pay for them.
  /// (self, x) -> (logits, leaf features requiring gradients) (gradient methods).
  const torch::jit::GraphFunction& gradient_fn() const;
  /// (self, x) -> (logits, features, crossing...) and (self, features, crossing...) -> logits:
  /// the layers above the tap, re-run on modified features (Ablation-CAM).
  const torch::jit::GraphFunction& cut_fn() const;
  const torch::jit::GraphFunction& upper_fn() const;
  /// The tapped graph frozen and optimised for inference; nullptr when not optimising or when
  /// the graph does not freeze.
  torch::jit::Module* frozen() const;
  /// (self, x) -> (features, crossing...) frozen and optimised, for the gradient methods;
  /// nullptr when not optimising, when it does not freeze, or when its map or the logits the
  /// upper part computes from it differ from the plain graph's by more than 1e-4 (relative)
  /// on the probe input.
  torch::jit::Module* frozen_lower() const;
  /// (self, x) -> (logits, features, A_1, ..., A_L): also every attention layer's
  /// probabilities (gradient-weighted attention relevance). Throws Error(model) with the
  /// reason when the graph has none camkit can tap.
  const torch::jit::GraphFunction& attention_fn() const;

  /// The cached verdict of a check that runs once per model (a method's probe): "" = passed,
  /// else the error message; `check` runs under the lock the first time only.
  std::string checked(int key, const std::function<std::string()>& check) const;

 private:
  mutable std::once_flag gradient_once_, cut_once_, frozen_once_, lower_once_, attention_once_;
  mutable std::vector<torch::jit::Value*> crossing_;  ///< of `graph`, read above the layer
  mutable std::shared_ptr<torch::jit::GraphFunction> gradient_, cut_, upper_, attention_;
  mutable std::string attention_error_;
  mutable std::optional<torch::jit::Module> frozen_, lower_;
  mutable std::mutex checked_mu_;
  mutable std::map<int, std::string> checked_;
};

}  // namespace camkit
