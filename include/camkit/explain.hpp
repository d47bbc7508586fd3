// camkit/explain.hpp — predictions and class activation maps for prepared inputs.
//
// Usage:
//   camkit::Model model = camkit::Model::load("resnet18.pt");
//   camkit::Explainer explainer(model);                        // cheap; one per thread
//   camkit::Prepared in = camkit::prepare(camkit::read_input("cat.jpg"), model.preprocess());
//   camkit::ExplainOptions opt;
//   opt.top_k = 3;
//   camkit::Explanation ex = explainer.explain(in, opt);
//   for (const camkit::ClassMap& m : ex.maps)                  // raw maps, feature resolution
//     std::cout << m.prediction.label << " " << m.prediction.score << "\n";
//
// Raw map (CAM, Zhou et al. 2016, eq. in sec. 2): M_c = sum_k W[c,k] A_k over the feature map A
// that enters the global average pooling; no bias, no ReLU, no normalisation. For a linear head
// mean(M_c) + b_c equals logit y_c.
//
// Threading: an Explainer holds no mutable state shared with others; use one per thread, all
// sharing the same Model.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "camkit/model.hpp"
#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"

namespace camkit {

/// The methods; definitions, papers and costs in docs/methods.md.
enum class Method {
  cam,          ///< Zhou et al. 2016: classifier weights x activations (needs a CAM head)
  gradcam,      ///< Selvaraju et al. 2017: channel weights = mean gradient
  gradcam_pp,   ///< Chattopadhyay et al. 2018: higher-order gradient weights
  xgradcam,     ///< Fu et al. 2020: activation-normalised gradient weights
  layercam,     ///< Jiang et al. 2021: positive gradients x activations, per position
  hirescam,     ///< Draelos & Carin 2020: gradients x activations, per position
  scorecam,     ///< Wang et al. 2020: weights from the logits of inputs masked by each channel
  ablationcam,  ///< Desai & Ramaswamy 2020: weights from the logit drop when a channel is zeroed
  eigencam,     ///< Muhammad & Yeasin 2020: first principal component (class-independent)
  /// Chefer, Gur & Wolf 2021: gradient-weighted attention relevance of a vision transformer
  /// (the attention probabilities of every layer, not one layer's activations)
  attention_relevance,
  gradcam_elementwise,  ///< ReLU of gradients x activations, summed over channels
  eigengradcam,         ///< first principal component of gradients x activations
  /// Omeiza et al. 2019: Grad-CAM++ with derivatives averaged over noisy copies of the input
  smoothgradcam_pp,
  /// Springenberg et al. 2015: the input gradient through ReLUs that pass back only positive
  /// gradients of positive inputs; an input-resolution map
  guided_backprop,
  /// Selvaraju et al. 2017: guided backpropagation times the upsampled Grad-CAM map
  guided_gradcam,
  /// Wang et al. 2020: Score-CAM with each channel's score averaged over noisy masks
  sscam,
  /// Naidu et al. 2020: Score-CAM with each channel's score integrated from a zero mask
  iscam,
  /// Srinivas & Fleuret 2019: input-gradient x input plus every conv and batch-norm
  /// bias-gradient, each post-processed and summed; an input-resolution map
  fullgrad,
};

/// "cam", "gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "scorecam",
/// "ablationcam", "eigencam", "attention-relevance", "gradcam-elementwise", "eigengradcam",
/// "smoothgradcam++", "guided-backprop", "guided-gradcam", "sscam", "iscam", "fullgrad";
/// nullopt otherwise.
std::optional<Method> parse_method(std::string_view name);
std::string method_name(Method method);
/// All method names, for help texts.
std::vector<std::string> method_names();
/// Whether the method's paper applies a ReLU to the map before display (all but CAM).
bool method_uses_relu(Method method);
/// Whether the method differentiates the logits (such methods run one input per pass in
/// dataset runs).
bool method_uses_gradients(Method method);

/// How the maps of several layers become one (docs/methods.md, "Several layers at once"):
/// each layer's display map at the model input's size (ReLU where the method applies it,
/// bilinear upsampling, min-max), then their pixel-wise mean, maximum or product.
enum class FuseRule { mean, max, product };
/// "mean", "max", "product"; nullopt otherwise.
std::optional<FuseRule> parse_fuse_rule(std::string_view name);
std::string fuse_rule_name(FuseRule rule);
/// Why `method`'s maps cannot be fused over layers ("" when they can): attention relevance
/// reads every attention layer, not one; the guided methods' maps are input gradients; CAM is
/// defined at the one feature map entering the global pooling.
std::string fuse_refusal(Method method);

struct ExplainOptions {
  Method method = Method::cam;
  int top_k = 1;             ///< explain the k most probable classes (regression: outputs 0..k-1)
  std::vector<int> classes;  ///< explain exactly these classes (overrides top_k)
  /// Binary and multi-label tasks: the score at which a class counts as positive
  /// (Prediction::positive, Explanation::positives).
  float positive_threshold = 0.5f;
  /// Explain every positive class (multi-label findings) instead of the top-k; `classes`
  /// still overrides.
  bool explain_positives = false;
  /// Also return every class's raw map (the whole K x (h*w) product); off by default because
  /// only the explained classes' rows are multiplied otherwise.
  bool all_classes = false;
  /// Masked or ablated inputs per forward pass (Score-CAM, Ablation-CAM). On the CPU Score-CAM
  /// takes at most as many as hold four 3x224x224 inputs (docs/methods.md: larger batches cost
  /// more in page faults than batching saves); accelerators take it as given.
  int batch_size = 32;
  /// Gradient methods but Eigen-Grad-CAM: the first principal component of the weighted
  /// activations (the terms the method sums over channels) instead of their sum.
  bool eigen_smooth = false;
  /// Test-time augmentation: the maps averaged over horizontal flip x input scale 0.9, 1.0,
  /// 1.1 (augmentations()), each flipped back first; predictions and classes from the
  /// unaugmented input. Images only (not explain_volume).
  bool aug_smooth = false;
  /// Smooth Grad-CAM++: noise standard deviation as a fraction of the input's range
  /// (max - min of the model input), noisy copies, and the seed of the noise. SS-CAM: the
  /// noise on the masks (whose range is 1), noisy masks per channel, seed. IS-CAM: `samples`
  /// is the number of integration steps (no noise).
  double noise_sigma = 0.15;
  int samples = 16;
  uint64_t seed = 0;
};

/// One test-time augmentation of ExplainOptions::aug_smooth: the model input mirrored left to
/// right (when `flip`) and multiplied by `scale`.
struct Augmentation {
  bool flip = false;
  float scale = 1.0f;
};
/// The augmentations of aug_smooth, the identity first.
std::vector<Augmentation> augmentations();

struct Prediction {
  int class_index = 0;
  std::string label;  ///< from metadata, "" when none
  float logit = 0;    ///< pre-activation output (regression: the output value)
  /// By the model's task: softmax probability (multiclass), sigmoid (binary, multilabel), the
  /// output value itself (regression).
  float score = 0;
  bool positive = false;  ///< binary, multilabel: score >= the positive threshold
};

struct ClassMap {
  Prediction prediction;
  Map raw;  ///< feature resolution (h x w; 3-D models: d x h x w); fused: the input's size
};

/// One layer of a fused explanation, as used.
struct FusedLayer {
  std::string layer, layout;
  std::vector<int> feature_shape;  ///< (C, h, w) after the layout's view
};

struct Explanation {
  Task task = Task::multiclass;
  bool binary = false;  ///< task == Task::binary: one logit, scores are sigmoid(logit)
  Method method = Method::cam;
  std::vector<Prediction> predictions;  ///< the top-k by score (binary: the one logit)
  std::vector<ClassMap> maps;           ///< one per explained class, in request order
  std::vector<ClassMap> all_maps;       ///< every class, when ExplainOptions::all_classes
  /// What the maps were computed from, as used: the layer, its layout ("channels-first",
  /// "channels-last", "tokens") and the map stack's shape (C, h, w) after the layout's view
  /// ((C, d, h, w) for 3-D models).
  std::string layer, layout;
  std::vector<int> feature_shape;
  /// Binary and multi-label tasks: every class whose score reaches the positive threshold,
  /// by decreasing score (the findings of a multi-label model).
  std::vector<int> positives;
  /// Every class's score, in class order.
  std::vector<float> scores;
  /// Fused explanations (fuse_explanations): every layer, in the order given, and the rule;
  /// `layer` then joins the layers with '+', `layout` is "fused" and the raw maps have the
  /// model input's size.
  std::vector<FusedLayer> fused_layers;
  std::optional<FuseRule> fuse;
};

/// How an exam's slices reach the model (docs/volumes.md).
enum class VolumeLayout {
  stacked,  ///< one input (1, S, C, H, W), as MRNet takes an exam
  batch,    ///< the S slices as the batch (S, C, H, W)
};

struct VolumeClassMaps {
  Prediction prediction;
  std::vector<Map> slices;  ///< raw map of every slice, feature resolution, in slice order
};

struct VolumeExplanation {
  Task task = Task::multiclass;
  bool binary = false;
  Method method = Method::cam;
  std::vector<Prediction> predictions;  ///< the exam's top-k (binary: the one logit)
  std::vector<VolumeClassMaps> maps;    ///< one per explained class, in request order
  /// Models that score every slice (batch layout, one row of logits per slice): each slice's
  /// scores; the exam's logits are then the maximum over the slices. Empty otherwise.
  std::vector<std::vector<float>> slice_scores;
  std::string layer, layout;       ///< as in Explanation
  std::vector<int> feature_shape;  ///< (C, h, w) of one slice's map stack
  std::vector<int> positives;      ///< as in Explanation
};

class Explainer {
 public:
  explicit Explainer(const Model& model);

