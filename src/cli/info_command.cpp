// camkit info MODEL: what head detection found, the input the model expects, its modules
// (--json: the library's model_info_json, which the Python module returns too).
#include <algorithm>
#include <iostream>
#include <sstream>
#include <thread>

#include "camkit/error.hpp"
#include "camkit/info.hpp"
#include "camkit/model.hpp"
#include "cli/commands.hpp"
#include "cli/printable.hpp"

namespace camkit::cli {
namespace {

struct InfoArgs {
  std::string model;
  std::string layer;
  std::string output;
  std::string device = "cpu";
  bool json = false;
};

// The probe's batch of one stands for any batch: [N, 1000].
std::string shape_text(const std::vector<long>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + (i == 0 ? std::string("N") : std::to_string(shape[i]));
  return s + "]";
}

std::string task_text(const Model& model) {
  const int k = model.num_classes();
  switch (model.task()) {
    case Task::binary:
      return "binary (one logit, sigmoid)";
    case Task::multilabel:
      return "multilabel (" + std::to_string(k) + " independent sigmoids)";
    case Task::regression:
      return "regression (" + std::to_string(k) + " output value" + (k == 1 ? "" : "s") +
             ", no score transform)";
    default:
      return "multiclass (softmax over " + std::to_string(k) + " classes)";
  }
}

std::string join(const std::vector<float>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

void print_text(const Model& model, const std::string& gradients) {
  const HeadInfo& h = model.head();
  const InputSpec in = model.input_spec();
  const Preprocess pre = model.preprocess();
  const ModelMetadata& meta = model.metadata();
  std::cout << "model:       " << printable(model.path()) << "\n";
  std::cout << "metadata:    " << (meta.present ? "embedded camkit.json" : "none") << "\n";
  if (!meta.architecture.empty()) std::cout << "architecture: " << meta.architecture << "\n";
  std::cout << "input:       " << (in.channels ? std::to_string(in.channels) : "?")
            << " channel(s)";
  if (in.rank == 3)  // volumes and clips: D x H x W
    std::cout << ", " << (in.depth ? std::to_string(in.depth) : "?") << "x" << in.height << "x"
              << in.width << " (N, C, D, H, W)";
  else if (in.height)
    std::cout << ", " << in.height << "x" << in.width;
  std::cout << "\n";
  std::cout << "preprocess:  ";
  if (pre.resize) std::cout << "resize " << pre.resize << ", ";
  if (pre.crop_height) std::cout << "crop " << pre.crop_height << "x" << pre.crop_width << ", ";
  if (pre.size_height) std::cout << "size " << pre.size_height << "x" << pre.size_width << ", ";
  if (pre.normalises())
    std::cout << "mean " << join(pre.mean) << " std " << join(pre.std) << "\n";
  else
    std::cout << "no normalisation\n";
  const OutputInfo& out = model.output();
  std::cout << "output:      ";
  for (const auto& c : out.candidates)
    if (c.name == out.chosen)
      std::cout << (c.name.empty() ? "" : c.name + " ")
                << (c.field.empty() ? "" : "(" + c.field + ") ") << shape_text(c.shape);
  std::cout << " (" << out.chosen_by;
  if (out.candidates.size() > 1) {
    std::cout << "; returned:";
    for (const auto& c : out.candidates)
      std::cout << " " << (c.name.empty() ? "-" : c.name) << " " << shape_text(c.shape);
  }
  std::cout << ")";
  if (!out.activation.empty())
    std::cout << ", after the model's final " << out.activation
              << " is undone: maps explain the logits";
  std::cout << "\n";
  std::cout << "task:        " << task_text(model) << "\n";
  if (h.found) {
    std::cout << "head:        " << h.kind << " (" << h.pooling << " -> "
              << (h.slice_reduce.empty() ? "" : h.slice_reduce + " over slices -> ") << h.classifier
              << ")" << (h.relu_before_pool ? ", ReLU before pooling" : "") << "\n";
    std::cout << "features:    " << h.feature_layer;
    for (const auto& op : h.feature_ops) std::cout << " -> " << op;
    std::cout << ", " << h.feature_channels << " channels";
    if (h.feature_height && in.rank == 3)
      std::cout << ", " << h.feature_depth << "x" << h.feature_height << "x" << h.feature_width;
    else if (h.feature_height)
      std::cout << ", " << h.feature_height << "x" << h.feature_width;
    std::cout << "\n";
    std::cout << "classifier:  " << h.classifier << ", " << h.num_classes
              << (h.num_classes == 1 ? " logit" : " classes")
              << (h.has_bias ? ", with bias" : ", no bias") << "\n";
  } else {
    std::cout << "head:        none (" << h.reason << ")\n";
  }
  const LayerInfo& l = model.layer();
  if (l.found) {
    std::cout << "layer:       " << l.layer;
    for (const auto& op : l.ops) std::cout << " -> " << op;
    std::cout << ", " << l.channels << "x" << (in.rank == 3 ? std::to_string(l.depth) + "x" : "")
              << l.height << "x" << l.width << ", " << l.layout << " " << l.layout_shape;
    if (l.prefix_tokens)
      std::cout << " (" << l.prefix_tokens << " prefix token" << (l.prefix_tokens > 1 ? "s" : "")
                << " left out of the map)";
    std::cout << " (" << l.chosen_by << ")\n";
    std::cout << "gradients:   "
              << (gradients.empty() ? "reach the layer: gradient methods can run" : gradients)
              << "\n";
  } else {
    std::cout << "layer:       none (" << l.reason << ")\n";
  }
  if (!meta.labels.empty()) {
    std::cout << "labels:      " << meta.labels.size() << " (";
    for (size_t i = 0; i < meta.labels.size() && i < 3; ++i)
      std::cout << (i ? ", " : "") << meta.labels[i];
    std::cout << (meta.labels.size() > 3 ? ", ..." : "") << ")\n";
  }
  std::cout << "modules:\n";
  for (const auto& m : model.module_paths()) std::cout << "  " << m << "\n";
}

}  // namespace

Runner add_info(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info",
                                     "Show the head camkit finds in a model, its input "
                                     "and its module paths");
  cmd->add_option("model", args->model, "TorchScript model (.pt)")->required();
  cmd->add_option("--layer", args->layer, "Module path to use as the feature map");
  cmd->add_option("--output", args->output,
                  "The output that holds the logits (index, dict key or field), when the model "
                  "returns several");
  cmd->add_option("--device", args->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  return [args] {
    ModelOptions opt;
    opt.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    opt.layer = args->layer;
    opt.output = args->output;
    opt.device = args->device;
    opt.optimize = false;
    const Model model = Model::load(args->model, opt);
    const std::string gradients = gradient_status(model);
    if (args->json)
      std::cout << model_info_json(model) << std::endl;
    else
      print_text(model, gradients);
    // Exit 3 only when no method at all can run on the model.
    if (!model.layer().found) {
      diagnose(args->model + ": no method can run: " + model.layer().reason);
      return static_cast<int>(ErrorCode::model);
    }
    return 0;
  };
}

}  // namespace camkit::cli
