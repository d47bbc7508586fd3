// camkit/sanity.hpp — do a method's maps depend on the model's weights? The cascading
// model-parameter randomisation test and its data-randomisation variant (Adebayo et al. 2018,
// "Sanity Checks for Saliency Maps", NeurIPS; camkit eval --sanity). Definitions: docs/eval.md.
//
// Usage:
//   camkit::Model model = camkit::Model::load("resnet18.pt");
//   camkit::Prepared in = camkit::prepare(camkit::read_input("dog.jpg"), model.preprocess());
//   camkit::SanityOptions so;
//   so.methods = {camkit::Method::gradcam};
//   camkit::SanityResult r = camkit::sanity_check(model, {in}, so);
//   for (const camkit::SanityMethod& m : r.methods)
//     std::cout << m.method << (m.flagged ? " flagged\n" : " passes\n");
//   std::cout << camkit::sanity_table(r);                       // one row per step
//   camkit::Rgb8 fig = camkit::sanity_figure(r, r.methods[0]);   // maps side by side
//
// The similarities and printers are torch-free (library camkit_eval); randomised_copy(),
// sanity_blocks() and sanity_check() need the camkit library (LibTorch).
//
// Threading: all functions are reentrant; results are plain values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "camkit/explain.hpp"
#include "camkit/model.hpp"
#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"

namespace camkit {

// ------------------------------------------------------------------------------- similarities

/// Spearman's rank correlation of two equal-size maps: Pearson's correlation of their ranks,
/// ties given their average rank (scipy.stats.spearmanr). 0 when either map is constant.
/// Throws Error(usage) for maps of different sizes.
double spearman_correlation(const Map& a, const Map& b);

/// Mean structural similarity (Wang et al. 2004) of two equal-size maps with values in [0, 1]:
/// Gaussian window sigma 1.5 (11 taps, borders reflected), population (co)variances,
/// C1 = 0.01^2, C2 = 0.03^2, averaged over the pixels 5 or more from the border — skimage's
/// structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
/// data_range=1). Maps under 11 x 11: the mean over every pixel. Throws Error(usage) for maps
/// of different sizes.
double ssim(const Map& a, const Map& b);

/// Histogram of oriented gradients as skimage.feature.hog(orientations=9,
/// pixels_per_cell=(8, 8), cells_per_block=(3, 3), block_norm="L2-Hys"): central-difference
/// gradients (0 on the border rows/columns), unsigned orientation in 9 bins of 20 degrees (hard
/// assignment), each cell's histogram of magnitudes divided by 64, blocks of 3 x 3 cells at
/// every cell, L2-Hys (clip at 0.2, eps 1e-5). Empty for maps under 24 x 24.
std::vector<double> hog_descriptor(const Map& map);

/// Pearson's correlation of the two maps' hog_descriptor(); nullopt for maps under 24 x 24, 0
/// when either descriptor is constant. Throws Error(usage) for maps of different sizes.
std::optional<double> hog_similarity(const Map& a, const Map& b);

// ------------------------------------------------------------------------------- results

struct SanityOptions {
  std::vector<Method> methods{Method::gradcam};  ///< each method is checked on its own
  /// Blocks: the parameterised modules at this depth of the module tree (1: the top-level
  /// submodules, 2: theirs, ...); a module above that depth holding parameters itself is one
  /// block. Randomised from the last (nearest the output, in definition order) down.
  int depth = 2;
  unsigned long long seed = 0;  ///< block b is re-initialised from seed + b
  /// A method is flagged when its mean Spearman correlation at the fully randomised step (and
  /// with --against, against the other model) is above this.
  double threshold = 0.5;
  int batch_size = 32;    ///< ExplainOptions::batch_size (Score-CAM, Ablation-CAM)
  int figure_inputs = 3;  ///< inputs drawn in the figure (the first ones)
};

/// Mean similarity of a step's maps to the original maps, over the inputs.
struct SanityScores {
  std::string step;  ///< "fc": the blocks up to this one are randomised; "against": --against
  double spearman = 0, ssim = 0;
  std::optional<double> hog;  ///< nullopt when the maps are under 24 x 24
  int maps = 0;               ///< maps compared
};

struct SanityMethod {
  std::string method;
  std::vector<SanityScores> cascade;    ///< one per block, top block first
  std::optional<SanityScores> against;  ///< data randomisation (a second model), if asked
  bool flagged = false;                 ///< the maps barely change (SanityOptions::threshold)
  std::string reason;                   ///< why it is flagged, one line ("" when not)
  /// Display maps of the first figure_inputs inputs: [input][0] the original's, then one per
  /// cascade step, then the --against model's.
  std::vector<std::vector<Map>> figure;
};

struct SanityResult {
  SanityOptions options;
  std::string model, against;       ///< paths ("" without --against)
  std::vector<std::string> blocks;  ///< randomised in this order (top first)
  std::vector<int> classes;         ///< per input: the original model's top-1 class, explained
  std::vector<SanityMethod> methods;
};

/// One row per (method, step): step, Spearman, SSIM, HOG; then the verdicts.
std::string sanity_table(const SanityResult& result);
/// The result as one JSON object (docs/eval.md, "Sanity checks").
std::string sanity_json(const SanityResult& result);
/// The figure of one method: a row per input of its figure maps (jet, 96 x 96 each, steps
/// left to right) under a header of step names.
Rgb8 sanity_figure(const SanityResult& result, const SanityMethod& method);

// ------------------------------------------------------------------------------- model side

/// Needs the camkit library. The blocks of `model` at `depth` (SanityOptions::depth), in
/// definition order. Throws Error(usage) for depth < 1, Error(model) when the module holds no
/// parameters.
std::vector<std::string> sanity_blocks(const Model& model, int depth);

/// Needs the camkit library. A copy of `model`, read again from its file (never written), with
/// the parameters of the listed blocks re-initialised: each tensor of block i (its index in
/// `all_blocks`) drawn from N(mean, sd) of its own values, sd its standard deviation (tensors of
/// equal values: sd = |mean|, or 0.01 when 0), generator seeded with seed + i; buffers (e.g.
/// BatchNorm's running statistics) are kept. Loaded with the model's own options. Throws
/// Error(usage) for a model loaded from memory or a block that is not in `all_blocks`.
Model randomised_copy(const Model& model, const std::vector<std::string>& randomise,
                      const std::vector<std::string>& all_blocks, unsigned long long seed);

/// Needs the camkit library. Explains each input's top-1 class (by `model`) with every method
/// of `options` on `model`, on each cascade step's randomised_copy() and on `against` (when
/// given, same class), and compares each map with the original (display maps at input size).
/// Throws Error(usage) without inputs or methods; errors of explain() pass through.
SanityResult sanity_check(const Model& model, const std::vector<Prepared>& inputs,
                          const SanityOptions& options, const Model* against = nullptr);

}  // namespace camkit