  /// Checks, before any input, that the method can run on the model: a CAM head for CAM, a
  /// layer for every method, and for gradient methods (and Ablation-CAM) one probe pass
  /// through the graph they use, with gradients reaching the layer's map positions. Each check
  /// runs once per model. Throws Error(model) with the reason (Error(usage) for a --layer CAM
  /// cannot use); explain() calls it too.
  void check(const ExplainOptions& options) const;

  /// Explains one input. Throws Error(ErrorCode::model) for Method::cam on a model without a
  /// CAM head, or any method when no layer was found (with the reason);
  /// Error(ErrorCode::usage) for a class index out of range or a --layer CAM cannot use,
  /// Error(ErrorCode::input) when the input's shape does not fit the model.
  Explanation explain(const Prepared& input, const ExplainOptions& options) const;

  /// Explains inputs of equal size in one batched forward pass; results in input order.
  std::vector<Explanation> explain_batch(const std::vector<const Prepared*>& inputs,
                                         const ExplainOptions& options) const;

  /// Explains one exam: the slices (equal prepared size) run through the model in `layout`,
  /// one map per slice and explained class. The tapped layer must give one (C, h, w) map per
  /// slice. CAM needs a head that pools each slice and reduces over the slices (max or mean)
  /// before the classifier (HeadInfo::slice_reduce; the CAM identity is checked on the pooled
  /// vectors), or a per-slice head (batch layout, S rows of logits); gradient methods
  /// differentiate the exam's logit with respect to every slice's activations; Eigen-CAM is
  /// per slice. Throws Error(usage) for Score-CAM and Ablation-CAM (not defined for exams here),
  /// otherwise like explain().
  VolumeExplanation explain_volume(const std::vector<Prepared>& slices, VolumeLayout layout,
                                   const ExplainOptions& options) const;

