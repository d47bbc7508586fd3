#include <ATen/Parallel.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <filesystem>
#include <sstream>

#include "camkit/error.hpp"
#include "model/graph.hpp"
#include "model/head.hpp"
#include "model/metadata.hpp"
#include "model/model_impl.hpp"
#include "model/tap.hpp"

namespace camkit {
namespace {

using detail::GraphHead;

std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw Error(ErrorCode::usage, "--device " + name +
                                        ": this camkit's LibTorch has no CUDA support or no GPU "
                                        "is visible; use --device cpu");
    try {
      return c10::Device(name);
    } catch (const c10::Error&) {
    }
  }
  throw Error(ErrorCode::usage, "--device " + name + ": unknown device (use cpu or cuda[:N])");
}

HeadInfo no_head(const std::string& reason) {
  HeadInfo h;
  h.reason = reason;
  return h;
}

// Channels of the first convolution's input: the model's input channels.
int input_channels_of(torch::jit::Graph& graph, const torch::jit::Module& module) {
  for (torch::jit::Node* n : graph.nodes()) {
    if (n->kind() != c10::aten::_convolution && n->kind() != c10::aten::conv2d) continue;
    auto w = detail::attribute_of(n->input(1), module);
    if (!w || !w->isTensor() || w->toTensor().dim() != 4) return 0;
    const int groups_index = n->kind() == c10::aten::conv2d ? 6 : 8;
    auto groups = detail::constant_of(n->input(groups_index));
    return static_cast<int>(w->toTensor().size(1) * (groups ? groups->toInt() : 1));
  }
  return 0;
}

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

// The input of probe runs: the model's declared input, else 224x224.
at::Tensor probe_input(const Model::Impl& m) {
  Preprocess pre = m.metadata.preprocess.value_or(Preprocess{});
  int h = pre.input_height(), w = pre.input_width();
  if (h == 0 && m.input.height > 0) h = m.input.height, w = m.input.width;
  if (h == 0) h = w = 224;
  const int c = m.input.channels > 0 ? m.input.channels : 3;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  // Exam models take a stack of slices: two, so that a reduction over them is exercised.
  if (m.metadata.volume == "stacked") return at::randn({1, 2, c, h, w}, gen).to(m.device);
  if (m.metadata.volume == "batch") return at::randn({2, c, h, w}, gen).to(m.device);
  return at::randn({1, c, h, w}, gen).to(m.device);
}

// Records the tapped layer's shape for the probe input; false when the probe does not run.
bool probe_layer(Model::Impl& m, at::Tensor* logits = nullptr, at::Tensor* features = nullptr) {
  torch::NoGradGuard no_grad;
  at::Tensor l, f;
  try {
    std::tie(l, f) = m.run(probe_input(m));
  } catch (const std::exception&) {
    return false;  // the model needs another input size; checked on real inputs instead
  }
  if (f.dim() == 4) {
    m.layer.channels = static_cast<int>(f.size(1));
    m.layer.height = static_cast<int>(f.size(2));
    m.layer.width = static_cast<int>(f.size(3));
  }
  if (l.dim() == 2) m.num_classes = static_cast<int>(l.size(1));
  if (logits) *logits = l;
  if (features) *features = f;
  return true;
}

// The identity mean(M_c) + b_c = y_c on a seeded random input: proves the head found in the
// graph is the one computing the logits (and that an avg_pool2d covers the whole map).
void verify_head(Model::Impl& m) {
  at::Tensor logits, features;
  if (!probe_layer(m, &logits, &features)) return;
  if (features.dim() != 4) {
    m.head = no_head("the feature map is not 4-D (N, C, H, W)");
    return;
  }
  m.head.feature_height = static_cast<int>(features.size(2));
  m.head.feature_width = static_cast<int>(features.size(3));
  if (features.size(1) != m.weight.size(1)) {
    m.cam_layer_error = "--layer " + m.options.layer + " outputs " +
                        std::to_string(features.size(1)) + " channels, but the classifier " +
                        m.head.classifier + " takes " + std::to_string(m.weight.size(1)) +
                        "; CAM needs the classifier's input (gradient methods take any layer)";
    return;
  }
  torch::NoGradGuard no_grad;
  const at::Tensor expected = m.head_logits(features);
  const double scale = std::max(1.0, logits.abs().max().item<double>());
  const double err = (expected - logits.to(at::kFloat)).abs().max().item<double>();
  if (err > 1e-3 * scale) {
    std::ostringstream why;
    why << "the head found (" << m.head.pooling << " -> " << m.head.classifier
        << ") does not reproduce the logits (max difference " << err
        << "); the pooling may not be global";
    m.head = no_head(why.str());
  }
}

