// Exams (volumes) through the model one at a time: a map per slice, written as a case folder
// (docs/volumes.md). Exams are large and few, so cases run in order on the calling thread with
// all threads given to LibTorch; records, resume and the index follow the image pipeline.
#include "pipeline/volume.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "pipeline/failures.hpp"
#include "pipeline/stages.hpp"

namespace camkit::pipeline {
namespace {

namespace fs = std::filesystem;

std::string slice_name(size_t i, size_t count) {
  const size_t digits = std::max<size_t>(3, std::to_string(count - 1).size());
  std::string n = std::to_string(i);
  return std::string(digits - std::min(digits, n.size()), '0') + n + ".png";
}

// The slices as 8-bit pictures under one window for the whole volume, so that a slice looks
// as bright as it is relative to the others: the slices stacked into one tall image go through
// to_rgb8 together (8-bit as stored; float and 16-bit stretched over the whole volume).
std::vector<Rgb8> slice_pictures(const std::vector<Image>& slices, std::optional<Colormap> grey_map,
                                 int max_side) {
  Image tall = slices.front();
  for (size_t i = 1; i < slices.size(); ++i)
    tall.data.insert(tall.data.end(), slices[i].data.begin(), slices[i].data.end());
  tall.height *= static_cast<int>(slices.size());
  const Rgb8 all = to_rgb8(tall, tall.channels == 1 ? grey_map : std::nullopt);
  const size_t bytes = static_cast<size_t>(slices.front().height) * all.width * 3;
  std::vector<Rgb8> out(slices.size());
  for (size_t i = 0; i < slices.size(); ++i) {
    out[i].height = slices.front().height;
    out[i].width = all.width;
    out[i].data.assign(all.data.begin() + i * bytes, all.data.begin() + (i + 1) * bytes);
    out[i] = shrink_to_fit(out[i], max_side);
  }
  return out;
}

// Display maps of one class over the volume: ReLU (when the method's paper applies one),
// bilinear upsampling to the model input, then ONE min-max (normalize_minmax over the slices
// stacked) so that heat compares across slices: a slice without evidence stays dark.
std::vector<Map> volume_display(const std::vector<Map>& raw, int height, int width, bool relu) {
  Map tall;
  tall.width = width;
  for (Map m : raw) {
    if (relu)
      for (float& v : m.data) v = v > 0 ? v : 0.0f;  // NaN becomes 0, as in display_map
    const Map up = upsample_bilinear(m, height, width);
    tall.data.insert(tall.data.end(), up.data.begin(), up.data.end());
    tall.height += height;
  }
  normalize_minmax(tall);
  const size_t n = static_cast<size_t>(height) * width;
  std::vector<Map> out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    out[i].height = height;
    out[i].width = width;
    out[i].data.assign(tall.data.begin() + i * n, tall.data.begin() + (i + 1) * n);
  }
  return out;
}

bool complete_case(const OutputFolder& out, const std::string& record, const fs::path& dir,
                   const std::string& hash, nlohmann::json* result) {
  const std::optional<std::string> text = out.read(record);
  if (!text) return false;
  nlohmann::json rec = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!rec.is_object() || !rec.contains("options_hash") || rec["options_hash"] != hash ||
      !rec.contains("volume") || !rec["volume"].is_object() || !rec.contains("explanations") ||
      !rec["explanations"].is_array())
    return false;
  auto exists = [&](const nlohmann::json& list) {
    if (!list.is_array()) return false;
    for (const auto& p : list)
      if (!p.is_string() || !out.exists((dir / p.get<std::string>()).string())) return false;
    return true;
  };
  if (!exists(rec["volume"].value("slice_images", nlohmann::json::array()))) return false;
  for (const auto& e : rec["explanations"]) {
    if (!e.is_object()) return false;
    if (e.contains("cams") && !exists(e["cams"])) return false;
    if (e.contains("raw") &&
        (!e["raw"].is_string() || !out.exists((dir / e["raw"].get<std::string>()).string())))
      return false;
  }
  *result = std::move(rec);
  return true;
}

