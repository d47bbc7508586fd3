// camkit/faithfulness.hpp — does the model's output depend on the pixels a map ranks high?
// Deletion and insertion AUC (Petsiuk et al. 2018, RISE, sec. 4.1), Average Drop /
// Increase in Confidence (Chattopadhyay et al. 2018, Grad-CAM++, sec. 6.2) and ROAD (Rong et
// al. 2022: MoRF / LeRF with noisy linear imputation); camkit eval --faithfulness.
// Definitions and sources: docs/eval.md.
//
// Usage:
//   camkit::Model model = camkit::Model::load("resnet18.pt");
//   camkit::Explainer explainer(model);
//   camkit::Prepared in = camkit::prepare(camkit::read_input("dog.jpg"), model.preprocess());
//   camkit::ExplainOptions eo;
//   eo.method = camkit::Method::gradcam;
//   camkit::Explanation ex = explainer.explain(in, eo);        // maps of the top-1 class
//   camkit::FaithfulnessOptions fo;                             // 50 steps, batches of 32
//   camkit::FaithfulnessSummary summary;
//   for (const camkit::FaithfulnessTrial& t : camkit::faithfulness_trials(explainer, ex, in, fo))
//     summary.add(t);
//   camkit::FaithfulnessReport r = summary.report(fo);
//   std::cout << *r.deletion_auc << " " << *r.insertion_auc << "\n";
//
// Everything here except faithfulness_trial(s)() is torch-free (library camkit_eval); those
// two run the model through Explainer::scores() and live in the camkit library.
//
// Threading: all functions are reentrant; a FaithfulnessSummary is a plain value.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "camkit/explain.hpp"
#include "camkit/preprocess.hpp"
#include "camkit/render.hpp"

