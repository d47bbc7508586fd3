// Probe runs at load: the model run once on a seeded input to learn the sizes of its values,
// and once with autograd to find the default layer of models without a CAM head.
// Private to the model area.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <string>
#include <vector>

#include "model/layout.hpp"
#include "model/model_impl.hpp"

namespace camkit::detail {

/// A seeded probe input of `batch` inputs of the model's declared (or probe) size; exam models
/// get a stack of two slices.
at::Tensor probe_input(const Model::Impl& m, int64_t batch);

struct Probe {
  Shapes shapes;                 ///< sizes of the measured values
  std::vector<at::Tensor> kept;  ///< the kept tensors, in the order asked
  int batch = 2;                 ///< the probe's batch size (1 when the model takes no other)
};

/// Runs `graph` on a probe input of batch 2 (batch 1 when that is all the model runs), keeping
/// `keep` and measuring `measure`. Throws Error(model) naming the input tried when the model
/// does not run on it.
Probe run_probe(const Model::Impl& m, torch::jit::Graph& graph,
                const std::vector<torch::jit::Value*>& keep,
                const std::vector<torch::jit::Value*>& measure);

struct Candidate {
  torch::jit::Value* value = nullptr;
  Layout layout;
};

struct DefaultLayer {
  const Candidate* chosen = nullptr;  ///< nullptr when none qualifies
  std::string reason;                 ///< why none qualifies
  std::string gradient_error;         ///< set when gradients do not flow through the model
};

/// The default layer of a model without a CAM head: of `candidates` (values with a known layout
/// and spatial extent, in graph order), the last one whose map positions the logits depend
/// on: the gradient of logit_weights() . logits there is not identically zero for the probe. Later values that the
/// logits read only through other tokens (a ViT's final LayerNorm, read through its class
/// token) or not at all are passed over. One forward with autograd, then one backward per
/// candidate tried, each only through the layers above it.
DefaultLayer default_layer(const Model::Impl& m, torch::jit::Graph& graph,
                           const std::vector<Candidate>& candidates);

/// Seeded random weights for logits (the probe's target): the gradient of sum_c w_c y_c is
/// zero only where every class's gradient is (a class that depends on nothing, like a
/// constant bias logit, does not hide the others).
at::Tensor logit_weights(const at::Tensor& logits);

/// The one line of a LibTorch error that says why (TorchScript wraps it in a traceback).
std::string torch_error(const std::string& what);

/// "derivative for aten::_native_multi_head_attention is not implemented" in user terms.
std::string gradient_failure(const std::string& what);

}  // namespace camkit::detail
