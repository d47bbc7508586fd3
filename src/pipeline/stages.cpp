#include "pipeline/stages.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "camkit/error.hpp"
#include "camkit/output.hpp"

namespace camkit::pipeline {
namespace {

namespace fs = std::filesystem;

nlohmann::json prediction_json(const Prediction& p) {
  return {{"class", p.class_index},
          {"label", p.label.empty() ? nlohmann::json() : nlohmann::json(p.label)},
          {"score", p.score},
          {"logit", p.logit}};
}

fs::path record_dir(const PipelineInput& in, const PipelineOptions& o) {
  return fs::path(o.out_dir) / fs::path(in.relative).parent_path();
}

}  // namespace

std::string record_relative(const PipelineInput& in) {
  const fs::path rel(in.relative);
  return (rel.parent_path() / (rel.stem().string() + ".json")).generic_string();
}

bool load_complete_record(Item& item, const PipelineOptions& o, const std::string& hash) {
  const fs::path file = fs::path(o.out_dir) / record_relative(*item.in);
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  nlohmann::json rec = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!rec.is_object() || rec.value("options_hash", std::string()) != hash ||
      !rec.contains("explanations") || !rec["explanations"].is_array())
    return false;
  const fs::path dir = record_dir(*item.in, o);
  for (const auto& e : rec["explanations"])
    for (const char* key : {"overlay", "raw"})
      if (e.contains(key) && (!e[key].is_string() || !fs::exists(dir / e[key].get<std::string>())))
        return false;
  item.record = std::move(rec);
  item.state = State::skipped;
  return true;
}

std::vector<int> classes_for(const PipelineInput& in, const Model& model,
                             const PipelineOptions& o) {
  if (!o.class_true) return o.explain.classes;
  if (!in.true_class)
    throw Error(ErrorCode::input,
                in.path + ": no true class (--class true needs a class folder or label)");
  const int k = model.num_classes();
  if (k == 1) return {0};  // a single-logit model explains its one logit for either class
  if (*in.true_class < 0 || *in.true_class >= k)
    throw Error(ErrorCode::input, in.path + ": true class " + std::to_string(*in.true_class) +
                                      " is out of range (the model has " + std::to_string(k) +
                                      " classes)");
  return {*in.true_class};
}

nlohmann::json prediction_record(const Prediction& p) {
  return prediction_json(p);
}

void decode_item(Item& item, const Model& model, const PipelineOptions& o) {
  const PipelineInput& in = *item.in;
  item.classes = classes_for(in, model, o);
  Image image = read_input(in.path, o.read);
  item.prepared = prepare(image, o.preprocess, in.path);
  item.image_height = image.height;
  item.image_width = image.width;
  item.image_channels = image.channels;
  if (o.overlay) {
    item.picture = shrink_to_fit(
        to_rgb8(image, image.channels == 1 ? o.image_colormap : std::nullopt), o.max_overlay_side);
  }
  item.state = State::decoded;
}

bool same_batch(const Item& a, const Item& b) {
  return a.prepared.channels == b.prepared.channels && a.prepared.height == b.prepared.height &&
         a.prepared.width == b.prepared.width && a.classes == b.classes;
}

void render_item(Item& item, const Model& model, const PipelineOptions& o,
                 const std::string& hash) {
  const PipelineInput& in = *item.in;
  const Explanation& ex = item.ex;
  const fs::path dir = record_dir(in, o);
  const std::string stem = fs::path(in.relative).stem().string();
  const HeadInfo& head = model.head();
  nlohmann::json rec{
      {"input", in.path},
      {"image",
       {{"width", item.image_width},
        {"height", item.image_height},
        {"channels", item.image_channels}}},
      {"model", model.path()},
      {"method", method_name(ex.method)},
      {"feature_layer", model.layer().layer},
      {"options_hash", hash},
      {"feature_shape",
       {ex.method == Method::cam ? head.feature_channels : model.layer().channels,
        ex.maps.empty() ? 0 : ex.maps[0].raw.height, ex.maps.empty() ? 0 : ex.maps[0].raw.width}}};
  if (in.true_class) {
    rec["true_class"] = *in.true_class;
    rec["true_label"] = in.true_label.empty() ? nlohmann::json() : nlohmann::json(in.true_label);
  }
  if (ex.binary) rec["decision"] = decision_label(ex, model);
  rec["predictions"] = nlohmann::json::array();
  for (const Prediction& p : ex.predictions) rec["predictions"].push_back(prediction_json(p));
  const Rgb8& base = item.picture;
  // Overlays may be drawn smaller than the input (max_overlay_side); regions and boxes are in
  // input pixels, so they are scaled to the picture, and the record says its size.
  const double sx = o.overlay ? static_cast<double>(base.width) / item.image_width : 1.0;
  const double sy = o.overlay ? static_cast<double>(base.height) / item.image_height : 1.0;
  if (o.overlay) rec["overlay_size"] = {{"width", base.width}, {"height", base.height}};
  const bool raw = o.raw || !o.overlay;
  const std::string ext = o.format == PictureFormat::jpg ? ".jpg" : ".png";
  rec["explanations"] = nlohmann::json::array();
  for (const ClassMap& cm : ex.maps) {
    nlohmann::json e = prediction_json(cm.prediction);
    const std::string name = stem + "." + std::to_string(cm.prediction.class_index);
    // CAM's paper normalises the raw map without a ReLU; its successors apply one.
    const Localization loc =
        localize(cm.raw, item.prepared, o.box_threshold, method_uses_relu(ex.method));
    if (o.overlay) {
      const Region region{loc.region.x0 * sx, loc.region.y0 * sy, loc.region.x1 * sx,
                          loc.region.y1 * sy};
      Rgb8 picture = overlay(base, loc.display, region, o.colormap, o.alpha);
      if (o.draw_box && loc.box) {
        const std::uint8_t white[3] = {255, 255, 255};
        const Box box{loc.box->x0 * sx, loc.box->y0 * sy, loc.box->x1 * sx, loc.box->y1 * sy};
        draw_box(picture, box, white, std::max(1, std::min(base.width, base.height) / 150));
      }
      write_file_atomic((dir / (name + ext)).string(),
                        o.format == PictureFormat::jpg ? encode_jpeg(picture, o.jpeg_quality)
                                                       : encode_png(picture, o.png_compression));
      e["overlay"] = name + ext;
    }
    if (raw) {
      write_file_atomic((dir / (name + ".npy")).string(), encode_npy(cm.raw));
      e["raw"] = name + ".npy";
    }
    e["box"] = loc.box ? nlohmann::json{loc.box->x0, loc.box->y0, loc.box->x1, loc.box->y1}
                       : nlohmann::json();
    rec["explanations"].push_back(e);
  }
  item.record_text = rec.dump(2) + "\n";
  // The record as it will be read back on resume, so both paths give the same index line.
  item.record = nlohmann::json::parse(item.record_text);
  item.picture = Rgb8();
  item.prepared.chw.clear();
  item.prepared.chw.shrink_to_fit();
  item.ex = Explanation();
}

std::string index_line(const Item& item) {
  nlohmann::json line = item.record;
  line["seq"] = item.in->seq;
  line["record"] = record_relative(*item.in);
  return line.dump() + "\n";
}

std::string error_line(const Item& item) {
  return nlohmann::json{{"seq", item.in->seq}, {"input", item.in->path}, {"error", item.error}}
             .dump() +
         "\n";
}

}  // namespace camkit::pipeline
