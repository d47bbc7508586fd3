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

// Makes the inlined, analysed graph return (logits, features) instead of the model's output.
void retarget_outputs(torch::jit::Graph& graph, torch::jit::Value* logits,
                      torch::jit::Value* features) {
  while (!graph.outputs().empty()) graph.eraseOutput(0);
  torch::jit::Node* tuple = graph.insertNode(graph.createTuple({logits, features}));
  graph.registerOutput(tuple->output());
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

// The identity mean(M_c) + b_c = y_c on a seeded random input: proves the head found in the
// graph is the one computing the logits (and that an avg_pool2d covers the whole map).
void verify_head(Model::Impl& m, const Preprocess& pre) {
  const int c = pre.channels > 0 ? pre.channels : 3;
  int h = pre.input_height(), w = pre.input_width();
  if (h == 0) h = w = 224;
  torch::NoGradGuard no_grad;
  at::Tensor x = at::randn({1, c, h, w}, at::make_generator<at::CPUGeneratorImpl>(7)).to(m.device);
  at::Tensor logits, features;
  try {
    std::tie(logits, features) = m.run(x);
  } catch (const std::exception&) {
    return;  // the model needs another input size; checked on real inputs instead
  }
  if (features.dim() != 4) {
    m.head = no_head("the feature map is not 4-D (N, C, H, W)");
    return;
  }
  m.head.feature_height = static_cast<int>(features.size(2));
  m.head.feature_width = static_cast<int>(features.size(3));
  if (features.size(1) != m.weight.size(1)) {
    throw Error(ErrorCode::usage, "--layer " + m.options.layer + ": outputs " +
                                      std::to_string(features.size(1)) +
                                      " channels, but the classifier " + m.head.classifier +
                                      " takes " + std::to_string(m.weight.size(1)));
  }
  at::Tensor maps =
      at::einsum("kc,nchw->nkhw", {m.weight, features.to(at::kFloat)}) + m.bias.view({1, -1, 1, 1});
  if (m.head.relu_before_pool) maps = maps.relu();
  at::Tensor expected = maps.mean({2, 3});
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

}  // namespace

std::pair<at::Tensor, at::Tensor> Model::Impl::run(const at::Tensor& batch) const {
  // Running a loaded graph is safe from several threads at once; nothing here mutates state.
  c10::IValue out;
  if (frozen) {
    out = const_cast<torch::jit::Module&>(*frozen).get_method(kTappedMethod)({batch.to(device)});
  } else {
    std::vector<c10::IValue> stack{module._ivalue(), batch.to(device)};
    tapped->run(stack);
    out = stack.front();
  }
  const auto tuple = out.toTuple();
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
    if (!options.layer.empty()) {
      torch::jit::Value* v = detail::module_output(*graph, options.layer);
      if (!v)
        throw Error(ErrorCode::usage, "--layer " + options.layer +
                                          ": no such module in the model (camkit info lists "
                                          "the module paths)");
      if (v->node()->owningBlock() != graph->block())
        throw Error(ErrorCode::usage, "--layer " + options.layer +
                                          ": its output is computed under control flow and "
                                          "cannot be tapped");
      gh.features = v;
    }
    head.kind = gh.kind;
    head.pooling = gh.pooling;
    head.classifier = gh.classifier;
    std::tie(head.feature_layer, head.feature_ops) = detail::describe_value(*graph, gh.features);
    if (!options.layer.empty()) head.feature_layer = options.layer, head.feature_ops.clear();
    head.num_classes = static_cast<int>(gh.weight.size(0));
    head.feature_channels = static_cast<int>(gh.weight.size(1));
    head.has_bias = gh.bias.defined();
    head.relu_before_pool = gh.relu_before_pool;
    impl->weight = gh.weight.to(impl->device, at::kFloat).contiguous();
    impl->bias = gh.bias.defined() ? gh.bias.to(impl->device, at::kFloat).contiguous()
                                   : at::zeros({gh.weight.size(0)}, impl->weight.options());

    retarget_outputs(*graph, gh.logits, gh.features);
    torch::jit::EliminateDeadCode(graph);
    impl->tapped = std::make_shared<torch::jit::GraphFunction>("camkit_tapped", graph, nullptr);
    if (options.optimize) impl->frozen = freeze_tapped(impl->module, graph);
    // Linear heads are checked on every batch (CAM identity); heads whose check needs the whole
    // map stack, a pooling whose extent is only known at run time, or a --layer whose channels
    // must fit the classifier, are checked once here.
    if (options.probe || !options.layer.empty() || head.kind == "conv1x1" ||
        head.pooling == "aten::avg_pool2d") {
      Preprocess probe = impl->metadata.preprocess.value_or(Preprocess{});
      probe.channels = impl->input.channels;
      if (impl->input.height > 0 && probe.input_height() == 0) {
        probe.size_height = impl->input.height;
        probe.size_width = impl->input.width;
      }
      verify_head(*impl, probe);
    }
    if (!head.found) {
      impl->tapped.reset();
      impl->frozen.reset();
    }
  }
  return Model(std::move(impl));
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
  return impl_->head.found ? impl_->head.num_classes : 0;
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
