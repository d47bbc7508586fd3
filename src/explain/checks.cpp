// What must hold before a method runs, checked once per model on the probe input, and the
// numeric checks on every batch (CAM identity, finite results).
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"
#include "model/layout.hpp"
#include "model/probe.hpp"

namespace camkit::detail {
namespace {

// The graph cut at the layer runs, and its upper part reproduces the logits.
std::string check_cut(const Model::Impl& m) {
  try {
    torch::NoGradGuard no_grad;
    const auto t = m.call(m.cut_fn(), {m.probe}).toTuple();
    std::vector<c10::IValue> args(t->elements().begin() + 1, t->elements().end());
    const at::Tensor upper = m.call(m.upper_fn(), args).toTensor();
    const at::Tensor full = t->elements()[0].toTensor();
    const double scale = std::max(1.0, full.abs().max().item<double>());
    if ((upper.to(at::kFloat) - full.to(at::kFloat)).abs().max().item<double>() > 1e-3 * scale)
      return "the layers above " + m.layer.layer +
             " do not reproduce the logits when re-run on its output; use another layer";
  } catch (const std::exception& e) {
    return "the model cannot be cut at layer " + m.layer.layer + ": " + torch_error(e.what());
  }
  return "";
}

}  // namespace

bool is_gradient_method(Method m) {
  return m == Method::gradcam || m == Method::gradcam_pp || m == Method::xgradcam ||
         m == Method::layercam || m == Method::hirescam || m == Method::gradcam_elementwise ||
         m == Method::eigengradcam;
}

void check_method(const Model& model, const ExplainOptions& options) {
  const Model::Impl& m = model.impl();
  const Method method = options.method;
  if (method == Method::cam && !m.cam_layer_error.empty())
    throw Error(ErrorCode::usage, m.cam_layer_error);
  if (method == Method::cam && !m.head.found)
    throw Error(ErrorCode::model, model.path() + ": no CAM head: " + m.head.reason +
                                      ". Gradient-based methods explain models without one: "
                                      "--method gradcam");
  if (!m.layer.found) throw Error(ErrorCode::model, model.path() + ": " + m.layer.reason);
  // Flips, guided ReLUs and FullGrad's per-layer bias maps are defined and tested on images
  // only.
  if (m.spatial_dims == 3 &&
      (method == Method::guided_backprop || method == Method::guided_gradcam ||
       method == Method::fullgrad || options.aug_smooth))
    throw Error(ErrorCode::usage,
                model.path() + ": " +
                    (options.aug_smooth ? std::string("--aug-smooth") : method_name(method)) +
                    " is for image models; 3-D models take the other methods");
  std::string why;
  // Whether gradients reach the layer was settled by the probe at load.
  check_method_options(options);
  if (is_gradient_method(method) || method == Method::smoothgradcam_pp ||
      method == Method::guided_backprop || method == Method::guided_gradcam)
    why = m.layer.gradient_error;
  else if (method == Method::ablationcam)
    why = m.checked(2, [&m] { return check_cut(m); });
  else if (method == Method::attention_relevance)
    why = m.checked(3, [&m] { return check_attention(m); });
  else if (method == Method::fullgrad)
    why = m.checked(4, [&m] { return check_fullgrad(m); });
  if (!why.empty())
    throw Error(ErrorCode::model, model.path() + ": " + method_name(method) + ": " + why);
}

std::pair<at::Tensor, at::Tensor> run_tapped(const Model::Impl& m, Method method,
                                             const at::Tensor& batch) {
  if (is_gradient_method(method)) return m.run_with_grad(batch);
  torch::NoGradGuard no_grad;
  return m.run(batch);
}

void check_cam(const Model::Impl& m, const at::Tensor& features, const at::Tensor& logits,
               const std::string& why) {
  if (features.size(1) != m.weight.size(1))
    throw Error(ErrorCode::usage,
                "layer " + m.layer.layer + " has " + std::to_string(features.size(1)) +
                    " channels; CAM needs the classifier's " + std::to_string(m.weight.size(1)));
  if (m.head.kind != "linear") return;
  const at::Tensor expected = m.head_logits(features).to(at::kCPU);
  const double scale = std::max(1.0, logits.abs().max().item<double>());
  if (expected.sizes() != logits.sizes() ||
      (expected - logits).abs().max().item<double>() > 1e-3 * scale)
    throw Error(ErrorCode::model, "the maps do not reproduce the model's logits; " + why);
}

void check_finite(const at::Tensor& t, const std::string& what) {
  if (!at::isfinite(t).all().item<bool>())
    throw Error(ErrorCode::input, what + " are not finite (NaN or Inf)");
}

}  // namespace camkit::detail
