#include "model/probe.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include "camkit/error.hpp"
#include "model/graph.hpp"
#include "model/tap.hpp"

namespace camkit::detail {

at::Tensor probe_input(const Model::Impl& m, int64_t batch) {
  Preprocess pre = m.metadata.preprocess.value_or(Preprocess{});
  int h = pre.input_height(), w = pre.input_width();
  if (h == 0 && m.input.height > 0) h = m.input.height, w = m.input.width;
  if (h == 0 && m.options.probe_height > 0) h = m.options.probe_height, w = m.options.probe_width;
  const bool three_d = m.spatial_dims == 3;
  if (h == 0) h = w = three_d ? 112 : 224;
  const int c = m.input.channels > 0 ? m.input.channels : 3;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  if (three_d) {
    int d = pre.input_depth() > 0 ? pre.input_depth() : m.input.depth;
    if (d == 0) d = m.options.probe_depth > 0 ? m.options.probe_depth : 16;
    return at::randn({batch, c, d, h, w}, gen).to(m.device);
  }
  // Exam models take a stack of slices: two, so that a reduction over them is exercised.
  if (m.metadata.volume == "stacked") return at::randn({1, 2, c, h, w}, gen).to(m.device);
  if (m.metadata.volume == "batch") return at::randn({2, c, h, w}, gen).to(m.device);
  return at::randn({batch, c, h, w}, gen).to(m.device);
}

Probe run_probe(const Model::Impl& m, torch::jit::Graph& graph,
                const std::vector<torch::jit::Value*>& measure) {
  torch::jit::GraphFunction fn("camkit_probe", returning_graph(graph, measure), nullptr);
  // The plain interpreter: the optimised plan would differentiate fused subgraphs itself, and
  // the values it returns would have no gradients of their own.
  torch::jit::GraphOptimizerEnabledGuard plain(false);
  const at::Tensor x = probe_input(m, 1);
  auto run = [&](bool grad) {
    torch::AutoGradMode mode(grad);
    return m.call(fn, {grad ? x.detach().requires_grad_(true) : x}).toTuple()->elements();
  };
  Probe p;
  std::vector<c10::IValue> values;
  try {
    values = run(true);
  } catch (const std::exception& with_grad) {
    try {
      values = run(false);
      p.gradient_error = gradient_failure(with_grad.what());
    } catch (const std::exception& e) {
      throw Error(ErrorCode::model,
                  m.path + ": the model does not run on a seeded input of size " +
                      c10::str(x.sizes()) + " (" + torch_error(e.what()) +
                      "); declare its input size: tools/export_model.py --meta-only MODEL "
                      "--size H,W (3-D models: --size D,H,W) (or pass --size / --crop)");
    }
  }
  for (size_t i = 0; i < measure.size(); ++i) {
    const at::Tensor t = values[i].toTensor();
    p.shapes[measure[i]] = t.sizes().vec();
    p.tensors[measure[i]] = t;
  }
  p.shapes[graph.inputs().at(1)] = x.sizes().vec();
  return p;
}

bool fixed_batch(torch::jit::Graph& graph, const AxisMap& axes) {
  static const std::set<std::string> sized = {"aten::view", "aten::reshape", "aten::expand",
                                              "aten::_unsafe_view"};
  for (torch::jit::Node* n : graph.nodes()) {
    if (!sized.count(n->kind().toQualString()) || n->inputs().size() < 2) continue;
    const torch::jit::Node* list = n->input(1)->node();
    const Axes* out = axes.find(n->output());
    if (list->kind() != c10::prim::ListConstruct || !out || list->inputs().size() != out->size())
      continue;
    for (size_t d = 0; d < out->size(); ++d)
      if ((*out)[d].kind == Axis::batch && torch::jit::toIValue(list->input(d))) return true;
  }
  return false;
}

at::Tensor logit_weights(const at::Tensor& logits) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  return at::randn(logits.sizes(), gen, logits.options().device(at::kCPU)).to(logits.device());
}

std::string torch_error(const std::string& what) {
  // TorchScript wraps the reason: "The following operation failed in the TorchScript
  // interpreter. Traceback ... RuntimeError: <reason>"; the reason is the line to show.
  std::string line = what.substr(0, what.find('\n'));
  const size_t at = what.rfind("Error: ");
  if (line.find("The following operation failed") != std::string::npos && at != std::string::npos)
    line = what.substr(at + 7, what.find('\n', at) - at - 7);
  return line.size() > 240 ? line.substr(0, 240) + "..." : line;
}

