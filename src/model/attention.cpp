#include "model/attention.hpp"

#include <set>

namespace camkit::detail {
namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

bool is_product(const Node* n) {
  static const std::set<std::string> ops = {"aten::bmm", "aten::matmul", "aten::baddbmm",
                                            "aten::einsum"};
  return ops.count(n->kind().toQualString()) > 0;
}

// The scores' producer, past a scale, a mask or a relative position bias.
bool from_scores(Value* v) {
  static const std::set<std::string> through = {
      "aten::add", "aten::add_", "aten::sub", "aten::div", "aten::div_", "aten::mul",
      "aten::mul_", "aten::masked_fill", "aten::masked_fill_", "aten::to", "aten::view",
      "aten::reshape"};
  for (int hops = 0; hops < 8; ++hops) {
    const Node* n = v->node();
    if (is_product(n)) return true;
    if (!through.count(n->kind().toQualString()) || n->inputs().empty()) return false;
    v = n->input(0);
  }
  return false;
}

// Whether the probabilities multiply the values: the first factor of a product, maybe after
// dropout (the identity in eval mode) or a cast.
bool weights_values(Value* v) {
  for (const torch::jit::Use& use : v->uses()) {
    Node* n = use.user;
    // A value a branch returns (scripted F.softmax chooses its dtype in an If): follow the
    // branch node's output.
    if (n->kind() == c10::prim::Return && n->owningBlock()->owningNode()) {
      if (weights_values(n->owningBlock()->owningNode()->output(use.offset))) return true;
      continue;
    }
    const std::string k = n->kind().toQualString();
    if (is_product(n) && use.offset == (k == "aten::einsum" ? 1 : 0)) return true;
    if ((k == "aten::dropout" || k == "aten::dropout_" || k == "aten::to") &&
        weights_values(n->output()))
      return true;
  }
  return false;
}

// A softmax over a constant dimension; that it is the keys' (the last) is checked on the
// probabilities' shape when they are used.
bool over_constant_dim(const Node* softmax) {
  auto iv = torch::jit::toIValue(softmax->input(1));
  return iv && iv->isInt();
}

void visit(Block* block, bool nested, AttentionMaps& out, size_t& hidden) {
  for (Node* n : block->nodes()) {
    for (Block* b : n->blocks()) visit(b, true, out, hidden);
    if (n->kind() != c10::aten::softmax || !over_constant_dim(n)) continue;
    if (!from_scores(n->input(0)) || !weights_values(n->output())) continue;
    if (nested)
      ++hidden;
    else
      out.values.push_back(n->output());
  }
}

}  // namespace

AttentionMaps find_attention(torch::jit::Graph& graph) {
  AttentionMaps out;
  size_t hidden = 0;
  visit(graph.block(), false, out, hidden);
  if (out.values.empty())
    out.reason = hidden > 0 ? "its attention probabilities are computed under control flow (a "
                              "scripted nn.MultiheadAttention): export the model traced"
                            : "no attention probabilities (softmax(q k^T) multiplying the "
                              "values) found in the graph";
  return out;
}

}  // namespace camkit::detail
