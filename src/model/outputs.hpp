// Which of a model's outputs holds the logits: a single tensor, an element of a returned tuple
// or named tuple, or a value of a returned dict. Private to the model area.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/layout.hpp"

namespace camkit::detail {

struct OutputCandidate {
  std::string name;  ///< "" for a single tensor, "0", "1", ... for tuples, the key for dicts
  std::string field;  ///< a named tuple's field name, else ""
  torch::jit::Value* value = nullptr;
};

/// The tensors the model returns, found in the graph (nested tuples as "0.1"). Throws
/// Error(model) when the output is built in a way that cannot be followed.
std::vector<OutputCandidate> output_candidates(torch::jit::Graph& graph, const std::string& path);

/// The chosen output: `requested` (a name, field or index: --output / metadata "output"), else
/// the only tensor, else a dict's "logits", else the one 2-D output whose size is `classes`
/// (from metadata or labels; 0 = unknown). Throws Error(model) naming the candidates and
/// --output when the choice is ambiguous or nothing fits; Error(usage) for an unknown
/// `requested`. `chosen_by` says which rule decided.
const OutputCandidate& choose_output(const std::vector<OutputCandidate>& candidates,
                                     const Shapes& shapes, const std::string& requested,
                                     int classes, const std::string& path,
                                     std::string* chosen_by);

/// "0 [2, 512], 1 [2, 10]" for messages.
std::string describe_candidates(const std::vector<OutputCandidate>& candidates,
                                const Shapes& shapes);

}  // namespace camkit::detail