// "knee/sagittal/0001.npy" -> case "0001", plane "sagittal": MRNet keeps one folder per plane.
std::pair<std::string, std::string> case_and_plane(const PipelineInput& in) {
  const fs::path rel(in.relative);
  const std::string name = fs::path(record_relative(in)).stem().string();
  std::string parent = rel.parent_path().filename().string();
  std::string lower = parent;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* plane : {"axial", "coronal", "sagittal"})
    if (lower == plane) return {name, lower};
  return {(rel.parent_path() / name).generic_string(), ""};
}

class VolumeRun {
 public:
  VolumeRun(const Model& model, const PipelineOptions& o, const std::string& hash,
            const OutputFolder& out)
      : model_(model), explainer_(model), o_(o), hash_(hash), out_(out) {}

  // The case's record text; pictures are written (atomically) before it.
  std::string explain_case(const PipelineInput& in) {
    check_input_type(in.path, true);
    std::vector<Image> slices = in.series.empty() ? read_volume(in.path, o_.read)
                                                  : read_series(in.path, in.series, o_.read);
    if (slices.empty()) throw Error(ErrorCode::input, in.path + ": no slices");
    std::vector<Prepared> prepared;
    for (size_t i = 0; i < slices.size(); ++i)
      prepared.push_back(
          prepare(slices[i], o_.preprocess, in.path + " slice " + std::to_string(i)));
    ExplainOptions eo = o_.explain;
    eo.classes = classes_for(in, model_, o_);
    VolumeExplanation ex;
    try {
      ex = explainer_.explain_volume(prepared, *o_.volume, eo);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::input) throw;
      throw Error(ErrorCode::input, in.path + ": " + e.what());
    }
    return render(in, slices, prepared, ex);
  }

 private:
  std::string render(const PipelineInput& in, const std::vector<Image>& slices,
                     const std::vector<Prepared>& prepared, const VolumeExplanation& ex) {
    const fs::path dir = fs::path(record_relative(in)).parent_path();
    const std::string stem = fs::path(record_relative(in)).stem().string();
    const size_t s = slices.size();
    const Image& first = slices.front();
    auto [case_id, plane] = case_and_plane(in);
    nlohmann::json vol{{"slices", s},
                       {"mode", *o_.volume == VolumeLayout::stacked ? "stacked" : "batch"},
                       {"case", case_id},
                       {"plane", plane.empty() ? nlohmann::json() : nlohmann::json(plane)}};
    nlohmann::json rec{
        {"input", in.path},
        {"image", {{"width", first.width}, {"height", first.height}, {"channels", first.channels}}},
        {"model", model_.path()},
        {"options_hash", hash_}};
    if (in.true_class) {
      rec["true_class"] = *in.true_class;
      rec["true_label"] = in.true_label.empty() ? nlohmann::json() : nlohmann::json(in.true_label);
    }
    describe_explanation(rec, ex.method, ex.task, ex.layer, ex.layout, ex.feature_shape,
                         ex.predictions, ex.positives, model_);
    if (const nlohmann::json mo = method_options_json(o_.explain); !mo.is_null())
      rec["method_options"] = mo;
    if (!ex.slice_scores.empty()) vol["slice_scores"] = ex.slice_scores;

    const std::string case_dir = stem + "/";
    // Slice pictures and heat maps are drawn at the bounded size; regions are in input pixels.
    int picture_width = first.width, picture_height = first.height;
    if (o_.overlay) {
      const std::vector<Rgb8> pictures =
          slice_pictures(slices, o_.image_colormap, o_.max_overlay_side);
      picture_width = pictures.front().width;
      picture_height = pictures.front().height;
      rec["overlay_size"] = {{"width", picture_width}, {"height", picture_height}};
      nlohmann::json names = nlohmann::json::array();
      for (size_t i = 0; i < s; ++i) {
        const std::string name = case_dir + "slices/" + slice_name(i, s);
        out_.write((dir / name).string(), encode_png(pictures[i], o_.png_compression));
        names.push_back(name);
      }
      vol["slice_images"] = names;
    }
    rec["volume"] = vol;
    rec["explanations"] = nlohmann::json::array();
    const bool relu = method_uses_relu(ex.method);
    for (size_t j = 0; j < ex.maps.size(); ++j) {
      const VolumeClassMaps& cm = ex.maps[j];
      nlohmann::json e = prediction_record(cm.prediction, ex.task);
      const Prepared& p0 = prepared.front();
      const std::vector<Map> display = volume_display(cm.slices, p0.height, p0.width, relu);
      // The first class's heat maps in cams/ (the layout MRNet's tools browse), others in
      // cams.<class>/.
      const std::string folder =
          case_dir + (j == 0 ? std::string("cams/")
                             : "cams." + std::to_string(cm.prediction.class_index) + "/");
      nlohmann::json cams = nlohmann::json::array(), peaks = nlohmann::json::array();
      float best = -std::numeric_limits<float>::infinity();
      size_t best_slice = 0;
      for (size_t i = 0; i < s; ++i) {
        const auto& d = cm.slices[i].data;
        const float peak = d.empty() ? 0.0f : *std::max_element(d.begin(), d.end());
        peaks.push_back(peak);
        if (peak > best) best = peak, best_slice = i;
        if (!o_.overlay) continue;
        const InputGeometry& g = prepared[i].geometry;
        const double sx = static_cast<double>(picture_width) / slices[i].width;
        const double sy = static_cast<double>(picture_height) / slices[i].height;
        const Region region{g.to_image_x(0) * sx, g.to_image_y(0) * sy, g.to_image_x(p0.width) * sx,
                            g.to_image_y(p0.height) * sy};
        Rgb8 black;
        black.height = picture_height;
        black.width = picture_width;
        black.data.assign(static_cast<size_t>(black.height) * black.width * 3, 0);
        const std::string name = folder + slice_name(i, s);
        out_.write(
            (dir / name).string(),
            encode_png(overlay(black, display[i], region, o_.colormap, 1.0f), o_.png_compression));
        cams.push_back(name);
      }
      if (o_.overlay) e["cams"] = cams;
      if (o_.raw || !o_.overlay) {
        const std::string name =
            case_dir + "raw." + std::to_string(cm.prediction.class_index) + ".npy";
        out_.write((dir / name).string(), encode_npy(cm.slices));
        e["raw"] = name;
      }
      e["slice_peaks"] = peaks;
      e["peak_slice"] = best_slice;
      rec["explanations"].push_back(e);
    }
    return dump_json(rec, 2) + "\n";
  }

  const Model& model_;
  const Explainer explainer_;
  const PipelineOptions& o_;
  const std::string hash_;
  const OutputFolder& out_;
};

}  // namespace

