// camkit/model.hpp — a loaded TorchScript classifier and what camkit found inside it.
//
// Usage:
//   camkit::Model model = camkit::Model::load("resnet18.pt");
//   const camkit::HeadInfo& head = model.head();
//   if (!head.found) std::cerr << head.reason << "\n";      // e.g. VGG: no CAM head
//   std::cout << head.feature_layer << " -> " << head.classifier << "\n";   // "layer4 -> fc"
//   camkit::Preprocess pre = model.preprocess();              // from the embedded metadata
//   std::cout << model.layer().layer << " " << model.layer().layout << "\n";  // "layer4
//   channels-first"
//
// Verify, then trust: load() runs the model once on a seeded probe input and establishes what
// every method relies on — which output holds the logits (OutputInfo), how many there are and
// how they become scores (Task), where the CAM head is, and the layer the methods read with its
// layout (channels-first, channels-last or tokens, tracked through the graph), which must lie
// before any global pooling and have spatial extent. What cannot be established is refused
// with Error(ErrorCode::model) naming what was found and what to pass instead.
//
// Threading: a Model is immutable after load(); copies share one loaded network and may be used
// from any number of threads at once (each thread with its own Explainer).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "camkit/preprocess.hpp"

namespace camkit {

/// How the model's outputs become scores, and what a map explains (docs/methods.md, "Targets").
enum class Task {
  multiclass,  ///< softmax over K > 1 logits; the map explains the pre-softmax logit y_c
  binary,      ///< one logit, sigmoid; the decision is positive at p >= 0.5
  multilabel,  ///< K independent sigmoids (several findings per input)
  regression,  ///< no transform: the output value itself is explained
};
/// "multiclass", "binary", "multilabel", "regression".
std::string task_name(Task task);
/// The task from its name; nullopt otherwise.
std::optional<Task> parse_task(const std::string& name);

struct ModelOptions {
  std::string device = "cpu";  ///< "cpu" or "cuda[:N]" (needs a LibTorch built with CUDA)
  std::string layer;           ///< module path whose output is the feature map ("" = detected)
  /// The output that holds the logits when the model returns a tuple or dict: an index ("1"),
  /// a dict key or named-tuple field ("logits"); "" = the metadata's, else decided (OutputInfo).
  std::string output;
  /// Overrides the task the metadata declares (or the one inferred from the model).
  std::optional<Task> task;
  /// Input size for the probe run when the metadata declares none (0 = 224x224; 3-D models:
  /// 16x112x112, the torchvision video models' clips).
  int probe_height = 0, probe_width = 0;
  int probe_depth = 0;  ///< 3-D models: the probe's depth (frames, slices); 0 = 16
  /// Run the tapped graph frozen and optimised for inference (torch.jit.freeze +
  /// optimize_for_inference: conv-BN folding, oneDNN layouts). Maps equal the plain graph's
  /// within 1e-4 relative; off, the graph runs as loaded.
  bool optimize = true;
  /// Intra-op threads for LibTorch; 0 leaves the process-wide setting alone.
  /// Note: LibTorch's thread count is process-wide, not per model.
  int threads = 0;
};

/// The model's expected input, from metadata, else from the graph (first convolution).
struct InputSpec {
  int channels = 0;           ///< 0 when unknown
  int height = 0, width = 0;  ///< 0 when not fixed
  /// 3-D models (video clips, volumes; docs/volumes3d.md): the depth (frames or slices) of
  /// (N, C, D, H, W); 0 when not fixed.
  int depth = 0;
  /// Spatial axes of the input: 2 for images (N, C, H, W), 3 for volumes and clips
  /// (N, C, D, H, W), decided by the first convolution (Conv3d) or the declared depth.
  int rank = 2;
};

/// The camkit metadata a model may embed (extra file "camkit.json"; see docs/export.md).
struct ModelMetadata {
  bool present = false;
  std::string architecture;
  std::vector<std::string> labels;
  InputSpec input;                       ///< declared input channels and size
  std::optional<Preprocess> preprocess;  ///< input channels/size, resize policy, mean/std
  std::string json;                      ///< the embedded text as stored
  /// "stacked": the model takes one exam as [1, S, C, H, W]; "batch": its S slices as the
  /// batch [S, C, H, W]; "" for image classifiers.
  std::string volume;
  int num_classes = 0;  ///< declared K (0 when not declared)
  std::string task;     ///< declared task name ("" when not declared)
  std::string output;   ///< declared output holding the logits ("" when not declared)
};

/// Which output of the model is explained.
struct OutputInfo {
  /// Every tensor the model returns: name ("" for a single tensor, "0", "1", ... for tuple
  /// elements, keys for dicts) and size for the probe input.
  struct Candidate {
    std::string name, field;
    std::vector<long> shape;
  };
  std::vector<Candidate> candidates;
  std::string chosen;     ///< the chosen candidate's name
  std::string chosen_by;  ///< "the only output", "named logits", "--output 1", ...
  /// The model applies this to its logits before returning them ("softmax", "sigmoid",
  /// "log_softmax"); camkit explains the logits before it. "" otherwise.
  std::string activation;
};

/// What head detection found in the TorchScript graph.
struct HeadInfo {
  bool found = false;
  std::string reason;  ///< why there is no CAM head (when !found), one line
  /// "linear": global average pool -> (flatten/view/dropout) -> linear classifier;
  /// "conv1x1": 1x1 convolution classifier -> (ReLU) -> global average pool (SqueezeNet).
  std::string kind;
  std::string pooling;        ///< the pooling op, e.g. "aten::adaptive_avg_pool2d"
  std::string feature_layer;  ///< module path whose output is the feature map, e.g. "layer4"
  std::vector<std::string> feature_ops;  ///< ops applied after that module, e.g. {"relu"}
  std::string classifier;  ///< module path (or attribute) of the classifier, e.g. "fc"
  int num_classes = 0;
  int feature_channels = 0;
  bool has_bias = false;
  bool relu_before_pool = false;  ///< conv1x1 heads: logits = mean(ReLU(W·A + b))
  /// Exam models (MRNet): the pooled vectors of the slices, which the model runs as its batch,
  /// are reduced over the slices ("max" or "mean") before the classifier; "" otherwise. The map
  /// of slice s is then W·A_s (docs/volumes.md).
  std::string slice_reduce;
  /// Feature map size for the probe input (0 when no input size was known at load).
  int feature_height = 0, feature_width = 0;
  int feature_depth = 1;  ///< 3-D models: the map's depth (1 for images)
};

/// The layer whose activations the methods read.
struct LayerInfo {
  bool found = false;
  std::string reason;            ///< why no layer could be chosen (when !found)
  std::string layer;             ///< module path, e.g. "layer4" or "features.28"
  std::vector<std::string> ops;  ///< element-wise ops applied after that module
  /// "cam head" (the input of the global pooling), "--layer", or "last map" (for models
  /// without a CAM head: the last activation before the output with a known layout and
  /// spatial extent whose map positions the logits depend on; docs/methods.md).
  std::string chosen_by;
  /// "channels-first" (N, C, H, W) or (N, C, D, H, W), "channels-last" (N, H, W, C) or
  /// "tokens" (N, P + h*w, C: P prefix tokens such as a class token, then the patch grid).
  std::string layout;
  std::string layout_shape;  ///< e.g. "(N, C, H, W)" or "(N, 1 + 14x14, C)"
  int prefix_tokens = 0;     ///< tokens layout: P (left out of the map)
  /// Channels and map size for the probe input.
  int channels = 0, height = 0, width = 0;
  int depth = 1;  ///< 3-D models: the map's depth (1 for images)
  /// Gradient methods cannot run when this is set: why gradients do not reach the layer.
  std::string gradient_error;
};

class Model {
 public:
  /// Loads a TorchScript file (traced or scripted), analyses its graph and probes it once.
  /// Throws Error(ErrorCode::model) when the file is not a loadable TorchScript classifier
  /// camkit can drive (several inputs, no probe run, invalid metadata, an output or layer it
  /// cannot establish), Error(ErrorCode::usage) for an unknown device, layer or output. A
  /// model without a CAM head still loads (head().found == false), for the other methods.
  static Model load(const std::string& path, const ModelOptions& options = {});

