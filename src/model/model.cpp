// Model::load: read the file, analyse the inlined graph, probe it once, and settle the output,
// task, CAM head, layer and layout every method relies on (model.hpp: "Verify, then trust").
#include <ATen/Parallel.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "camkit/error.hpp"
#include "io/file_bytes.hpp"
#include "model/graph.hpp"
#include "model/head.hpp"
#include "model/metadata.hpp"
#include "model/model_impl.hpp"
#include "model/outputs.hpp"
#include "model/probe.hpp"
#include "model/tap.hpp"
#include "model/threads.hpp"

namespace camkit {
namespace {

using detail::Axes;
using detail::Axis;
using detail::GraphHead;
using detail::Layout;
using torch::jit::Value;

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

// The first convolution: the model's input channels and spatial rank (2 for Conv2d).
std::pair<int, int> first_convolution(torch::jit::Graph& graph, const torch::jit::Module& module) {
  static const std::set<std::string> convs = {"aten::_convolution", "aten::conv1d", "aten::conv2d",
                                              "aten::conv3d"};
  for (torch::jit::Node* n : graph.nodes()) {
    if (!convs.count(n->kind().toQualString())) continue;
    auto w = detail::attribute_of(n->input(1), module);
    if (!w || !w->isTensor() || w->toTensor().dim() < 3) return {0, 0};
    const int groups_index = n->kind() == c10::aten::_convolution ? 8 : 6;
    auto groups = detail::constant_of(n->input(groups_index));
    const at::Tensor weight = w->toTensor();
    return {static_cast<int>(weight.size(1) * (groups && groups->isInt() ? groups->toInt() : 1)),
            static_cast<int>(weight.dim() - 2)};
  }
  return {0, 0};
}

// The labels of the input's dimensions: (batch, channel, space...); an exam stack has a
// leading dimension of one exam, and its slices run as the batch.
Axes input_axes(const Model::Impl& m) {
  Axes a;
  if (m.metadata.volume == "stacked") a.push_back(Axis{});
  a.push_back(Axis::of(Axis::batch));
  a.push_back(Axis::of(Axis::channel));
  for (int i = 0; i < m.spatial_dims; ++i) a.push_back(Axis::of(Axis::space, i));
  return a;
}

// The logits before a final softmax/sigmoid the model applies; `activation` names it.
Value* before_activation(Value* v, std::string* activation) {
  static const std::set<std::string> ops = {"aten::softmax", "aten::log_softmax", "aten::sigmoid",
                                            "aten::sigmoid_"};
  torch::jit::Node* n = v->node();
  if (!ops.count(n->kind().toQualString())) return v;
  *activation = detail::op_name(n);
  return n->input(0);
}

// The model's forward must take one tensor: camkit feeds it one (batch of) image(s).
void check_inputs(torch::jit::Graph& graph, const std::string& path) {
  const size_t n = graph.inputs().size() - 1;
  if (n == 1) return;
  std::string names;
  for (size_t i = 1; i < graph.inputs().size(); ++i)
    names += (i > 1 ? ", " : "") + graph.inputs()[i]->debugNameBase();
  throw Error(ErrorCode::model, path + ": the model's forward takes " + std::to_string(n) +
                                    " inputs (" + names +
                                    "); camkit feeds it one image tensor. Export a wrapper "
                                    "whose forward takes the image alone");
}

// The identity mean(M_c) + b_c = y_c on the probe: proves the head found in the graph is the
// one computing the logits (and that an avg_pool2d covers the whole map).
std::string cam_identity(const Model::Impl& m, const at::Tensor& features,
                         const at::Tensor& logits) {
  torch::NoGradGuard no_grad;
  const at::Tensor expected = m.head_logits(features).to(at::kCPU);
  const at::Tensor got = logits.to(at::kCPU, at::kFloat).reshape(expected.sizes());
  const double scale = std::max(1.0, got.abs().max().item<double>());
  const double err = (expected - got).abs().max().item<double>();
  if (err <= 1e-3 * scale) return "";
  std::ostringstream why;
  why << "the head found (" << m.head.pooling << " -> " << m.head.classifier
      << ") does not reproduce the logits (max difference " << err
      << "); the pooling may not be global";
  return why.str();
}

// Larger files are not models camkit can hold in memory (ViT-H/14 is 2.5 GB).
constexpr std::uint64_t kMaxModelBytes = 16ULL << 30;

// Reads the file (or, when `bytes` is set, the archive held in memory under the name m.path)
// and its metadata; the graph is analysed by the caller.
void read_file(Model::Impl& m, const std::string* bytes) {
  if (!bytes) {
    std::error_code ec;
    if (!std::filesystem::exists(m.path, ec))
      throw Error(ErrorCode::model, m.path + ": no such model file");
    if (std::filesystem::is_directory(m.path, ec))
      throw Error(ErrorCode::model, m.path + ": is a directory, not a model file");
    // A FIFO or a device would block or never end: only regular files of a plausible size.
    try {
      io::RegularFile file(m.path, kMaxModelBytes);
    } catch (const Error& e) {
      throw Error(ErrorCode::model, e.what());
    }
  }
  torch::jit::ExtraFilesMap extra{{detail::kMetadataFile, ""}};
  try {
    if (bytes) {
      std::istringstream in(*bytes);
      m.module = torch::jit::load(in, m.device, extra);
    } else {
      m.module = torch::jit::load(m.path, m.device, extra);
    }
  } catch (const std::exception& e) {
    throw Error(ErrorCode::model, m.path + ": not a loadable TorchScript model (" +
                                      detail::torch_error(e.what()) + ")");
  }
  m.module.eval();
  if (!extra[detail::kMetadataFile].empty())
    m.metadata = detail::parse_metadata(extra[detail::kMetadataFile], m.path);
  for (const auto& sub : m.module.named_modules())
    if (!sub.name.empty()) m.modules.push_back(sub.name);
  if (!m.module.find_method("forward"))
    throw Error(ErrorCode::model, m.path + ": the model has no forward method");
}

}  // namespace

Model Model::load(const std::string& path, const ModelOptions& options) {
  return load_source(path, nullptr, options);
}

Model Model::load_from_memory(const std::string& bytes, const std::string& name,
                              const ModelOptions& options) {
  return load_source(name, &bytes, options);
}

Model Model::load_source(const std::string& path, const std::string* bytes,
                         const ModelOptions& options) {
  auto impl = std::make_shared<Impl>();
  Impl& m = *impl;
  m.path = path;
  m.options = options;
  m.device = parse_device(options.device);
  detail::set_torch_threads(options.threads, 0, "lower the thread count (--threads)");
  // The probe differentiates whatever the calling thread's autograd mode is (a Python caller
  // may be inside torch.no_grad() or torch.inference_mode()); the modes are the thread's
  // again on return.
  c10::InferenceMode not_inference(false);
  torch::AutoGradMode grad_enabled(true);
  read_file(m, bytes);

  m.graph = torch::jit::toGraphFunction(m.module.get_method("forward").function()).graph()->copy();
  torch::jit::Graph& g = *m.graph;
  torch::jit::Inline(g);
  check_inputs(g, path);
  const auto [conv_channels, spatial] = first_convolution(g, m.module);
  if (spatial != 0 && spatial != 2 && spatial != 3)
    throw Error(ErrorCode::model,
                path + ": the model's first convolution is " + std::to_string(spatial) +
                    "-D; camkit explains image classifiers (N, C, H, W) and 3-D classifiers of "
                    "volumes and video clips (N, C, D, H, W)");
  detail::check_metadata_input(m.metadata, conv_channels, path);
  m.input = m.metadata.input;
  if (m.input.channels == 0) m.input.channels = conv_channels;
  // A Conv3d first, or a declared depth, makes the input (N, C, D, H, W); exam models
  // (metadata "volume") stay 2-D: their slices are images.
  m.spatial_dims = m.metadata.volume.empty() && (spatial == 3 || m.input.depth > 0) ? 3 : 2;
  m.input.rank = m.spatial_dims;
  // Gradients flow only from the logits down to the tap (or, in the probe, from the input):
  // parameters never need them.
  for (at::Tensor p : m.module.parameters()) p.requires_grad_(false);

  // The outputs, each with the CAM head that would compute it; one probe run measures every
  // value they depend on.
  const std::vector<detail::OutputCandidate> outputs = detail::output_candidates(g, path);
  std::vector<Value*> pre(outputs.size());
  std::vector<std::string> activation(outputs.size());
  std::vector<GraphHead> heads(outputs.size());
  std::vector<Value*> measure;
  std::set<const Value*> measured;
  for (size_t i = 0; i < outputs.size(); ++i) {
    pre[i] = before_activation(outputs[i].value, &activation[i]);
    heads[i] = detail::find_cam_head(g, m.module, pre[i]);
    for (Value* v : detail::ancestor_tensors(g, outputs[i].value))
      if (measured.insert(v).second) measure.push_back(v);
  }
  const detail::Probe probe = detail::run_probe(m, g, measure);

  const int declared = m.metadata.num_classes > 0 ? m.metadata.num_classes
                                                  : static_cast<int>(m.metadata.labels.size());
  std::string chosen_by;
  const detail::OutputCandidate& chosen = detail::choose_output(
      outputs, probe.shapes, options.output.empty() ? m.metadata.output : options.output, declared,
      path, &chosen_by);
  const size_t out_index = static_cast<size_t>(&chosen - outputs.data());
  m.logits = pre[out_index];
  m.output.chosen = chosen.name;
  m.output.chosen_by = chosen_by;
  m.output.activation = activation[out_index];
  for (const auto& c : outputs) {
    const auto it = probe.shapes.find(c.value);
    std::vector<long> shape;
    if (it != probe.shapes.end()) shape.assign(it->second.begin(), it->second.end());
    m.output.candidates.push_back({c.name, c.field, shape});
  }
  const at::Tensor& probe_logits = probe.at(m.logits);
  if (probe_logits.dim() > 2 || probe_logits.dim() < 1)
    throw Error(ErrorCode::model, path + ": the output " +
                                      (chosen.name.empty() ? "" : chosen.name + " ") +
                                      "has shape " + c10::str(probe_logits.sizes()) +
                                      ", not one row of logits per input (N, K)" +
                                      (outputs.size() > 1 ? "; choose another with --output" : ""));
  m.num_classes = probe_logits.dim() == 2 ? static_cast<int>(probe_logits.size(1)) : 1;
  if (options.task)
    m.task = *options.task;
  else if (!m.metadata.task.empty())
    m.task = *parse_task(m.metadata.task);
  else
    m.task = m.num_classes == 1                 ? Task::binary
             : m.output.activation == "sigmoid" ? Task::multilabel
                                                : Task::multiclass;
  if (m.task == Task::multilabel && m.num_classes == 1) m.task = Task::binary;
  if (options.task && m.task == Task::binary && m.num_classes != 1)
    throw Error(ErrorCode::usage, path + ": a binary task needs one logit; the model returns " +
                                      std::to_string(m.num_classes) + " (use multilabel)");
  detail::check_metadata(m.metadata, conv_channels, m.num_classes, m.task, path);
  if (m.task == Task::multiclass && m.num_classes == 1)
    throw Error(ErrorCode::usage, path +
                                      ": softmax over a single logit is always 1; a model with "
                                      "one logit is binary (--scores sigmoid)");

  // Axes of every measured value, tracked from the input.
  const detail::AxisMap axes(g, input_axes(m), probe.shapes);
  if (const Axes* a = axes.find(m.logits);
      m.metadata.volume.empty() && a && !a->empty() && (*a)[0].kind != Axis::batch)
    throw Error(ErrorCode::model, path + ": the logits' first dimension is not the batch " +
                                      detail::describe_axes(*a) +
                                      "; camkit needs one row of logits per input");
  m.max_batch = detail::fixed_batch(g, axes) ? 1 : 0;
  auto layout_for = [&](Value* v, Layout* l, std::string* why) {
    const auto s = probe.shapes.find(v);
    if (s == probe.shapes.end()) return *why = "the logits do not depend on it", false;
    const Axes* a = axes.find(v);
    if (!a)
      return *why = "camkit cannot tell its axes from the graph (size " +
                    c10::str(c10::IntArrayRef(s->second)) + ")",
             false;
    return detail::layout_of(*a, s->second, l, why);
  };
  const detail::ModulePaths paths(g);
  // The CAM head of the chosen output.
  GraphHead gh = heads[out_index];
  HeadInfo& head = m.head;
  head = no_head(gh.reason);
  if (gh.found) {
    Layout l;
    std::string why;
    if (!layout_for(gh.features, &l, &why) || l.kind != Layout::channels_first) {
      head = no_head(std::string("the pooled map's axes are not ") +
                     (m.spatial_dims == 3 ? "(N, C, D, H, W)" : "(N, C, H, W)") + ": " + why);
      gh.found = false;
    }
  }
  if (gh.found) {
    head.found = true;
    head.kind = gh.kind;
    head.pooling = gh.pooling;
    head.classifier = gh.classifier;
    std::tie(head.feature_layer, head.feature_ops) = paths.describe(gh.features);
    head.num_classes = static_cast<int>(gh.weight.size(0));
    head.feature_channels = static_cast<int>(gh.weight.size(1));
    head.has_bias = gh.bias.defined();
    head.relu_before_pool = gh.relu_before_pool;
    head.slice_reduce = gh.slice_reduce;
    m.weight = gh.weight.to(m.device, at::kFloat).contiguous();
    m.bias = gh.bias.defined() ? gh.bias.to(m.device, at::kFloat).contiguous()
                               : at::zeros({gh.weight.size(0)}, m.weight.options());
    const at::Tensor f = probe.at(gh.features).detach();
    head.feature_height = static_cast<int>(f.size(f.dim() - 2));
    head.feature_width = static_cast<int>(f.size(f.dim() - 1));
    head.feature_depth = f.dim() == 5 ? static_cast<int>(f.size(2)) : 1;
    if (const std::string why = cam_identity(m, f.to(at::kFloat), probe_logits.detach());
        !why.empty()) {
      head = no_head(why);
      gh.found = false;
    }
  }

  // The layer the methods read: --layer, else the CAM head's map, else the last map the
  // logits depend on (found with autograd).
  LayerInfo& layer = m.layer;
  Value* features = nullptr;
  if (!options.layer.empty()) {
    features = paths.module_output(options.layer);
    if (!features)
      throw Error(ErrorCode::usage, "--layer " + options.layer +
                                        ": no such module in the model (camkit info lists "
                                        "the module paths)");
    if (features->node()->owningBlock() != g.block())
      throw Error(ErrorCode::model, path + ": --layer " + options.layer +
                                        ": its output is computed under control flow and "
                                        "cannot be tapped");
    std::string why;
    if (!layout_for(features, &m.layout, &why))
      throw Error(ErrorCode::model, path + ": --layer " + options.layer + ": " + why +
                                        "; camkit explains layers whose batch, channel and "
                                        "spatial axes it can place (camkit info shows the "
                                        "default layer)");
    if (!detail::has_extent(m.layout))
      throw Error(ErrorCode::model, path + ": --layer " + options.layer +
                                        ": its map has a single position (1x1); choose a "
                                        "layer before the global pooling");
    layer.layer = options.layer;
    layer.chosen_by = "--layer";
  } else if (gh.found) {
    features = gh.features;
    std::string why;
    layout_for(features, &m.layout, &why);
    layer.layer = head.feature_layer;
    layer.ops = head.feature_ops;
    layer.chosen_by = "cam head";
  } else {
    std::vector<detail::Candidate> candidates;
    for (Value* v : detail::ancestor_tensors(g, m.logits)) {
      detail::Candidate c{v, {}};
      std::string why;
      // 3-D models: only maps that kept the depth (a map pooled over time is no default).
      if (layout_for(v, &c.layout, &why) && detail::has_extent(c.layout) &&
          (m.spatial_dims != 3 || c.layout.spatial.size() == 3))
        candidates.push_back(c);
    }
    const detail::DefaultLayer d = detail::default_layer(probe, probe_logits, candidates);
    layer.gradient_error = d.gradient_error;
    if (d.chosen) {
      features = d.chosen->value;
      m.layout = d.chosen->layout;
      std::tie(layer.layer, layer.ops) = paths.describe(features);
      layer.chosen_by = "last map";
    } else {
      layer.reason = d.reason;
    }
  }
  m.probe = detail::probe_input(m, 1);
  if (!features) return Model(std::move(impl));
  // Maps have the input's spatial axes: a layer that lost one (a pooled time axis) cannot be
  // drawn over the input, nor compared with a map of another layer.
  if (m.layout.spatial.size() != static_cast<size_t>(m.spatial_dims))
    throw Error(ErrorCode::model, path + ": the layer " + layer.layer + " has " +
                                      std::to_string(m.layout.spatial.size()) +
                                      " spatial axes, the input " + std::to_string(m.spatial_dims) +
                                      "; camkit's maps have the input's axes (choose an "
                                      "earlier layer with --layer)");
  m.features = features;
  layer.found = true;
  layer.layout = m.layout.name();
  layer.layout_shape = m.layout.describe();
  layer.prefix_tokens = static_cast<int>(m.layout.prefix);
  const std::vector<int64_t>& sizes = probe.shapes.at(features);
  layer.channels = static_cast<int>(sizes[static_cast<size_t>(m.layout.channel_dim)]);
  const size_t d = m.layout.spatial.size();
  layer.height = static_cast<int>(m.layout.spatial[d - 2]);
  layer.width = static_cast<int>(m.layout.spatial[d - 1]);
  layer.depth = d == 3 ? static_cast<int>(m.layout.spatial[0]) : 1;
  if (gh.found && !options.layer.empty()) head.feature_layer = options.layer, head.feature_ops = {};

  m.tapped = std::make_shared<torch::jit::GraphFunction>(
      "camkit_tapped", detail::tapped_graph(g, m.logits, features), nullptr);
  // Whether gradient methods can run: the gradient reaches the layer's map (already shown for
  // a default layer found that way).
  if (layer.chosen_by != "last map")
    layer.gradient_error =
        detail::gradients_reach(probe, probe_logits, probe.at(features), m.layout);

  // CAM on a --layer: its channels must fit the classifier and the identity must hold.
  if (gh.found && !options.layer.empty()) {
    if (layer.channels != head.feature_channels) {
      m.cam_layer_error = "--layer " + options.layer + " outputs " +
                          std::to_string(layer.channels) + " channels, but the classifier " +
                          head.classifier + " takes " + std::to_string(head.feature_channels) +
                          "; CAM needs the classifier's input (gradient methods take any layer)";
    } else {
      const at::Tensor f = detail::channels_first(probe.at(features).detach(), m.layout);
      const std::string why = cam_identity(m, f.to(at::kFloat), probe_logits.detach());
      if (!why.empty()) m.cam_layer_error = "--layer " + options.layer + ": " + why;
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
  return impl_->num_classes;
}
Task Model::task() const {
  return impl_->task;
}
const OutputInfo& Model::output() const {
  return impl_->output;
}
int Model::max_batch() const {
  return impl_->max_batch;
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