std::string gradient_failure(const std::string& what) {
  std::string why = torch_error(what);
  if (why.find("derivative for") != std::string::npos)
    why +=
        " (the model was exported without autograd, e.g. traced under torch.no_grad(), which "
        "records inference-only kernels; re-export it with tools/export_model.py)";
  return "gradients do not flow back through the model: " + why;
}

namespace {

// The probe's target: a seeded random combination of every logit.
at::Tensor target(const at::Tensor& logits) {
  return (logits * logit_weights(logits)).sum();
}

// The gradient of the target at `a`; undefined when the target does not depend on it.
at::Tensor gradient(const at::Tensor& y, const at::Tensor& a) {
  if (!a.requires_grad()) return {};
  return torch::autograd::grad({y}, {a}, {}, /*retain_graph=*/true, /*create_graph=*/false,
                               /*allow_unused=*/true)[0];
}

bool depends(const at::Tensor& g, const Layout& layout) {
  try {
    return g.defined() && channels_first(g, layout).ne(0).any().item<bool>();
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

DefaultLayer default_layer(const Probe& probe, const at::Tensor& logits,
                           const std::vector<Candidate>& candidates) {
  DefaultLayer out;
  out.gradient_error = probe.gradient_error;
  if (candidates.empty()) {
    out.reason =
        "no activation before the output has a known layout (channels-first, channels-last or "
        "tokens) and spatial extent; name one with --layer";
    return out;
  }
  if (!probe.gradient_error.empty()) {
    out.reason = probe.gradient_error +
                 "; without gradients the default layer cannot be verified: name one with --layer";
    return out;
  }
  const at::Tensor y = target(logits);
  if (!y.requires_grad()) {
    out.reason = "the logits do not depend on the input through autograd";
    out.gradient_error = out.reason;
    return out;
  }
  // From the output back: the last candidate alone, then windows of 2, 4, 8 ... candidates,
  // each window's gradients in one backward pass (it goes down to the window's first
  // candidate, no further), the latest candidate that depends on its positions chosen.
  size_t end = candidates.size();
  for (size_t width = 1; end > 0; width *= 2) {
    const size_t begin = end > width ? end - width : 0;
    std::vector<at::Tensor> inputs;
    std::vector<size_t> index;
    for (size_t i = begin; i < end; ++i) {
      const at::Tensor& a = probe.at(candidates[i].value);
      if (a.requires_grad()) inputs.push_back(a), index.push_back(i);
    }
    std::vector<at::Tensor> grads;
    try {
      if (!inputs.empty())
        grads = torch::autograd::grad({y}, inputs, {}, /*retain_graph=*/true,
                                      /*create_graph=*/false, /*allow_unused=*/true);
    } catch (const std::exception& e) {
      out.gradient_error = gradient_failure(e.what());
      out.reason = out.gradient_error +
                   "; without gradients the default layer cannot be "
                   "verified: name one with --layer";
      return out;
    }
    for (size_t k = grads.size(); k-- > 0;)
      if (depends(grads[k], candidates[index[k]].layout)) {
        out.chosen = &candidates[index[k]];
        return out;
      }
    end = begin;
  }
  out.reason =
      "the logits depend on the map positions of no activation with a known layout (their "
      "gradients are all zero for the probe input); name a layer with --layer";
  return out;
}

std::string gradients_reach(const Probe& probe, const at::Tensor& logits,
                            const at::Tensor& features, const Layout& layout) {
  if (!probe.gradient_error.empty()) return probe.gradient_error;
  try {
    const at::Tensor y = target(logits);
    if (!y.requires_grad()) return "the logits do not depend on the input through autograd";
    if (depends(gradient(y, features), layout)) return "";
  } catch (const std::exception& e) {
    return gradient_failure(e.what());
  }
  return std::string(
             "the logits do not depend on the map positions of this layer (its "
             "gradients are all zero for a probe input") +
         (layout.kind == Layout::tokens
              ? ": the classifier reads these tokens only through the prefix tokens"
              : "") +
         "); choose an earlier layer with --layer (camkit info shows the default)";
}

}  // namespace camkit::detail