  /// Loads a TorchScript archive held in memory (the bytes torch.jit.save writes, e.g. into an
  /// io.BytesIO), exactly as load() reads a file; `name` stands for the path in path() and in
  /// messages. Throws like load().
  static Model load_from_memory(const std::string& bytes, const std::string& name,
                                const ModelOptions& options = {});

  const std::string& path() const;
  const ModelOptions& options() const;
  const ModelMetadata& metadata() const;
  const HeadInfo& head() const;
  /// The tapped layer: set whenever any method can run on the model.
  const LayerInfo& layer() const;
  InputSpec input_spec() const;
  /// The preprocessing the model asks for: its metadata, else channels from the graph and
  /// no resize or normalisation.
  Preprocess preprocess() const;
  /// Number of logits the model outputs.
  int num_classes() const;
  /// How the outputs become scores: ModelOptions::task, else the metadata's, else binary for
  /// one logit, multilabel when the model ends in a sigmoid, multiclass otherwise.
  Task task() const;
  /// The output explained, and every output found.
  const OutputInfo& output() const;
  /// Largest batch the model runs (0 = any; 1 when its graph fixes the batch size).
  int max_batch() const;
  /// Label of class c from metadata, or "" when none is embedded.
  std::string label(int c) const;
  /// Every submodule's dotted path, in definition order ("conv1", "layer1", "layer1.0", ...).
  std::vector<std::string> module_paths() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  static Model load_source(const std::string& path, const std::string* bytes,
                           const ModelOptions& options);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace camkit
