// Finding a transformer's attention probabilities in the inlined graph (for gradient-weighted
// attention relevance, docs/methods.md). Private to the model and explain areas.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <string>
#include <vector>

namespace camkit::detail {

struct AttentionMaps {
  /// The softmax outputs softmax(q k^T / sqrt(d) [+ mask]) that multiply the values, one per
  /// attention layer, in graph order; each (B*heads, T, T) or (B, heads, T, T).
  std::vector<torch::jit::Value*> values;
  /// Why none could be used, when `values` is empty.
  std::string reason;
};

/// The attention probabilities of `graph`: softmax nodes over the last dimension whose input is
/// a product of two activations (bmm, matmul, baddbmm, einsum, possibly scaled, shifted by a
/// mask or bias) and whose output, through dropout, is the first factor of the product with the
/// values. Only top-level values can be tapped: attention computed inside control flow (a
/// scripted nn.MultiheadAttention) is reported in `reason`.
AttentionMaps find_attention(torch::jit::Graph& graph);

}  // namespace camkit::detail
