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

#include <vector>

#include "camkit/model.hpp"
#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"

namespace camkit {

struct ExplainOptions {
  int top_k = 1;             ///< explain the k most probable classes
  std::vector<int> classes;  ///< explain exactly these classes (overrides top_k)
  /// Also return every class's raw map (the whole K x (h*w) product); off by default because
  /// only the explained classes' rows are multiplied otherwise.
  bool all_classes = false;
};

struct Prediction {
  int class_index = 0;
  std::string label;  ///< from metadata, "" when none
  float logit = 0;    ///< pre-activation output
  float score = 0;    ///< softmax probability, or sigmoid for single-logit models
};

struct ClassMap {
  Prediction prediction;
  Map raw;  ///< feature resolution (h x w)
};

struct Explanation {
  bool binary = false;                  ///< single-logit model: scores are sigmoid(logit)
  std::vector<Prediction> predictions;  ///< the top-k by score (binary: the one logit)
  std::vector<ClassMap> maps;           ///< one per explained class, in request order
  std::vector<ClassMap> all_maps;       ///< every class, when ExplainOptions::all_classes
};

class Explainer {
 public:
  /// Throws Error(ErrorCode::model) when the model has no CAM head (with the reason).
  explicit Explainer(const Model& model);

  /// Explains one input. Throws Error(ErrorCode::usage) for a class index out of range,
  /// Error(ErrorCode::input) when the input's shape does not fit the model.
  Explanation explain(const Prepared& input, const ExplainOptions& options) const;

  /// Explains inputs of equal size in one batched forward pass; results in input order.
  std::vector<Explanation> explain_batch(const std::vector<const Prepared*>& inputs,
                                         const ExplainOptions& options) const;

 private:
  Model model_;
};

/// Where one explained class points to, in the model input and in the source image.
struct Localization {
  Map display;                    ///< display map at the model input's size (input pixels)
  Region region;                  ///< the image region the model input covers (image pixels)
  std::optional<Box> box;         ///< CAM-paper box in image pixels (integer edges), if any
  double peak_x = 0, peak_y = 0;  ///< the display map's maximum, image pixels (pixel centre)
};

/// Display map (ReLU when `relu`, bilinear upsampling to the input size, min-max), the box of
/// its largest component above `threshold` * max mapped back through crop and resize (edges
/// rounded outwards, clamped to the image), and the map's peak.
Localization localize(const Map& raw, const Prepared& input, float threshold, bool relu);

/// The box of an already computed display map, mapped to image pixels.
std::optional<Box> image_box(const Map& display, const InputGeometry& geometry, float threshold);

/// "negative"/"positive" for a binary model's score (threshold 0.5), else the label.
std::string decision_label(const Explanation& ex, const Model& model);

}  // namespace camkit
