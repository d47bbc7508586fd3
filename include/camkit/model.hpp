// camkit/model.hpp — a loaded TorchScript classifier and what camkit found inside it.
//
// Usage:
//   camkit::Model model = camkit::Model::load("resnet18.pt");
//   const camkit::HeadInfo& head = model.head();
//   if (!head.found) std::cerr << head.reason << "\n";      // e.g. VGG: no CAM head
//   std::cout << head.feature_layer << " -> " << head.classifier << "\n";   // "layer4 -> fc"
//   camkit::Preprocess pre = model.preprocess();              // from the embedded metadata
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

struct ModelOptions {
  std::string device = "cpu";  ///< "cpu" or "cuda[:N]" (needs a LibTorch built with CUDA)
  std::string layer;           ///< module path whose output is the feature map ("" = detected)
  /// Run the tapped graph frozen and optimised for inference (torch.jit.freeze +
  /// optimize_for_inference: conv-BN folding, oneDNN layouts). Maps equal the plain graph's
  /// within 1e-4 relative; off, the graph runs as loaded.
  bool optimize = true;
  /// Run one forward pass at load to check the head numerically and learn the feature map's
  /// size (HeadInfo::feature_height/width). Heads that need it are always probed; linear heads
  /// are otherwise checked on every batch.
  bool probe = false;
  /// Intra-op threads for LibTorch; 0 leaves the process-wide setting alone.
  /// Note: LibTorch's thread count is process-wide, not per model.
  int threads = 0;
};

/// The model's expected input, from metadata, else from the graph (first convolution).
struct InputSpec {
  int channels = 0;           ///< 0 when unknown
  int height = 0, width = 0;  ///< 0 when not fixed
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
};

/// The layer whose activations the methods read.
struct LayerInfo {
  bool found = false;
  std::string reason;            ///< why no layer could be chosen (when !found)
  std::string layer;             ///< module path, e.g. "layer4" or "features.28"
  std::vector<std::string> ops;  ///< element-wise ops applied after that module
  /// "cam head" (the input of the global pooling), "--layer", or "last activation" (the last
  /// 4-D activation with spatial size > 1 before the output, for models without a CAM head).
  std::string chosen_by;
  int channels = 0, height = 0, width = 0;  ///< for the probe input, 0 when not probed
};

class Model {
 public:
  /// Loads a TorchScript file (traced or scripted) and analyses its graph.
  /// Throws Error(ErrorCode::model) when the file is not a loadable TorchScript classifier,
  /// Error(ErrorCode::usage) for an unknown device or layer. A model without a CAM head
  /// still loads (head().found == false), for methods that do not need one.
  static Model load(const std::string& path, const ModelOptions& options = {});

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
  /// Number of logits the model outputs (0 when unknown without a head).
  int num_classes() const;
  /// Label of class c from metadata, or "" when none is embedded.
  std::string label(int c) const;
  /// Every submodule's dotted path, in definition order ("conv1", "layer1", "layer1.0", ...).
  std::vector<std::string> module_paths() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace camkit
