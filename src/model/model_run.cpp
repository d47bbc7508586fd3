// Running a loaded model: the tapped graph as loaded or frozen, the gradient and cut graphs,
// built on first use (a model explained with CAM never builds the others).
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include <algorithm>
#include <mutex>

#include "camkit/error.hpp"
#include "model/attention.hpp"
#include "model/model_impl.hpp"
#include "model/tap.hpp"

namespace camkit {
namespace {

// `g` as method `method` of the model, frozen (weights become constants) and optimised for
// inference (conv-BN folding, oneDNN layouts); nullopt when the graph does not freeze. Adding
// the method changes the module's type: one at a time.
std::optional<torch::jit::Module> freeze_graph(torch::jit::Module& module,
                                               const std::shared_ptr<torch::jit::Graph>& g,
                                               const std::string& method) {
  static std::mutex type_mutex;
  std::lock_guard<std::mutex> lock(type_mutex);
  try {
    const auto type = module.type();
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

// Largest difference between a and b relative to b's largest magnitude (at least 1).
double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.to(at::kFloat), y = b.to(at::kFloat);
  if (x.sizes() != y.sizes()) return 1e30;
  const double scale = std::max(1.0, y.abs().max().item<double>());
  return (x - y).abs().max().item<double>() / scale;
}

// The arguments of the layers above the cut: a copy of the map `map` (their in-place ops,
// DenseNet's relu_, must not change it) and the lower graph's other outputs, the values
// crossing the cut.
std::vector<c10::IValue> upper_args(const at::Tensor& map, const std::vector<c10::IValue>& low) {
  std::vector<c10::IValue> args{map.clone()};
  args.insert(args.end(), low.begin() + 1, low.end());
  return args;
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
    frozen_ = freeze_graph(const_cast<torch::jit::Module&>(module), tapped->graph(), kTappedMethod);
  });
  return frozen_ ? &*frozen_ : nullptr;
}

torch::jit::Module* Model::Impl::frozen_lower() const {
  if (!options.optimize || !tapped) return nullptr;
  std::call_once(lower_once_, [this] {
    try {
      cut_fn();
      std::vector<torch::jit::Value*> values{features};
      values.insert(values.end(), crossing_.begin(), crossing_.end());
      lower_ = freeze_graph(const_cast<torch::jit::Module&>(module),
                            detail::returning_graph(*graph, values), kLowerMethod);
      if (!lower_) return;
      // Used only where it gives the plain graph's answers: its map and, through the layers
      // above, the logits, on the probe input.
      torch::NoGradGuard no_grad;
      const auto plain = call(*tapped, {probe}).toTuple()->elements();
      const auto low = lower_->get_method(kLowerMethod)({probe}).toTuple()->elements();
      if (relative_difference(low[0].toTensor(), plain[1].toTensor()) > 1e-4) {
        lower_.reset();
        return;
      }
      const at::Tensor logits = call(upper_fn(), upper_args(low[0].toTensor(), low)).toTensor();
      if (relative_difference(logits, plain[0].toTensor()) > 1e-4) lower_.reset();
    } catch (const std::exception&) {
      lower_.reset();
    }
  });
  return lower_ ? &*lower_ : nullptr;
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
    auto upper = detail::upper_graph(*graph, logits, features, &crossing_);
    upper_ = std::make_shared<torch::jit::GraphFunction>("camkit_upper", upper, nullptr);
    cut_ = std::make_shared<torch::jit::GraphFunction>(
        "camkit_tapped_cut", detail::tapped_graph(*graph, logits, features, crossing_), nullptr);
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
  if (torch::jit::Module* lower = frozen_lower()) {
    // Below the layer nothing needs gradients: the optimised graph computes the map and the
    // values the layers above read; those layers then run as loaded, recording autograd.
    const std::vector<c10::IValue> low = run_lower(*lower, batch);
    torch::AutoGradMode grad(true);
    const at::Tensor leaf = low[0].toTensor().detach().requires_grad_(true);
    return {call(upper_fn(), upper_args(leaf, low)).toTensor(), leaf};
  }
  torch::AutoGradMode grad(true);
  const auto tuple = call(gradient_fn(), {batch.to(device)}).toTuple();
  return {tuple->elements()[0].toTensor(), tuple->elements()[1].toTensor()};
}

std::vector<c10::IValue> Model::Impl::run_lower(torch::jit::Module& lower,
                                                const at::Tensor& batch) const {
  torch::NoGradGuard no_grad;
  // A batch made in inference mode (Python's torch.inference_mode()) is an inference tensor,
  // which the optimised graph outside that mode cannot take: a normal copy.
  const at::Tensor x = batch.is_inference() ? batch.clone() : batch;
  return lower.get_method(kLowerMethod)({x.to(device)}).toTuple()->elements();
}

std::vector<c10::IValue> Model::Impl::run_cut(const at::Tensor& batch) const {
  torch::NoGradGuard no_grad;
  if (torch::jit::Module* lower = frozen_lower()) {
    std::vector<c10::IValue> low = run_lower(*lower, batch);
    low.insert(low.begin(), call(upper_fn(), upper_args(low[0].toTensor(), low)));
    return low;
  }
  return call(cut_fn(), {batch.to(device)}).toTuple()->elements();
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
