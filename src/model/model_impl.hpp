// The loaded network behind camkit::Model. Private; shared by the model and explain areas.
#pragma once

#include <torch/script.h>

#include <mutex>
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
  /// forward(x) -> (logits, features), frozen and optimised unless options.optimize is off.
  /// Defined only when a head (or a --layer) was found.
  torch::jit::Module tapped;
  at::Tensor weight;  ///< (K, C) float32 on `device`
  at::Tensor bias;    ///< (K) float32 on `device`, zeros when the classifier has none

  /// Runs the tapped graph on a (N, C, H, W) batch. Thread-safe.
  std::pair<at::Tensor, at::Tensor> run(const at::Tensor& batch) const;
};

}  // namespace camkit
