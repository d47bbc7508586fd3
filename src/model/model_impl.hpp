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
  InputSpec input;
  std::vector<std::string> modules;
  c10::Device device{c10::kCPU};

  torch::jit::Module module;  ///< as loaded, eval mode
  /// The model's forward inlined and retargeted: (self, x) -> (logits, features). Runs on
  /// `module` as loaded; defined only when a head was found.
  std::shared_ptr<torch::jit::GraphFunction> tapped;
  /// The same graph frozen and optimised for inference (method kTappedMethod), when
  /// options.optimize is set.
  std::optional<torch::jit::Module> frozen;
  at::Tensor weight;  ///< (K, C) float32 on `device`
  at::Tensor bias;    ///< (K) float32 on `device`, zeros when the classifier has none

  static constexpr const char* kTappedMethod = "camkit_tapped";

  /// Runs the tapped graph on a (N, C, H, W) batch. Thread-safe.
  std::pair<at::Tensor, at::Tensor> run(const at::Tensor& batch) const;
};

}  // namespace camkit
