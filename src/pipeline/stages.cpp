#include "pipeline/stages.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "camkit/record.hpp"

namespace camkit::pipeline {
namespace {

namespace fs = std::filesystem;

nlohmann::json prediction_json(const Prediction& p, Task task) {
  nlohmann::json j{{"class", p.class_index},
                   {"label", p.label.empty() ? nlohmann::json() : nlohmann::json(p.label)},
                   {"score", p.score},
                   {"logit", p.logit}};
  if (task == Task::binary || task == Task::multilabel) j["positive"] = p.positive;
  return j;
}

// The folder of the record of `in`, relative to out_dir ("" for the top).
fs::path record_dir(const PipelineInput& in) {
  return fs::path(in.relative).parent_path();
}

std::string add_index_fields(nlohmann::json line, const PipelineOptions& o) {
  line["inputs"] = o.total_inputs;
  if (o.shard_count > 1)
    line["shard"] = std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count);
  return dump_json(line) + "\n";
}

}  // namespace

std::string record_relative(const PipelineInput& in) {
  const fs::path rel(in.relative);
  const std::string stem = in.series.empty() ? rel.stem().string() : rel.filename().string();
  return (rel.parent_path() / (stem + ".json")).generic_string();
}

PictureFormat overlay_format(const PipelineInput& in, const PipelineOptions& o) {
  if (o.format != PictureFormat::automatic) return o.format;
  if (!in.series.empty()) return PictureFormat::png;
  std::string ext = fs::path(in.path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" ? PictureFormat::jpg : PictureFormat::png;
}

const char* picture_extension(PictureFormat format) {
  return format == PictureFormat::jpg ? ".jpg" : ".png";
}

std::string encode_picture(const Rgb8& picture, PictureFormat format, const PipelineOptions& o) {
  return format == PictureFormat::jpg ? encode_jpeg(picture, o.jpeg_quality)
                                      : encode_png(picture, o.png_compression);
}

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool load_complete_record(Item& item, const PipelineOptions&, const std::string& hash,
                          const OutputFolder& out) {
  const std::optional<std::string> text = out.read(record_relative(*item.in));
  if (!text) return false;
  nlohmann::json rec = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!rec.is_object() || !rec.contains("options_hash") || rec["options_hash"] != hash ||
      !rec.contains("explanations") || !rec["explanations"].is_array())
    return false;
  const fs::path dir = record_dir(*item.in);
  // The slice mosaics of 3-D inputs: in volume3d and in each explanation, [{"file": ...}].
  auto mosaics_exist = [&](const nlohmann::json& object) {
    if (!object.is_object() || !object.contains("mosaics")) return true;
    if (!object["mosaics"].is_array()) return false;
    for (const auto& m : object["mosaics"])
      if (!m.is_object() || !m.contains("file") || !m["file"].is_string() ||
          !out.exists((dir / m["file"].get<std::string>()).string()))
        return false;
    return true;
  };
  if (rec.contains("volume3d") && !mosaics_exist(rec["volume3d"])) return false;
  for (const auto& e : rec["explanations"]) {
    if (!e.is_object() || !mosaics_exist(e)) return false;
    for (const char* key : {"overlay", "raw", "nifti"})
      if (e.contains(key) &&
          (!e[key].is_string() || !out.exists((dir / e[key].get<std::string>()).string())))
        return false;
  }
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

nlohmann::json prediction_record(const Prediction& p, Task task) {
  return prediction_json(p, task);
}

void describe_explanation(nlohmann::json& rec, Method method, Task task, const std::string& layer,
                          const std::string& layout, const std::vector<int>& feature_shape,
                          const std::vector<Prediction>& predictions,
                          const std::vector<int>& positives, const Model& model) {
  rec["method"] = method_name(method);
  rec["task"] = task_name(task);
  rec["feature_layer"] = layer;
  rec["layout"] = layout;
  rec["feature_shape"] = feature_shape;
  rec["predictions"] = nlohmann::json::array();
  for (const Prediction& p : predictions) rec["predictions"].push_back(prediction_json(p, task));
  if (task == Task::binary) {
    Explanation tmp;
    tmp.binary = true;
    tmp.predictions = predictions;
    rec["decision"] = decision_label(tmp, model);
  }
  if (task == Task::multilabel) rec["positives"] = positives;
}

void decode_item(Item& item, const Model& model, const PipelineOptions& o) {
  if (model.input_spec().rank == 3) return decode_volume_item(item, model, o);
  const PipelineInput& in = *item.in;
  item.classes = classes_for(in, model, o);
  check_input_type(in.path, false);
  Image image = read_input(in.path, o.read);
  item.prepared = prepare(image, o.preprocess, in.path);
  item.image_height = image.height;
  item.image_width = image.width;
  item.image_channels = image.channels;
  if (o.overlay) item.picture = overlay_base(image, o.image_colormap, o.max_overlay_side);
  item.state = State::decoded;
}

bool same_batch(const Item& a, const Item& b) {
  return a.prepared.channels == b.prepared.channels && a.prepared.height == b.prepared.height &&
         a.prepared.width == b.prepared.width && a.prepared.depth == b.prepared.depth &&
         a.classes == b.classes;
}

nlohmann::json record_header(const Item& item, const Model& model, const std::string& hash) {
  const PipelineInput& in = *item.in;
  nlohmann::json rec{{"input", in.path},
                     {"image",
                      {{"width", item.image_width},
                       {"height", item.image_height},
                       {"channels", item.image_channels}}},
                     {"model", model.path()},
                     {"options_hash", hash}};
  if (in.true_class) {
    rec["true_class"] = *in.true_class;
    rec["true_label"] = in.true_label.empty() ? nlohmann::json() : nlohmann::json(in.true_label);
  }
  return rec;
}

void render_item(Item& item, const Model& model, const PipelineOptions& o, const std::string& hash,
                 const OutputFolder& out) {
  if (item.volume) return render_volume_item(item, model, o, hash, out);
  const PipelineInput& in = *item.in;
  const Explanation& ex = item.ex;
  const fs::path dir = record_dir(in);
  const std::string stem = fs::path(in.relative).stem().string();
  const std::vector<Localization> locs = localize_maps(ex, item.prepared, o.box_threshold);
  const bool raw = o.raw || !o.overlay;
  const PictureFormat format = overlay_format(in, o);
  const std::string ext = picture_extension(format);
  const OverlayStyle style{o.colormap, o.alpha, o.draw_box};
  std::vector<MapFiles> files(ex.maps.size());
  for (size_t i = 0; i < ex.maps.size(); ++i) {
    const std::string name = stem + "." + std::to_string(ex.maps[i].prediction.class_index);
    if (o.overlay) {
      const Rgb8 picture =
          render_overlay(item.picture, item.image_width, item.image_height, locs[i], style);
      out.write((dir / (name + ext)).string(), encode_picture(picture, format, o));
      files[i].overlay = name + ext;
    }
    if (raw) {
      out.write((dir / (name + ".npy")).string(), encode_npy(ex.maps[i].raw));
      files[i].raw = name + ".npy";
    }
  }
  RecordInput ri;
  ri.input = in.path;
  ri.image_width = item.image_width;
  ri.image_height = item.image_height;
  ri.image_channels = item.image_channels;
  ri.true_class = in.true_class;
  ri.true_label = in.true_label;
  ri.options_hash = hash;
  if (o.overlay) ri.overlay_size = std::make_pair(item.picture.width, item.picture.height);
  if (const nlohmann::json mo = method_options_json(o.explain); !mo.is_null())
    ri.method_options = mo.dump();
  item.record_text = explanation_record(model, ri, ex, locs, files);
  // The record as it will be read back on resume, so both paths give the same index line.
  item.record = nlohmann::json::parse(item.record_text);
  item.picture = Rgb8();
  item.prepared.chw.clear();
  item.prepared.chw.shrink_to_fit();
  item.ex = Explanation();
}

std::string index_line(const nlohmann::json& record, const PipelineInput& in,
                       const PipelineOptions& o) {
  nlohmann::json line = record;
  line["seq"] = in.seq;
  line["record"] = record_relative(in);
  return add_index_fields(std::move(line), o);
}

std::string error_line(const PipelineInput& in, const std::string& error,
                       const PipelineOptions& o) {
  return add_index_fields({{"seq", in.seq}, {"input", in.path}, {"error", error}}, o);
}

}  // namespace camkit::pipeline

namespace camkit {

void check_input_type(const std::string& path, bool folder_ok) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if (S_ISREG(st.st_mode) || (folder_ok && S_ISDIR(st.st_mode))) return;
  // The same words as the readers' own check (io/file_bytes.cpp), which runs on the open file.
  const char* kind = S_ISDIR(st.st_mode)    ? nullptr
                     : S_ISFIFO(st.st_mode) ? "FIFO"
                     : S_ISSOCK(st.st_mode) ? "socket"
                     : S_ISCHR(st.st_mode)  ? "character device"
                     : S_ISBLK(st.st_mode)  ? "block device"
                                            : "special file";
  if (!kind) return;  // the reader says "is a directory"
  throw Error(ErrorCode::input, path + ": not a regular file (" + kind + ")");
}

}  // namespace camkit