// The last 4-D activation with spatial size > 1 that the logits depend on, found by running
// every candidate once on a probe input.
torch::jit::Value* last_activation(Model::Impl& m, torch::jit::Graph& graph,
                                   torch::jit::Value* logits) {
  const std::vector<torch::jit::Value*> candidates = detail::ancestor_tensors(graph, logits);
  if (candidates.empty()) return nullptr;
  auto probe = detail::tapped_graph(graph, logits, candidates.front(), candidates);
  torch::jit::GraphFunction fn("camkit_probe", probe, nullptr);
  torch::NoGradGuard no_grad;
  c10::IValue out;
  try {
    out = m.call(fn, {probe_input(m)});
  } catch (const std::exception&) {
    return nullptr;
  }
  const auto& values = out.toTuple()->elements();
  for (size_t i = values.size(); i-- > 2;) {
    if (!values[i].isTensor()) continue;
    const at::Tensor t = values[i].toTensor();
    if (t.dim() == 4 && t.size(2) * t.size(3) > 1) return candidates[i - 2];
  }
  return nullptr;
}

}  // namespace

c10::IValue Model::Impl::call(torch::jit::GraphFunction& fn, std::vector<c10::IValue> args) const {
  // Running a loaded graph is safe from several threads at once; nothing here mutates state.
  std::vector<c10::IValue> stack{module._ivalue()};
  for (auto& a : args) stack.push_back(std::move(a));
  fn.run(stack);
  return stack.front();
}

std::pair<at::Tensor, at::Tensor> Model::Impl::run(const at::Tensor& batch) const {
  const c10::IValue out =
      frozen
          ? const_cast<torch::jit::Module&>(*frozen).get_method(kTappedMethod)({batch.to(device)})
          : call(*tapped, {batch.to(device)});
  const auto tuple = out.toTuple();
  return {tuple->elements()[0].toTensor(), tuple->elements()[1].toTensor()};
}

std::pair<at::Tensor, at::Tensor> Model::Impl::run_with_grad(const at::Tensor& batch) const {
  torch::AutoGradMode grad(true);
  const auto tuple = call(*tapped_grad, {batch.to(device)}).toTuple();
  return {tuple->elements()[0].toTensor(), tuple->elements()[1].toTensor()};
}

