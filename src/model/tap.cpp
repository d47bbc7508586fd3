#include "model/tap.hpp"

#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <unordered_map>
#include <unordered_set>

namespace camkit::detail {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

bool is_tensor(const Value* v) {
  return v->type()->isSubtypeOf(*c10::TensorType::get());
}

// The top-level node that contains `n` (itself when it is top-level).
const Node* top_level(const Node* n, const Graph& g) {
  while (n->owningBlock() != g.block()) n = n->owningBlock()->owningNode();
  return n;
}

}  // namespace

Value* model_output(Graph& graph) {
  Value* v = graph.outputs().at(0);
  while (v->node()->kind() == c10::prim::TupleConstruct && !v->node()->inputs().empty())
    v = v->node()->input(0);
  return is_tensor(v) ? v : nullptr;
}

std::shared_ptr<Graph> returning_graph(Graph& graph, const std::vector<Value*>& values) {
  std::unordered_map<Value*, Value*> map;
  auto out = std::make_shared<Graph>();
  for (Value* in : graph.inputs()) map[in] = out->addInput()->copyMetadata(in);
  for (Node* n : graph.nodes()) {
    Node* c = out->createClone(n, [&](Value* v) { return map.at(v); });
    out->appendNode(c);
    for (size_t i = 0; i < n->outputs().size(); ++i) map[n->output(i)] = c->output(i);
  }
  std::vector<Value*> results;
  for (Value* v : values) results.push_back(map.at(v));
  Node* tuple = out->insertNode(out->createTuple(results));
  out->registerOutput(tuple->output());
  torch::jit::EliminateDeadCode(out);
  return out;
}

std::shared_ptr<Graph> tapped_graph(Graph& graph, Value* logits, Value* features,
                                    const std::vector<Value*>& extra) {
  std::vector<Value*> values{logits, features};
  values.insert(values.end(), extra.begin(), extra.end());
  return returning_graph(graph, values);
}

std::shared_ptr<Graph> gradient_graph(Graph& tapped) {
  std::shared_ptr<Graph> g = tapped.copy();
  Node* tuple = g->outputs().at(0)->node();
  Value* features = tuple->input(1);
  // leaf = detach(A).requires_grad_(); the layers above read clone(leaf), so their in-place ops
  // (DenseNet's relu_) never touch the leaf itself.
  torch::jit::WithInsertPoint guard(features->node()->next());
  Value* detached = g->insert(c10::aten::detach, {features});
  Value* leaf = g->insert(c10::Symbol::fromQualString("aten::requires_grad_"), {detached, true});
  Value* copy = g->insert(c10::aten::clone, {leaf});
  features->replaceAllUsesAfterNodeWith(copy->node(), copy);
  // replaceAllUsesAfterNodeWith also rewired the tuple; it must return the leaf itself.
  tuple->replaceInput(1, leaf);
  detached->node()->replaceInput(0, features);
  return g;
}

std::shared_ptr<Graph> upper_graph(Graph& graph, Value* logits, Value* features,
                                   std::vector<Value*>* crossing) {
  std::unordered_map<const Node*, size_t> order;
  size_t i = 0;
  for (Node* n : graph.nodes()) order[n] = i++;
  const size_t tap = order.at(top_level(features->node(), graph));

  auto out = std::make_shared<Graph>();
  std::unordered_map<Value*, Value*> map;
  map[graph.inputs().at(0)] = out->addInput("self")->setType(graph.inputs().at(0)->type());
  map[features] = out->addInput("features")->setType(features->type());
  std::function<Value*(Value*)> get = [&](Value* v) -> Value* {
    if (auto it = map.find(v); it != map.end()) return it->second;
    Node* n = v->node();
    const bool below =
        n->kind() == c10::prim::Param || (n->owningBlock() == graph.block() && order.at(n) <= tap);
    const bool recomputable = n->kind() == c10::prim::Constant || n->kind() == c10::prim::GetAttr ||
                              n->kind() == c10::prim::ListConstruct;
    if (below && !recomputable) {
      crossing->push_back(v);
      return map[v] = out->addInput()->setType(v->type());
    }
    Node* c = out->createClone(n, get);
    out->appendNode(c);
    for (size_t k = 0; k < n->outputs().size(); ++k) map[n->output(k)] = c->output(k);
    return map.at(v);
  };
  out->registerOutput(get(logits));
  return out;
}

std::vector<Value*> ancestor_tensors(Graph& graph, Value* logits) {
  std::unordered_set<const Value*> seen;
  std::vector<Value*> todo{logits};
  while (!todo.empty()) {
    Value* v = todo.back();
    todo.pop_back();
    if (!seen.insert(v).second) continue;
    Node* n = const_cast<Node*>(top_level(v->node(), graph));
    for (Value* in : n->inputs()) todo.push_back(in);
    for (torch::jit::Block* b : n->blocks())
      for (Node* inner : b->nodes())
        for (Value* in : inner->inputs()) todo.push_back(in);
  }
  std::vector<Value*> out;
  for (Node* n : graph.nodes())
    for (Value* v : n->outputs())
      if (is_tensor(v) && seen.count(v) && n->kind() != c10::prim::Constant &&
          n->kind() != c10::prim::GetAttr)
        out.push_back(v);
  return out;
}

}  // namespace camkit::detail