namespace camkit {

struct FaithfulnessOptions {
  /// Equal steps from no pixel to every pixel of the model input; each curve has steps + 1
  /// points. RISE uses 224 steps of 224 pixels at 224 x 224.
  int steps = 50;
  int batch_size = 32;  ///< perturbed inputs per forward pass
  /// ROAD: percentages of the pixels removed (each in (0, 100)), in MoRF and in LeRF order;
  /// empty: no ROAD.
  std::vector<double> road_percentiles{10, 20, 30, 40, 50, 60, 70, 80, 90};
  /// Standard deviation of the Gaussian noise added to each imputed value (ROAD's 0.01), in
  /// the units of the model input (after normalisation).
  double road_noise = 0.01;
  unsigned long long road_seed = 0;  ///< seeds the noise (one stream per curve point)
};

// ------------------------------------------------------------------------------- building blocks

/// Pixel indices (y * width + x) of a display map, most salient first; equal values in
/// increasing index (raster) order. NaN ranks below every number.
std::vector<int> saliency_order(const Map& display);

/// Pixels changed after step s = 0..steps: floor(s * pixels / steps), so 0 first and `pixels`
/// last. Throws Error(usage) for steps < 1 or pixels < 1.
std::vector<int> step_counts(int pixels, int steps);

/// Area under the polyline (x[i], y[i]) by the trapezoid rule. Throws Error(usage) when the
/// sizes differ; 0 for fewer than two points.
double trapezoid_auc(const std::vector<double>& x, const std::vector<double>& y);

/// RISE's blur kernel, one dimension of 11 taps: scipy.ndimage.gaussian_filter (sigma 5,
/// truncate 4, mode "reflect") of an 11-tap unit impulse; RISE's 2-D kernel is its outer
/// product (`gkern(11, 5)` in RISE's evaluation.py). Sums to 1.
std::vector<double> rise_blur_kernel();

/// RISE's insertion start: every channel convolved with rise_blur_kernel() in both directions,
/// zero padding (RISE's conv2d(padding=5)), in the normalised input space.
Prepared rise_blur(const Prepared& input);

/// Copies pixels order[from..to) (all channels) of `source` into `target`; both the same size.
void paste_pixels(Prepared& target, const Prepared& source, const std::vector<int>& order, int from,
                  int to);

/// Grad-CAM++'s explanation map E = input ⊙ display: every channel of pixel (y, x) times
/// display(y, x). Throws Error(usage) when the map is not the input's size.
Prepared masked_input(const Prepared& input, const Map& display);

/// ROAD's pixels to remove at `percent` of the H*W pixels: MoRF removes the first
/// floor(H*W*percent/100) of `order` (saliency_order()), LeRF the last as many. Returns one
/// byte per pixel, 1 = removed. Throws Error(usage) unless 0 < percent < 100.
std::vector<unsigned char> road_removed(const std::vector<int>& order, double percent, bool morf);

/// ROAD's noisy linear imputation (Rong et al. 2022, sec. 4; NoisyLinearImputer of
/// github.com/tleemann/road_evaluation): every removed pixel takes, in each channel, the
/// weighted mean of its in-image 8 neighbours (weight 1/6 for the 4 direct ones, 1/12 for the
/// diagonals), removed neighbours being unknowns too; the sparse symmetric positive definite
/// system is solved exactly (Eigen's SimplicialLDLT), then N(0, noise^2) is added to each
/// imputed value (std::mt19937_64 seeded with `seed`). Kept pixels are unchanged. Throws
/// Error(usage) when `removed` is not one byte per pixel or removes every pixel.
Prepared road_impute(const Prepared& input, const std::vector<unsigned char>& removed, double noise,
                     unsigned long long seed);

// ------------------------------------------------------------------------------- results

/// One (image, class): the two curves and the Grad-CAM++ scores.
struct FaithfulnessTrial {
  int class_index = 0;            ///< the class scored (binary models: 0, the single logit)
  std::vector<double> fraction;   ///< fraction of pixels changed after each step, 0 .. 1
  std::vector<double> deletion;   ///< class probability after each step, from the input down
  std::vector<double> insertion;  ///< the same from the blurred input up
  double deletion_auc = 0;        ///< trapezoid of deletion over fraction; lower is better
  double insertion_auc = 0;       ///< higher is better
  double full_score = 0;          ///< Y_c: the probability on the input (deletion[0])
  double masked_score = 0;        ///< O_c: the probability on masked_input()
  double drop = 0;                ///< max(0, Y_c - O_c) / Y_c; 0 when Y_c = 0
  bool increase = false;          ///< O_c > Y_c
  /// ROAD: the class probability with options.road_percentiles of the pixels removed and
  /// imputed, most relevant first (lower is better) and least relevant first (higher).
  std::vector<double> road_morf, road_lerf;
};

/// Means over trials. Rates are fractions (the papers print them x 100); nullopt without trials.
struct FaithfulnessReport {
  FaithfulnessOptions options;
  int trials = 0;
  int increases = 0;
  std::optional<double> deletion_auc, insertion_auc;
  std::optional<double> average_drop;            ///< mean of drop
  std::optional<double> increase_in_confidence;  ///< increases / trials
  /// ROAD, one entry per options.road_percentiles (empty without trials or percentiles):
  /// mean probability in MoRF / LeRF order and mean score drop Y_c - p (MoRF / LeRF).
  std::vector<double> road_morf, road_lerf, road_morf_drop, road_lerf_drop;
  /// The curves' summary: the mean over percentiles of road_morf (lower is better), of
  /// road_lerf (higher), and lerf - morf (higher).
  std::optional<double> road_morf_mean, road_lerf_mean, road_gap;
  // Filled by the caller for the printed report.
  std::string method;                ///< e.g. "gradcam"
  std::string target = "predicted";  ///< whose class: "predicted" or "true"
  int images = 0;                    ///< images with at least one trial
  double map_seconds = 0;            ///< total time spent computing the maps (explain)
  double total_seconds = 0;          ///< maps plus the perturbed forward passes
};

/// Accumulates trials.
class FaithfulnessSummary {
 public:
  void add(const FaithfulnessTrial& trial);
  FaithfulnessReport report(const FaithfulnessOptions& options) const;

 private:
  int trials_ = 0, increases_ = 0;
  double deletion_ = 0, insertion_ = 0, drop_ = 0;
  std::vector<double> morf_, lerf_, morf_drop_, lerf_drop_;
};

// ------------------------------------------------------------------------------- model side

/// Needs the camkit library (LibTorch). Scores one display map (the input's size, values in
/// [0, 1]) for class `class_index`: the deletion curve (pixels of the input set to 0, the mean
/// colour, in saliency order), the insertion curve (pixels of the input pasted into
/// rise_blur(input)), both at step_counts(), the probability of masked_input() and ROAD's
/// MoRF and LeRF points (road_removed(), road_impute()), all through Explainer::scores() in
/// the same batches. Throws Error(usage) for a map of another size, steps < 1
/// or a class out of range; Error(input) when the input does not fit the model.
FaithfulnessTrial faithfulness_trial(const Explainer& explainer, const Prepared& input,
                                     const Map& display, int class_index,
                                     const FaithfulnessOptions& options);

/// faithfulness_trial() for each map of `ex` whose class is in `classes` (all maps when
/// empty), in map order, with the map's display map (display_map(), ReLU unless the method is
/// CAM). Binary explanations score their single map as class 0 (sigmoid of the one logit).
/// Throws Error(usage) when a class in `classes` has no map.
std::vector<FaithfulnessTrial> faithfulness_trials(const Explainer& explainer,
                                                   const Explanation& ex, const Prepared& input,
                                                   const FaithfulnessOptions& options,
                                                   const std::vector<int>& classes = {});

}  // namespace camkit
