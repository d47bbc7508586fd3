// Running a loaded model: the tapped graph as loaded or frozen, the gradient and cut graphs,
// built on first use (a model explained with CAM never builds the others).
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include "camkit/error.hpp"
#include "model/attention.hpp"
#include "model/model_impl.hpp"
#include "model/tap.hpp"

namespace camkit {
namespace {

// The tapped graph as a method of the model, frozen (weights become constants) and optimised
// for inference (conv-BN folding, oneDNN layouts); nullopt when the graph does not freeze.
std::optional<torch::jit::Module> freeze_tapped(torch::jit::Module& module,
                                                const std::shared_ptr<torch::jit::Graph>& g) {
  try {
    const auto type = module.type();
    const std::string method = Model::Impl::kTappedMethod;
    if (type->findMethod(method)) type->unsafeRemoveMethod(method);
    auto cu = module._ivalue()->compilation_unit();
    torch::jit::Function* fn =
        cu->create_function(c10::QualifiedName(*type->name(), method), g->copy(), true);
    type->addMethod(fn);
    torch::jit::Module frozen = torch::jit::freeze(module, std::vector<std::string>{method});
    return torch::jit::optimize_for_inference(frozen, {method});
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

c10::IValue Model::Impl::call(const torch::jit::GraphFunction& fn,
                              std::vector<c10::IValue> args) const {
  // Running a loaded graph is safe from several threads at once; nothing here mutates state.
  std::vector<c10::IValue> stack{module._ivalue()};
  for (auto& a : args) stack.push_back(std::move(a));
  const_cast<torch::jit::GraphFunction&>(fn).run(stack);
  return stack.front();
}

at::Tensor Model::Impl::logits_rows(const at::Tensor& logits, int64_t n) const {
  return logits.detach().to(at::kCPU, at::kFloat).reshape({n, -1});
}

torch::jit::Module* Model::Impl::frozen() const {
  if (!options.optimize || !tapped) return nullptr;
  std::call_once(frozen_once_, [this] {
    frozen_ = freeze_tapped(const_cast<torch::jit::Module&>(module), tapped->graph());
  });
  return frozen_ ? &*frozen_ : nullptr;
}

const torch::jit::GraphFunction& Model::Impl::gradient_fn() const {
  std::call_once(gradient_once_, [this] {
    gradient_ = std::make_shared<torch::jit::GraphFunction>(
        "camkit_tapped_grad", detail::gradient_graph(*tapped->graph()), nullptr);
  });
  return *gradient_;
}

const torch::jit::GraphFunction& Model::Impl::cut_fn() const {
  std::call_once(cut_once_, [this] {
    std::vector<torch::jit::Value*> crossing;
    auto upper = detail::upper_graph(*graph, logits, features, &crossing);
    upper_ = std::make_shared<torch::jit::GraphFunction>("camkit_upper", upper, nullptr);
    cut_ = std::make_shared<torch::jit::GraphFunction>(
        "camkit_tapped_cut", detail::tapped_graph(*graph, logits, features, crossing), nullptr);
  });
  return *cut_;
}

const torch::jit::GraphFunction& Model::Impl::attention_fn() const {
  std::call_once(attention_once_, [this] {
    const detail::AttentionMaps found = detail::find_attention(*graph);
    if (found.values.empty()) {
      attention_error_ = found.reason;
      return;
    }
    attention_ = std::make_shared<torch::jit::GraphFunction>(
        "camkit_attention", detail::tapped_graph(*graph, logits, features, found.values), nullptr);
  });
  if (!attention_) throw Error(ErrorCode::model, path + ": " + attention_error_);
  return *attention_;
}

const torch::jit::GraphFunction& Model::Impl::upper_fn() const {
  cut_fn();
  return *upper_;
}

std::pair<at::Tensor, at::Tensor> Model::Impl::run(const at::Tensor& batch) const {
  torch::jit::Module* f = frozen();
  const c10::IValue out =
      f ? f->get_method(kTappedMethod)({batch.to(device)}) : call(*tapped, {batch.to(device)});
  const auto tuple = out.toTuple();
  return {tuple->elements()[0].toTensor(), tuple->elements()[1].toTensor()};
}

std::pair<at::Tensor, at::Tensor> Model::Impl::run_with_grad(const at::Tensor& batch) const {
  c10::InferenceMode not_inference(false);  // the caller's mode may be any (Python's)
  torch::AutoGradMode grad(true);
  const auto tuple = call(gradient_fn(), {batch.to(device)}).toTuple();
  return {tuple->elements()[0].toTensor(), tuple->elements()[1].toTensor()};
}

at::Tensor Model::Impl::head_logits(const at::Tensor& features) const {
  const at::Tensor a = features.to(at::kFloat);
  std::vector<int64_t> space;
  for (int64_t d = 2; d < a.dim(); ++d) space.push_back(d);
  if (head.kind == "conv1x1") {
    at::Tensor maps = at::einsum("kc,nc...->nk...", {weight, a});
    std::vector<int64_t> shape(static_cast<size_t>(a.dim()), 1);
    shape[1] = -1;
    maps = maps + bias.view(shape);
    if (head.relu_before_pool) maps = maps.relu();
    return maps.mean(space);
  }
  at::Tensor pooled = a.mean(space);
  if (head.slice_reduce == "max") pooled = std::get<0>(pooled.max(0, /*keepdim=*/true));
  if (head.slice_reduce == "mean") pooled = pooled.mean(0, /*keepdim=*/true);
  return at::addmm(bias, pooled, weight.t());
}

std::string Model::Impl::checked(int key, const std::function<std::string()>& check) const {
  std::lock_guard<std::mutex> lock(checked_mu_);
  auto it = checked_.find(key);
  if (it == checked_.end()) it = checked_.emplace(key, check()).first;
  return it->second;
}

}  // namespace camkit
