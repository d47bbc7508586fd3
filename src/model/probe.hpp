// The probe at load: the model run once on a seeded input with autograd recording, which gives
// the sizes of its values, the tensors the checks compare, and the gradients that choose and
// verify the layer. Private to the model area.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "model/layout.hpp"
#include "model/model_impl.hpp"

namespace camkit::detail {

/// A seeded probe input of `batch` inputs of the model's declared (or probe) size; exam models
/// get a stack of two slices.
at::Tensor probe_input(const Model::Impl& m, int64_t batch);

/// The one probe pass: batch 1, the input requiring gradients, every measured value kept.
struct Probe {
  Shapes shapes;  ///< sizes of the measured values and of the input
  std::unordered_map<const torch::jit::Value*, at::Tensor> tensors;  ///< the measured values
  /// Set when the pass could only run without autograd: why gradients cannot flow.
  std::string gradient_error;
  const at::Tensor& at(const torch::jit::Value* v) const { return tensors.at(v); }
};

/// Runs `graph` once on the probe input, keeping every value of `measure` (top-level tensor
/// values). Throws Error(model) naming the input tried when the model does not run on it.
Probe run_probe(const Model::Impl& m, torch::jit::Graph& graph,
                const std::vector<torch::jit::Value*>& measure);

/// Whether the graph fixes the batch size: a reshape, view or expand whose size at the batch
/// axis (from `axes`) is a constant rather than read from the input (a trace of
/// x.view(1, -1)). Such models run one input at a time.
bool fixed_batch(torch::jit::Graph& graph, const AxisMap& axes);

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
/// on: the gradient of logit_weights() . logits there is not identically zero for the probe.
/// Later values that the logits read only through other tokens (a ViT's final LayerNorm, read
/// through its class token) or not at all are passed over. Backward passes on the probe only,
/// each through the layers above the candidate tried.
DefaultLayer default_layer(const Probe& probe, const at::Tensor& logits,
                           const std::vector<Candidate>& candidates);

/// Why gradients of the probe's logits do not reach the map positions of `features` (laid out
/// as `layout`); "" when they do.
std::string gradients_reach(const Probe& probe, const at::Tensor& logits,
                            const at::Tensor& features, const Layout& layout);

/// Seeded random weights for logits (the probe's target): the gradient of sum_c w_c y_c is
/// zero only where every class's gradient is (a class that depends on nothing, like a
/// constant bias logit, does not hide the others).
at::Tensor logit_weights(const at::Tensor& logits);

/// The one line of a LibTorch error that says why (TorchScript wraps it in a traceback).
std::string torch_error(const std::string& what);

/// "derivative for aten::_native_multi_head_attention is not implemented" in user terms.
std::string gradient_failure(const std::string& what);

}  // namespace camkit::detail