PipelineSummary run_volumes(const Model& model, const std::vector<PipelineInput>& inputs,
                            const PipelineOptions& o, const OutputFolder& out,
                            const IndexWriter& index) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string hash = options_hash(model, o);
  VolumeRun run(model, o, hash, out);
  PipelineSummary summary;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const PipelineInput& in = inputs[i];
    const std::string rel = record_relative(in);
    const fs::path dir = fs::path(rel).parent_path();
    nlohmann::json rec;
    if (!o.overwrite && complete_case(out, rel, dir, hash, &rec)) {
      ++summary.skipped;
    } else {
      try {
        const std::string text = run.explain_case(in);
        out.write(rel, text);
        rec = nlohmann::json::parse(text);
        ++summary.done;
      } catch (...) {
        const std::exception_ptr e = std::current_exception();
        const std::optional<std::string> message = input_failure(in.path, e);
        if (!message) std::rethrow_exception(e);
        ++summary.failed;
        if (o.on_error) o.on_error(*message);
        index(error_line(in, *message, o));
        if (o.on_progress) o.on_progress(i + 1, inputs.size());
        continue;
      }
    }
    index(index_line(rec, in, o));
    if (o.on_record) {
      rec["record"] = out.path(rel);
      o.on_record(dump_json(rec));
    }
    if (o.on_progress) o.on_progress(i + 1, inputs.size());
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace camkit::pipeline
