// One explained input as camkit explain presents it (camkit/record.hpp): the pipeline's render
// stage and the Python module both go through here.
#include "camkit/record.hpp"

#include <algorithm>

#include "pipeline/stages.hpp"

namespace camkit {

Rgb8 overlay_base(const Image& image, std::optional<Colormap> image_colormap, int max_side) {
  Rgb8 rgb = to_rgb8(image, image.channels == 1 ? image_colormap : std::nullopt);
  // shrink_to_fit returns a copy of a picture that already fits; this one is ours to keep.
  if (std::max(rgb.width, rgb.height) <= max_side && max_side >= 1) return rgb;
  return shrink_to_fit(rgb, max_side);
}

int invariant_batch_size(const Model& model, Method method, int requested) {
  const bool batches =
      model.options().optimize && !method_uses_gradients(method) && model.max_batch() != 1;
  return batches ? std::max(1, requested) : 1;
}

std::vector<Localization> localize_maps(const Explanation& ex, const Prepared& input,
                                        float threshold) {
  std::vector<Localization> out;
  out.reserve(ex.maps.size());
  for (const ClassMap& cm : ex.maps)
    out.push_back(localize(cm.raw, input, threshold, method_uses_relu(ex.method)));
  return out;
}

Rgb8 render_overlay(const Rgb8& base, int image_width, int image_height, const Localization& loc,
                    const OverlayStyle& style) {
  // Overlays may be drawn smaller than the input (max_overlay_side); regions and boxes are in
  // input pixels, so they are scaled to the picture.
  const double sx = static_cast<double>(base.width) / image_width;
  const double sy = static_cast<double>(base.height) / image_height;
  const Region region{loc.region.x0 * sx, loc.region.y0 * sy, loc.region.x1 * sx,
                      loc.region.y1 * sy};
  Rgb8 picture = overlay(base, loc.display, region, style.colormap, style.alpha);
  if (style.draw_box && loc.box) {
    const std::uint8_t white[3] = {255, 255, 255};
    const Box box{loc.box->x0 * sx, loc.box->y0 * sy, loc.box->x1 * sx, loc.box->y1 * sy};
    draw_box(picture, box, white, std::max(1, std::min(base.width, base.height) / 150));
  }
  return picture;
}

std::string explanation_record(const Model& model, const RecordInput& in, const Explanation& ex,
                               const std::vector<Localization>& locs,
                               const std::vector<MapFiles>& files) {
  nlohmann::json rec{
      {"input", in.input},
      {"image",
       {{"width", in.image_width}, {"height", in.image_height}, {"channels", in.image_channels}}},
      {"model", model.path()}};
  if (!in.options_hash.empty()) rec["options_hash"] = in.options_hash;
  if (in.true_class) {
    rec["true_class"] = *in.true_class;
    rec["true_label"] = in.true_label.empty() ? nlohmann::json() : nlohmann::json(in.true_label);
  }
  pipeline::describe_explanation(rec, ex.method, ex.task, ex.layer, ex.layout, ex.feature_shape,
                                 ex.predictions, ex.positives, model);
  if (ex.fuse) {
    rec["fuse"] = fuse_rule_name(*ex.fuse);
    rec["layers"] = nlohmann::json::array();
    for (const FusedLayer& l : ex.fused_layers)
      rec["layers"].push_back(
          {{"layer", l.layer}, {"layout", l.layout}, {"feature_shape", l.feature_shape}});
  }
  if (!in.method_options.empty()) rec["method_options"] = nlohmann::json::parse(in.method_options);
  if (in.overlay_size)
    rec["overlay_size"] = {{"width", in.overlay_size->first}, {"height", in.overlay_size->second}};
  rec["explanations"] = nlohmann::json::array();
  for (size_t i = 0; i < ex.maps.size(); ++i) {
    nlohmann::json e = pipeline::prediction_record(ex.maps[i].prediction, ex.task);
    if (i < files.size() && !files[i].overlay.empty()) e["overlay"] = files[i].overlay;
    if (i < files.size() && !files[i].raw.empty()) e["raw"] = files[i].raw;
    const std::optional<Box>& box = i < locs.size() ? locs[i].box : std::nullopt;
    e["box"] = box ? nlohmann::json{box->x0, box->y0, box->x1, box->y1} : nlohmann::json();
    rec["explanations"].push_back(e);
  }
  return pipeline::dump_json(rec, 2) + "\n";
}

}  // namespace camkit
