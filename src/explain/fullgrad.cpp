// FullGrad (Srinivas & Fleuret 2019; docs/methods.md): the input-gradient x input plus the
// bias-gradient of every convolution with a bias and every batch norm (folded into its
// equivalent bias), each post-processed and summed at input resolution. The biases and the
// layer outputs are found in a copy of the inlined forward; the user's model is never changed.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"
#include "model/tap.hpp"

namespace camkit::detail {
namespace {

using torch::jit::Node;
using torch::jit::Value;

bool is_conv(const Node* n) {
  static const char* kinds[] = {"aten::_convolution",     "aten::convolution",
                                "aten::conv1d",           "aten::conv2d",
                                "aten::conv3d",           "aten::conv_transpose1d",
                                "aten::conv_transpose2d", "aten::conv_transpose3d"};
  for (const char* k : kinds)
    if (n->kind() == c10::Symbol::fromQualString(k)) return true;
  return false;
}

bool is_batch_norm(const Node* n) {
  return n->kind() == c10::Symbol::fromQualString("aten::batch_norm");
}

bool is_none(const Value* v) {
  return v->type()->kind() == c10::TypeKind::NoneType;
}

// A layer whose bias counts: its output and the values its equivalent bias is made of.
struct Site {
  bool batch_norm = false;
  size_t output = 0;  // index of the layer's output in the graph's returned tuple
  size_t first = 0;   // index of its first parameter there
  bool has_weight = false, has_bias = false;
  double eps = 0;
};

struct Plan {
  std::shared_ptr<torch::jit::GraphFunction> fn;  // (self, x) -> (logits, outputs, params...)
  std::vector<Site> sites;
};

void count_nested(torch::jit::Block* block, int* nested) {
  for (Node* n : block->nodes())
    for (torch::jit::Block* b : n->blocks()) {
      for (Node* inner : b->nodes())
        if (is_conv(inner) || is_batch_norm(inner)) ++*nested;
      count_nested(b, nested);
    }
}

Plan plan_of(const Model::Impl& m) {
  torch::jit::Graph& graph = *m.graph;
  int nested = 0;
  count_nested(graph.block(), &nested);
  if (nested > 0)
    throw Error(ErrorCode::model,
                m.path + ": fullgrad: " + std::to_string(nested) +
                    " convolutions or batch norms lie inside control flow, whose outputs camkit "
                    "cannot return; export the model traced");
  Plan plan;
  std::vector<Value*> values{m.logits};
  for (Node* n : graph.nodes()) {
    Site s;
    std::vector<Value*> params;
    if (is_conv(n)) {
      if (is_none(n->input(2))) continue;  // a convolution without bias has none to count
      params = {n->input(2)};
      s.has_bias = true;
    } else if (is_batch_norm(n)) {
      // (input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)
      if (is_none(n->input(3)) || is_none(n->input(4)))
        throw Error(ErrorCode::model, m.path +
                                          ": fullgrad: a batch norm without running statistics "
                                          "is not an affine map and has no equivalent bias");
      const auto eps = torch::jit::toIValue(n->input(7));
      if (!eps)
        throw Error(ErrorCode::model, m.path + ": fullgrad: a batch norm's eps is not a constant");
      s.batch_norm = true;
      s.eps = eps->toDouble();
      s.has_weight = !is_none(n->input(1));
      s.has_bias = !is_none(n->input(2));
      params = {n->input(3), n->input(4)};
      if (s.has_weight) params.push_back(n->input(1));
      if (s.has_bias) params.push_back(n->input(2));
    } else {
      continue;
    }
    s.output = values.size();
    values.push_back(n->output(0));
    s.first = values.size();
    values.insert(values.end(), params.begin(), params.end());
    plan.sites.push_back(s);
  }
  if (plan.sites.empty())
    throw Error(ErrorCode::model, m.path +
                                      ": fullgrad: the model has no convolution with a bias and "
                                      "no batch norm, so FullGrad is the input-gradient x input "
                                      "alone; use guided-backprop or a CAM method");
  std::shared_ptr<torch::jit::Graph> g = returning_graph(graph, values);
  Node* tuple = g->outputs().at(0)->node();
  const std::vector<Value*> returned(tuple->inputs().begin(), tuple->inputs().end());
  // Later readers of each layer output read a clone of it: in-place ops after the layer (a
  // ReLU's relu_, a residual add_) then leave the returned value, and its gradient, its own.
  for (const Site& s : plan.sites) {
    Value* out = returned[s.output];
    torch::jit::WithInsertPoint here(out->node()->next());
    Value* copy = g->insert(c10::aten::clone, {out});
    out->replaceAllUsesAfterNodeWith(copy->node(), copy);
    for (size_t i = 0; i < returned.size(); ++i) tuple->replaceInput(i, returned[i]);
  }
  plan.fn = std::make_shared<torch::jit::GraphFunction>("camkit_fullgrad", g, nullptr);
  return plan;
}

// The equivalent bias (C) of a site from the returned values: the convolution's bias, or
// bias - running_mean * weight / sqrt(running_var + eps) of a batch norm in eval mode.
at::Tensor bias_of(const Site& s, const std::vector<c10::IValue>& out) {
  if (!s.batch_norm) return out[s.first].toTensor().detach();
  const at::Tensor mean = out[s.first].toTensor().detach();
  const at::Tensor var = out[s.first + 1].toTensor().detach();
  size_t next = s.first + 2;
  const at::Tensor w = s.has_weight ? out[next++].toTensor().detach() : at::ones_like(mean);
  const at::Tensor b = s.has_bias ? out[next].toTensor().detach() : at::zeros_like(mean);
  return b - mean * w / (var + s.eps).sqrt();
}

}  // namespace

std::string check_fullgrad(const Model::Impl& m) {
  try {
    plan_of(m);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<Explanation> explain_fullgrad(const Model& model,
                                          const std::vector<const Prepared*>& inputs,
                                          const ExplainOptions& options) {
  const Model::Impl& m = model.impl();
  const Plan plan = plan_of(m);
  c10::InferenceMode not_inference(false);  // the caller's mode may be any (Python's)
  torch::AutoGradMode grad_mode(true);
  // The executor's optimised plan differentiates fused subgraphs itself and gives the values
  // they return no gradient of their own; the layer outputs need autograd's.
  torch::jit::GraphOptimizerEnabledGuard plain(false);
  std::vector<Explanation> result;
  for (const Prepared* p : inputs) {
    const at::Tensor x = to_batch({p}, m.input.channels).to(m.device).requires_grad_(true);
    const std::vector<c10::IValue> out = m.call(*plan.fn, {x}).toTuple()->elements();
    const at::Tensor logits = out[0].toTensor();
    const at::Tensor lg = m.logits_rows(logits, 1);
    check_finite(lg, "the model's logits");
    Selection sel = select_classes(lg, options, model);
    Explanation& ex = sel.explanations[0];
    ex.layer = "input + " + std::to_string(plan.sites.size()) + " bias layers";
    ex.layout = "input";
    ex.feature_shape = {p->height, p->width};
    const std::vector<int>& cls = sel.classes[0];
    std::vector<at::Tensor> wrt{x};
    for (const Site& s : plan.sites) wrt.push_back(out[s.output].toTensor());
    std::vector<at::Tensor> maps;
    for (size_t j = 0; j < cls.size(); ++j) {
      at::Tensor go = at::zeros_like(logits);
      go.view({1, -1}).select(1, cls[j]).fill_(1);
      const std::vector<at::Tensor> g =
          torch::autograd::grad({logits}, wrt, {go}, /*retain_graph=*/j + 1 < cls.size(),
                                /*create_graph=*/false, /*allow_unused=*/true);
      torch::NoGradGuard no_grad;
      const std::vector<int64_t> size{p->height, p->width};
      at::Tensor map = methods::fullgrad_term(g[0][0] * x.detach()[0], size);
      for (size_t l = 0; l < plan.sites.size(); ++l) {
        const at::Tensor& gl = g[l + 1];
        // Only layers whose output is a map like the input (N, C, h, w) count, as in the
        // authors' code; a layer the logits do not depend on adds nothing.
        if (!gl.defined() || gl.dim() != x.dim()) continue;
        const at::Tensor b = bias_of(plan.sites[l], out).to(gl.device(), gl.scalar_type());
        map = map + methods::fullgrad_term(gl[0] * b.view({-1, 1, 1}), size);
      }
      maps.push_back(map.to(at::kCPU, at::kFloat));
    }
    if (!maps.empty()) {
      const at::Tensor stack = at::stack(maps);
      check_finite(stack, "the maps");
      add_maps(ex, cls, stack, lg[0], options, model);
    }
    result.push_back(std::move(ex));
  }
  return result;
}

}  // namespace camkit::detail