  /// Class probabilities (softmax; sigmoid of the one logit for single-logit models) from the
  /// model's forward pass, `batch_size` inputs of equal size per pass: one row per input, in
  /// input order, of num_classes() values (1 for single-logit models). Throws like explain().
  std::vector<std::vector<float>> scores(const std::vector<const Prepared*>& inputs,
                                         int batch_size = 32) const;

 private:
  Model model_;
};

/// Where one explained class points to, in the model input and in the source image.
struct Localization {
  Map display;                    ///< display map at the model input's size (input pixels)
  Region region;                  ///< the image region the model input covers (image pixels)
  std::optional<Box> box;         ///< CAM-paper box in image pixels (integer edges), if any
  double peak_x = 0, peak_y = 0;  ///< the display map's maximum, image pixels (pixel centre)
  /// Volumes and clips: the peak's depth coordinate (voxel centre); 0.5 for images.
  double peak_z = 0.5;
};

/// Display map (ReLU when `relu`, bilinear upsampling to the input size, min-max), the box of
/// its largest component above `threshold` * max mapped back through crop and resize (edges
/// rounded outwards, clamped to the image), and the map's peak. For 3-D inputs (input.depth,
/// raw.depth) the same in three dimensions: trilinear upsampling, a 26-connected box in voxels
/// (z0, z1 included), the peak voxel.
Localization localize(const Map& raw, const Prepared& input, float threshold, bool relu);

/// The box of an already computed display map, mapped to image pixels.
std::optional<Box> image_box(const Map& display, const InputGeometry& geometry, float threshold);

/// One input's explanations at several layers (same model, same classes in the same order, as
/// Explainer::explain gives them for models loaded with different ModelOptions::layer) fused
/// into one: each class's map is `rule` over the layers' display maps (display_map at the
/// input's height x width, with the method's ReLU), stored as the raw map (input resolution).
/// Predictions and scores are the first layer's. Throws Error(usage) for fewer than two
/// explanations, a method fuse_refusal() names, 3-D inputs, or explanations whose classes
/// differ.
Explanation fuse_explanations(const std::vector<Explanation>& layers, const Prepared& input,
                              FuseRule rule);

/// "negative"/"positive" for a binary model's score (threshold 0.5), else the label.
std::string decision_label(const Explanation& ex, const Model& model);

}  // namespace camkit
