// Graph surgery on the inlined forward: which value to tap, and the graphs camkit runs.
// Private to the model area.
#pragma once

#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <memory>
#include <vector>

namespace camkit::detail {

/// The tensor the model returns (the first tensor of a returned tuple).
torch::jit::Value* model_output(torch::jit::Graph& graph);

/// (self, x) -> (logits, features, extra...) as a new graph cloned from `graph`.
std::shared_ptr<torch::jit::Graph> tapped_graph(torch::jit::Graph& graph, torch::jit::Value* logits,
                                                torch::jit::Value* features,
                                                const std::vector<torch::jit::Value*>& extra = {});

/// A copy of `tapped` (from tapped_graph) in which the features are a fresh leaf requiring
/// gradients: d logits / d features then runs only through the layers above the tap, and
/// nothing below it records autograd history.
std::shared_ptr<torch::jit::Graph> gradient_graph(torch::jit::Graph& tapped);

/// The part of `graph` above the tap: (self, features, crossing...) -> logits, where crossing are
/// the values computed below the tap that the upper part also reads (a residual from before
/// the layer, say). `crossing` receives them, as values of `graph`.
std::shared_ptr<torch::jit::Graph> upper_graph(torch::jit::Graph& graph, torch::jit::Value* logits,
                                               torch::jit::Value* features,
                                               std::vector<torch::jit::Value*>* crossing);

/// (self, x) -> (values...) as a new graph cloned from `graph`.
std::shared_ptr<torch::jit::Graph> returning_graph(torch::jit::Graph& graph,
                                                   const std::vector<torch::jit::Value*>& values);

/// Tensor values of the top-level block that the logits depend on, in graph order: candidates
/// for the default layer of gradient methods.
std::vector<torch::jit::Value*> ancestor_tensors(torch::jit::Graph& graph,
                                                 torch::jit::Value* logits);

}  // namespace camkit::detail
