// Gradient-weighted attention relevance (Chefer, Gur & Wolf 2021; docs/methods.md): the
// attention probabilities of every layer and their gradients, combined by the relevance rule.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"
#include "model/layout.hpp"
#include "model/probe.hpp"

namespace camkit::detail {
namespace {

struct AttentionRun {
  at::Tensor logits;             // as the model returns them, requiring gradients
  std::vector<at::Tensor> maps;  // per layer, (N * heads, T, T) or (N, heads, T, T)
};

int64_t token_count(const Layout& l) {
  int64_t cells = 1;
  for (int64_t g : l.grid) cells *= g;
  return l.prefix + cells;
}

// Runs the attention graph on `batch` with every activation recording gradients (the
// probabilities are intermediate values: each layer's gradient flows through all later ones).
AttentionRun run_attention(const Model::Impl& m, const at::Tensor& batch) {
  if (m.layout.kind != Layout::tokens || m.layout.prefix < 1)
    throw Error(ErrorCode::model,
                m.path +
                    ": attention-relevance reads the relevance of the class token for the "
                    "patch tokens; layer " +
                    m.layer.layer +
                    " is not a token sequence with a "
                    "class token (its layout is " +
                    m.layout.describe() + ")");
  c10::InferenceMode not_inference(false);  // the caller's mode may be any (Python's)
  torch::AutoGradMode grad(true);
  // The graph executor's optimised plan differentiates fused subgraphs itself and gives the
  // values they return no gradient of their own; the probabilities need autograd's.
  torch::jit::GraphOptimizerEnabledGuard plain(false);
  const at::Tensor x = batch.to(m.device).detach().requires_grad_(true);
  const auto out = m.call(m.attention_fn(), {x}).toTuple()->elements();
  AttentionRun r;
  r.logits = out[0].toTensor();
  const int64_t t = token_count(m.layout);
  for (size_t e = 2; e < out.size(); ++e) {
    const at::Tensor a = out[e].toTensor();
    if (a.dim() < 3 || a.size(-1) != t || a.size(-2) != t)
      throw Error(ErrorCode::model, m.path + ": attention probabilities of shape " +
                                        c10::str(a.sizes()) + " do not cover the layer's " +
                                        std::to_string(t) + " tokens");
    r.maps.push_back(a);
  }
  return r;
}

// Layer b's probabilities of input i as (heads, T, T).
at::Tensor of_input(const at::Tensor& a, int64_t i, int64_t n) {
  const int64_t t = a.size(-1);
  return a.reshape({n, -1, t, t})[i];
}

}  // namespace

std::string check_attention(const Model::Impl& m) {
  try {
    AttentionRun r = run_attention(m, m.probe);
    const auto g =
        torch::autograd::grad({r.logits}, r.maps, {logit_weights(r.logits)}, false, false, true);
    for (const at::Tensor& t : g)
      if (t.defined() && t.ne(0).any().item<bool>()) return "";
    return "the logits do not depend on the attention probabilities (their gradients are all "
           "zero for a probe input)";
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return gradient_failure(e.what());
  }
}

std::vector<Explanation> explain_attention(const Model& model, const at::Tensor& batch,
                                           const ExplainOptions& options) {
  const Model::Impl& m = model.impl();
  const int64_t n = batch.size(0);
  AttentionRun r = run_attention(m, batch);
  const at::Tensor lg = m.logits_rows(r.logits, n);
  check_finite(lg, "the model's logits");
  Selection sel = select_classes(lg, options, model);
  size_t rounds = 0;
  for (const auto& cls : sel.classes) rounds = std::max(rounds, cls.size());
  std::vector<std::vector<at::Tensor>> maps(n);
  for (size_t j = 0; j < rounds; ++j) {
    at::Tensor go = at::zeros_like(r.logits);
    for (int64_t i = 0; i < n; ++i)
      if (j < sel.classes[i].size()) go.view({n, -1})[i][sel.classes[i][j]] = 1;
    const std::vector<at::Tensor> g =
        torch::autograd::grad({r.logits}, r.maps, {go}, /*retain_graph=*/j + 1 < rounds,
                              /*create_graph=*/false, /*allow_unused=*/true);
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < n; ++i) {
      if (j >= sel.classes[i].size()) continue;
      std::vector<at::Tensor> a_i, g_i;
      for (size_t b = 0; b < r.maps.size(); ++b) {
        a_i.push_back(of_input(r.maps[b].detach(), i, n));
        g_i.push_back(g[b].defined() ? of_input(g[b], i, n) : at::zeros_like(a_i.back()));
      }
      // The class token is the first prefix token.
      maps[i].push_back(methods::attention_relevance(a_i, g_i, 0, m.layout.prefix, m.layout.grid));
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    Explanation& ex = sel.explanations[i];
    ex.layer = std::to_string(r.maps.size()) + " attention layers";
    ex.layout = m.layout.name();
    ex.feature_shape = {static_cast<int>(r.maps.size()), static_cast<int>(m.layout.grid[0]),
                        static_cast<int>(m.layout.grid[1])};
    if (maps[i].empty()) continue;
    const at::Tensor stack = at::stack(maps[i]);
    check_finite(stack, "the maps");
    add_maps(ex, sel.classes[i], stack, lg[i], options, model);
  }
  return std::move(sel.explanations);
}

}  // namespace camkit::detail
