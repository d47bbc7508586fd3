// Guided backpropagation (Springenberg et al. 2015) and Guided Grad-CAM (Selvaraju et al. 2017):
// the input gradient through a copy of the graph whose ReLUs pass back only positive gradients
// of positive inputs. The user's model is never modified.
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/library.h>
#include <torch/script.h>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"
#include "model/tap.hpp"

namespace camkit::detail {
namespace {

// ReLU forward; backward ReLU(grad) where the input was positive (Springenberg et al., eq. for
// "guided backpropagation": the mask of the forward ReLU and of the backward signal at once).
class GuidedRelu : public torch::autograd::Function<GuidedRelu> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    at::AutoDispatchBelowADInplaceOrView below;
    ctx->save_for_backward({x});
    return at::relu(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    return {grad[0].clamp_min(0) * (x > 0).to(grad[0].scalar_type())};
  }
};

at::Tensor guided_relu_autograd(const at::Tensor& x) {
  return GuidedRelu::apply(x);
}

at::Tensor guided_relu_plain(const at::Tensor& x) {
  return at::relu(x);
}

TORCH_LIBRARY_FRAGMENT(camkit, m) {
  m.def("guided_relu(Tensor x) -> Tensor");
}
TORCH_LIBRARY_IMPL(camkit, CompositeExplicitAutograd, m) {
  m.impl("guided_relu", guided_relu_plain);
}
TORCH_LIBRARY_IMPL(camkit, Autograd, m) {
  m.impl("guided_relu", guided_relu_autograd);
}

// The ops treated as ReLUs: aten::relu and aten::relu_ (nn.ReLU, F.relu, Tensor.relu).
bool is_relu(const torch::jit::Node* n) {
  return n->kind() == c10::Symbol::fromQualString("aten::relu") ||
         n->kind() == c10::Symbol::fromQualString("aten::relu_");
}

void rewrite_relus(torch::jit::Block* block, int* count) {
  const c10::Symbol guided = c10::Symbol::fromQualString("camkit::guided_relu");
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    torch::jit::Node* n = *it;
    ++it;
    for (torch::jit::Block* b : n->blocks()) rewrite_relus(b, count);
    if (!is_relu(n)) continue;
    torch::jit::WithInsertPoint here(n);
    torch::jit::Value* in = n->input(0);
    torch::jit::Value* out = block->owningGraph()->insert(guided, {in});
    out->setType(n->output()->type());
    n->output()->replaceAllUsesWith(out);
    // relu_ also changed its input: later readers of the input read the result.
    if (n->kind() == c10::Symbol::fromQualString("aten::relu_"))
      in->replaceAllUsesAfterNodeWith(n, out);
    n->destroy();
    ++*count;
  }
}

// (self, x) -> (logits, features) with every ReLU guided; throws Error(model) when the graph has
// none (guided backpropagation would be the plain gradient).
std::shared_ptr<torch::jit::GraphFunction> guided_function(const Model::Impl& m) {
  std::shared_ptr<torch::jit::Graph> g = tapped_graph(*m.graph, m.logits, m.features);
  int count = 0;
  rewrite_relus(g->block(), &count);
  if (count == 0)
    throw Error(ErrorCode::model, m.path +
                                      ": guided backpropagation needs ReLUs "
                                      "(aten::relu, aten::relu_); the model has none");
  return std::make_shared<torch::jit::GraphFunction>("camkit_guided", g, nullptr);
}

}  // namespace

std::vector<Explanation> explain_guided(const Explainer& explainer, const Model& model,
                                        const std::vector<const Prepared*>& inputs,
                                        const ExplainOptions& options) {
  const Model::Impl& m = model.impl();
  // Grad-CAM gives the predictions, the classes and, for Guided Grad-CAM, its map.
  ExplainOptions gc = options;
  gc.method = Method::gradcam;
  std::vector<Explanation> out = explainer.explain_batch(inputs, gc);
  const std::shared_ptr<torch::jit::GraphFunction> fn = guided_function(m);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Explanation& ex = out[i];
    ex.method = options.method;
    if (ex.maps.empty()) continue;
    at::Tensor x = to_batch({inputs[i]}, m.input.channels).to(m.device).requires_grad_(true);
    torch::AutoGradMode grad_mode(true);
    const at::Tensor logits = m.call(*fn, {x}).toTuple()->elements()[0].toTensor();
    for (size_t j = 0; j < ex.maps.size(); ++j) {
      at::Tensor go = at::zeros_like(logits);
      go.view({1, -1}).select(1, ex.maps[j].prediction.class_index).fill_(1);
      const at::Tensor g = torch::autograd::grad({logits}, {x}, {go},
                                                 /*retain_graph=*/j + 1 < ex.maps.size())[0];
      torch::NoGradGuard no_grad;
      // One value per pixel: the largest magnitude over the input channels.
      at::Tensor map = g[0].abs().amax(0).to(at::kCPU, at::kFloat);
      if (options.method == Method::guided_gradcam) {
        const Map& cam = ex.maps[j].raw;
        const at::Tensor c = at::from_blob(const_cast<float*>(cam.data.data()),
                                           {1, 1, cam.height, cam.width}, at::kFloat)
                                 .relu();
        map = map * at::upsample_bilinear2d(c, {map.size(0), map.size(1)},
                                            /*align_corners=*/false)[0][0];
      }
      check_finite(map, "the maps");
      ex.maps[j].raw = to_map(map);
    }
  }
  return out;
}

}  // namespace camkit::detail
