// camkit/record.hpp — one explained input as `camkit explain` presents it: the picture its
// overlays are drawn over, each map's localisation and overlay, and its record (<stem>.json).
//
// Usage:
//   camkit::Image image = camkit::read_input("cat.jpg");
//   camkit::Prepared in = camkit::prepare(image, model.preprocess(), "cat.jpg");
//   camkit::Explanation ex = camkit::Explainer(model).explain(in, opt);
//   std::vector<camkit::Localization> locs = camkit::localize_maps(ex, in, 0.2f);
//   camkit::Rgb8 base = camkit::overlay_base(image, std::nullopt, 4096);
//   camkit::Rgb8 pic = camkit::render_overlay(base, image.width, image.height, locs[0], {});
//   camkit::RecordInput ri{"cat.jpg", image.width, image.height, image.channels};
//   std::string json = camkit::explanation_record(model, ri, ex, locs, {});
//
// The dataset pipeline (camkit explain) and the Python module build their results through
// these functions only, so that a map, box, overlay or record of one equals the other's.
//
// Threading: all functions are reentrant; the Model may be shared.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "camkit/explain.hpp"
#include "camkit/image.hpp"
#include "camkit/render.hpp"

namespace camkit {

/// The picture overlays are drawn over: the image as 8-bit RGB (to_rgb8; a grey image through
/// `image_colormap` when given), shrunk to at most `max_side` pixels on its longer side.
Rgb8 overlay_base(const Image& image, std::optional<Colormap> image_colormap, int max_side);

/// Inputs per forward pass for `requested`, such that every result equals that of a pass of
/// one input: the unoptimised CPU graph picks convolution kernels by batch size (maps then
/// differ in the last bits) and gradient methods run that graph, so only non-gradient methods
/// on the frozen graph batch; a graph that fixes its batch size takes one.
int invariant_batch_size(const Model& model, Method method, int requested);

/// localize() of every explained map of `ex`, with the method's ReLU rule (CAM's paper
/// normalises the raw map without one, its successors apply it), in map order.
std::vector<Localization> localize_maps(const Explanation& ex, const Prepared& input,
                                        float threshold);

/// How an overlay is drawn.
struct OverlayStyle {
  Colormap colormap = Colormap::jet;
  float alpha = 0.5f;     ///< 0..1
  bool draw_box = false;  ///< the box outlined in white
};

/// One map's overlay over `base` (an overlay_base of an image of image_width x image_height:
/// the localisation's region and box, in image pixels, are scaled to the picture).
Rgb8 render_overlay(const Rgb8& base, int image_width, int image_height, const Localization& loc,
                    const OverlayStyle& style);

/// What a record says about its input, besides the explanation.
struct RecordInput {
  std::string input;  ///< the path as given (or a name for an input held in memory)
  int image_width = 0, image_height = 0, image_channels = 0;
  std::optional<int> true_class;
  std::string true_label;
  std::string options_hash;  ///< "" leaves the field out
  /// Width and height of the overlays written, when any are.
  std::optional<std::pair<int, int>> overlay_size;
  /// The method's options that change its maps (smoothing, noise, seed) as a JSON object's
  /// text; "" leaves the field out.
  std::string method_options;
};

/// The files written for one map, relative to the record's folder; "" leaves the field out.
struct MapFiles {
  std::string overlay, raw;
};

/// The record of one explained input as JSON text, indented by 2, with a final newline: what
/// camkit explain writes as <stem>.json. `locs` and `files` (empty, or one per map) in map
/// order. Fields: input, image, model, options_hash, true_class/true_label, method, task,
/// feature_layer, layout, feature_shape, predictions, decision (binary), positives
/// (multi-label), method_options, overlay_size, explanations [{class, label, score, logit,
/// positive, overlay, raw, box}].
std::string explanation_record(const Model& model, const RecordInput& input, const Explanation& ex,
                               const std::vector<Localization>& locs,
                               const std::vector<MapFiles>& files);

}  // namespace camkit