Model Model::load(const std::string& path, const ModelOptions& options) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  impl->options = options;
  impl->device = parse_device(options.device);
  if (options.threads > 0) at::set_num_threads(options.threads);

  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(ErrorCode::model, path + ": no such model file");
  if (std::filesystem::is_directory(path, ec))
    throw Error(ErrorCode::model, path + ": is a directory, not a model file");

  torch::jit::ExtraFilesMap extra{{detail::kMetadataFile, ""}};
  try {
    impl->module = torch::jit::load(path, impl->device, extra);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::model,
                path + ": not a loadable TorchScript model (" + first_line(e.what()) + ")");
  }
  impl->module.eval();
  if (!extra[detail::kMetadataFile].empty())
    impl->metadata = detail::parse_metadata(extra[detail::kMetadataFile], path);
  for (const auto& sub : impl->module.named_modules())
    if (!sub.name.empty()) impl->modules.push_back(sub.name);

  if (!impl->module.find_method("forward"))
    throw Error(ErrorCode::model, path + ": the model has no forward method");

  // Analyse an inlined copy of forward; the copy is then retargeted to return the features.
  auto graph =
      torch::jit::toGraphFunction(impl->module.get_method("forward").function()).graph()->copy();
  torch::jit::Inline(*graph);

  impl->input = impl->metadata.input;
  if (impl->input.channels == 0) impl->input.channels = input_channels_of(*graph, impl->module);

  GraphHead gh = detail::find_cam_head(*graph, impl->module);
  HeadInfo& head = impl->head;
  head.found = gh.found;
  head.reason = gh.reason;
  if (gh.found) {
    head.kind = gh.kind;
    head.pooling = gh.pooling;
    head.classifier = gh.classifier;
    std::tie(head.feature_layer, head.feature_ops) = detail::describe_value(*graph, gh.features);
    head.num_classes = static_cast<int>(gh.weight.size(0));
    head.feature_channels = static_cast<int>(gh.weight.size(1));
    head.has_bias = gh.bias.defined();
    head.relu_before_pool = gh.relu_before_pool;
    head.slice_reduce = gh.slice_reduce;
    impl->num_classes = head.num_classes;
    impl->weight = gh.weight.to(impl->device, at::kFloat).contiguous();
    impl->bias = gh.bias.defined() ? gh.bias.to(impl->device, at::kFloat).contiguous()
                                   : at::zeros({gh.weight.size(0)}, impl->weight.options());
  }
  torch::jit::Value* logits = gh.found ? gh.logits : detail::model_output(*graph);
  if (!logits) throw Error(ErrorCode::model, path + ": the model does not return a tensor");

  // The layer the methods read: --layer, else the CAM head's feature map, else the last 4-D
  // activation (found by a probe run).
  LayerInfo& layer = impl->layer;
  torch::jit::Value* features = nullptr;
  if (!options.layer.empty()) {
    features = detail::module_output(*graph, options.layer);
    if (!features)
      throw Error(ErrorCode::usage, "--layer " + options.layer +
                                        ": no such module in the model (camkit info lists "
                                        "the module paths)");
    if (features->node()->owningBlock() != graph->block())
      throw Error(ErrorCode::usage, "--layer " + options.layer +
                                        ": its output is computed under control flow and "
                                        "cannot be tapped");
    layer.layer = options.layer;
    layer.chosen_by = "--layer";
  } else if (gh.found) {
    features = gh.features;
    layer.layer = head.feature_layer;
    layer.ops = head.feature_ops;
    layer.chosen_by = "cam head";
  } else {
    features = last_activation(*impl, *graph, logits);
    if (features) {
      std::tie(layer.layer, layer.ops) = detail::describe_value(*graph, features);
      layer.chosen_by = "last activation";
    }
  }
  if (!features) {
    layer.reason =
        "no 4-D activation with spatial size > 1 found for a probe input; name one "
        "with --layer";
    return Model(std::move(impl));
  }
  layer.found = true;
  if (gh.found && !options.layer.empty()) head.feature_layer = options.layer, head.feature_ops = {};

  auto tapped = detail::tapped_graph(*graph, logits, features);
  impl->tapped = std::make_shared<torch::jit::GraphFunction>("camkit_tapped", tapped, nullptr);
  impl->tapped_grad = std::make_shared<torch::jit::GraphFunction>(
      "camkit_tapped_grad", detail::gradient_graph(*tapped), nullptr);
  std::vector<torch::jit::Value*> crossing;
  auto upper = detail::upper_graph(*graph, logits, features, &crossing);
  impl->upper = std::make_shared<torch::jit::GraphFunction>("camkit_upper", upper, nullptr);
  impl->tapped_cut = std::make_shared<torch::jit::GraphFunction>(
      "camkit_tapped_cut", detail::tapped_graph(*graph, logits, features, crossing), nullptr);
  // Gradients flow only from the logits down to the tap: parameters never need them.
  for (at::Tensor p : impl->module.parameters()) p.requires_grad_(false);
  if (options.optimize) impl->frozen = freeze_tapped(impl->module, tapped);

  // Linear heads are checked on every batch (CAM identity); heads whose check needs the whole
  // map stack, a pooling whose extent is only known at run time, or a --layer whose channels
  // must fit the classifier, are checked once here.
  if (gh.found && (options.probe || !options.layer.empty() || head.kind == "conv1x1" ||
                   head.pooling == "aten::avg_pool2d"))
    verify_head(*impl);
  else if (options.probe || !gh.found)
    probe_layer(*impl);
  return Model(std::move(impl));
}

at::Tensor Model::Impl::head_logits(const at::Tensor& features) const {
  const at::Tensor a = features.to(at::kFloat);
  if (head.kind == "conv1x1") {
    at::Tensor maps = at::einsum("kc,nchw->nkhw", {weight, a}) + bias.view({1, -1, 1, 1});
    if (head.relu_before_pool) maps = maps.relu();
    return maps.mean({2, 3});
  }
  at::Tensor pooled = a.mean({2, 3});
  if (head.slice_reduce == "max") pooled = std::get<0>(pooled.max(0, /*keepdim=*/true));
  if (head.slice_reduce == "mean") pooled = pooled.mean(0, /*keepdim=*/true);
  return at::addmm(bias, pooled, weight.t());
}

const std::string& Model::path() const {
  return impl_->path;
}
const ModelOptions& Model::options() const {
  return impl_->options;
}
const ModelMetadata& Model::metadata() const {
  return impl_->metadata;
}
const HeadInfo& Model::head() const {
  return impl_->head;
}
InputSpec Model::input_spec() const {
  return impl_->input;
}
std::vector<std::string> Model::module_paths() const {
  return impl_->modules;
}

int Model::num_classes() const {
  return impl_->num_classes;
}
const LayerInfo& Model::layer() const {
  return impl_->layer;
}

std::string Model::label(int c) const {
  const auto& labels = impl_->metadata.labels;
  return c >= 0 && static_cast<size_t>(c) < labels.size() ? labels[c] : "";
}

Preprocess Model::preprocess() const {
  Preprocess pre = impl_->metadata.preprocess.value_or(Preprocess{});
  if (impl_->input.channels > 0) pre.channels = impl_->input.channels;
  return pre;
}

}  // namespace camkit
