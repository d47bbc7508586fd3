#include "model/probe.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include "camkit/error.hpp"
#include "model/tap.hpp"

namespace camkit::detail {
namespace {

std::string first_line(const std::string& s) {
  return torch_error(s);
}

}  // namespace

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
                const std::vector<torch::jit::Value*>& keep,
                const std::vector<torch::jit::Value*>& measure) {
  torch::jit::GraphFunction fn("camkit_probe", measuring_graph(graph, keep, measure), nullptr);
  torch::NoGradGuard no_grad;
  Probe p;
  std::string failure;
  at::Tensor tried;
  // Batch 2 tells the batch dimension from the others; a graph traced with a fixed batch of
  // one runs only on that.
  for (int batch : {2, 1}) {
    p.batch = batch;
    tried = probe_input(m, batch);
    try {
      const auto out = m.call(fn, {tried}).toTuple();
      const auto& values = out->elements();
      for (size_t i = 0; i < keep.size(); ++i) p.kept.push_back(values[i].toTensor());
      for (size_t i = 0; i < measure.size(); ++i)
        p.shapes[measure[i]] = values[keep.size() + i].toIntVector();
      p.shapes[graph.inputs().at(1)] = tried.sizes().vec();
      return p;
    } catch (const std::exception& e) {
      if (failure.empty()) failure = first_line(e.what());
    }
  }
  throw Error(ErrorCode::model,
              m.path + ": the model does not run on a seeded input of size " +
                  c10::str(tried.sizes()) + " (" + failure +
                  "); declare its input size: tools/export_model.py --meta-only MODEL --size H,W "
                  "(3-D models: --size D,H,W) (or pass --size / --crop)");
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
  std::string why = first_line(what);
  if (why.find("derivative for") != std::string::npos)
    why += " (the model was exported without autograd, e.g. traced under torch.no_grad(), which "
           "records inference-only kernels; re-export it with tools/export_model.py)";
  return "gradients do not flow back through the model: " + why;
}

DefaultLayer default_layer(const Model::Impl& m, torch::jit::Graph& graph,
                           const std::vector<Candidate>& candidates) {
  DefaultLayer out;
  if (candidates.empty()) {
    out.reason =
        "no activation before the output has a known layout (channels-first, channels-last or "
        "tokens) and spatial extent; name one with --layer";
    return out;
  }
  std::vector<torch::jit::Value*> rest;
  for (size_t i = 1; i < candidates.size(); ++i) rest.push_back(candidates[i].value);
  torch::jit::GraphFunction fn(
      "camkit_default_layer", tapped_graph(graph, m.logits, candidates[0].value, rest), nullptr);
  torch::AutoGradMode grad_mode(true);
  const at::Tensor x = probe_input(m, 1).requires_grad_(true);
  std::vector<c10::IValue> values;
  try {
    values = m.call(fn, {x}).toTuple()->elements();
  } catch (const std::exception& e) {
    out.reason = "the model does not run with autograd on the probe input: " + first_line(e.what());
    out.gradient_error = out.reason;
    return out;
  }
  const at::Tensor y = (values[0].toTensor() * logit_weights(values[0].toTensor())).sum();
  if (!y.requires_grad()) {
    out.reason = "the logits do not depend on the input through autograd";
    out.gradient_error = out.reason;
    return out;
  }
  for (size_t i = candidates.size(); i-- > 0;) {
    const at::Tensor a = values[i + 1].toTensor();
    if (!a.requires_grad()) continue;
    at::Tensor g;
    try {
      g = torch::autograd::grad({y}, {a}, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                /*allow_unused=*/true)[0];
    } catch (const std::exception& e) {
      out.gradient_error = gradient_failure(e.what());
      out.reason = out.gradient_error + "; without gradients the default layer cannot be "
                                        "verified: name one with --layer";
      return out;
    }
    if (!g.defined()) continue;
    bool depends = false;
    try {
      depends = channels_first(g, candidates[i].layout).ne(0).any().item<bool>();
    } catch (const std::exception&) {
      continue;
    }
    if (depends) {
      out.chosen = &candidates[i];
      return out;
    }
  }
  out.reason =
      "the logits depend on the map positions of no activation with a known layout (their "
      "gradients are all zero for the probe input); name a layer with --layer";
  return out;
}

}  // namespace camkit::detail
