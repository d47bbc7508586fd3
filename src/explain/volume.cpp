// Explainer::explain_volume: one map per slice of an exam (MRNet-style models, docs/volumes.md).
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"
#include "model/layout.hpp"

namespace camkit {

VolumeExplanation Explainer::explain_volume(const std::vector<Prepared>& slices,
                                            VolumeLayout layout,
                                            const ExplainOptions& options) const {
  if (slices.empty()) throw Error(ErrorCode::input, "the volume has no slices");
  const Model::Impl& m = model_.impl();
  const Method method = options.method;
  if (method == Method::scorecam || method == Method::ablationcam ||
      method == Method::smoothgradcam_pp || method == Method::guided_backprop ||
      method == Method::guided_gradcam || method == Method::sscam || method == Method::iscam ||
      method == Method::fullgrad)
    throw Error(ErrorCode::usage, method_name(method) +
                                      " is not available for volumes; use cam, a gradient "
                                      "method or eigencam");
  if (options.aug_smooth)
    throw Error(ErrorCode::usage, "--aug-smooth is not available for volumes");
  detail::check_method(model_, options);

  std::vector<const Prepared*> inputs;
  for (const Prepared& p : slices) inputs.push_back(&p);
  at::Tensor batch = detail::to_batch(inputs, m.input.channels);
  if (layout == VolumeLayout::stacked) batch = batch.unsqueeze(0);
  const bool gradients = detail::is_gradient_method(method);
  const auto [logits, features] = detail::run_tapped(m, method, batch);
  const int64_t s = static_cast<int64_t>(slices.size());
  // The slices' activations as (S, C, h, w): a stacked model may keep the leading exam
  // dimension, which the layout squeezes away.
  const at::Tensor a = detail::channels_first(features, m.layout).detach().to(at::kFloat);
  if (a.dim() != 4 || a.size(0) != s)
    throw Error(ErrorCode::model, "the tapped layer " + m.layer.layer + " has shape " +
                                      c10::str(features.sizes()) + " for " + std::to_string(s) +
                                      " slices; volume methods need one (C, h, w) map per "
                                      "slice: (S, C, h, w)");
  at::Tensor lg = logits.detach().to(at::kCPU, at::kFloat);
  lg = lg.dim() == 1 ? lg.unsqueeze(0) : lg.reshape({lg.size(0), -1});
  // One row of logits per exam, or one per slice (a per-slice classifier fed the batch).
  const bool per_slice_logits = lg.size(0) == s && s > 1;
  if (lg.size(0) != 1 && !per_slice_logits)
    throw Error(ErrorCode::model, "the model returns " + std::to_string(lg.size(0)) +
                                      " rows of logits for " + std::to_string(s) +
                                      " slices; expected 1 (the exam) or one per slice");
  const at::Tensor exam = (per_slice_logits ? std::get<0>(lg.max(0, true)) : lg).contiguous();
  detail::check_finite(lg, "the model's logits");
  detail::Selection sel = detail::select_classes(exam, options, model_);
  const std::vector<int>& classes = sel.classes.front();

  VolumeExplanation out;
  out.task = model_.task();
  out.binary = out.task == Task::binary;
  out.layer = m.layer.layer;
  out.layout = m.layout.name();
  out.feature_shape = {static_cast<int>(a.size(1)), static_cast<int>(a.size(2)),
                       static_cast<int>(a.size(3))};
  out.positives = sel.explanations.front().positives;
  out.method = method;
  out.predictions = sel.explanations.front().predictions;
  if (per_slice_logits) {
    const at::Tensor sc = detail::scores_of(lg, out.task).contiguous();
    for (int64_t i = 0; i < s; ++i)
      out.slice_scores.emplace_back(sc[i].data_ptr<float>(), sc[i].data_ptr<float>() + sc.size(1));
  }

  // maps[j]: (S, h, w) for classes[j].
  std::vector<at::Tensor> maps;
  if (method == Method::cam) {
    torch::NoGradGuard no_grad;
    // The identity on the exam: pooled slices, reduced over the slices, through the classifier.
    detail::check_cam(m, a, lg,
                      "the head does not pool each slice globally and reduce over the slices");
    for (int c : classes) maps.push_back(at::einsum("c,schw->shw", {m.weight[c], a}));
  } else if (gradients) {
    for (size_t j = 0; j < classes.size(); ++j) {
      // The exam's logit (or each slice's own, for per-slice logits) for class c_j.
      at::Tensor go = at::zeros_like(logits);
      go.view({lg.size(0), -1}).select(1, classes[j]).fill_(1);
      const at::Tensor g =
          detail::channels_first(torch::autograd::grad({logits}, {features}, {go},
                                                       /*retain_graph=*/j + 1 < classes.size())[0],
                                 m.layout);
      torch::NoGradGuard no_grad;
      std::vector<at::Tensor> per;
      for (int64_t i = 0; i < s; ++i)
        per.push_back(
            detail::gradient_map(method, a[i], g[i].to(at::kFloat), options.eigen_smooth));
      maps.push_back(at::stack(per));
    }
  } else {  // Eigen-CAM: class-independent, per slice
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> per;
    for (int64_t i = 0; i < s; ++i) per.push_back(methods::eigencam(a[i]));
    const at::Tensor all = at::stack(per);
    maps.assign(classes.size(), all);
  }

  const at::Tensor sc = detail::scores_of(exam, out.task).contiguous();
  for (size_t j = 0; j < classes.size(); ++j) {
    VolumeClassMaps vm;
    vm.prediction =
        detail::predict(model_, exam.data_ptr<float>(), sc.data_ptr<float>(), classes[j], options);
    const at::Tensor mj = maps[j].to(at::kCPU, at::kFloat);
    detail::check_finite(mj, "the maps");
    for (int64_t i = 0; i < s; ++i) vm.slices.push_back(detail::to_map(mj[i]));
    out.maps.push_back(std::move(vm));
  }
  return out;
}

}  // namespace camkit
