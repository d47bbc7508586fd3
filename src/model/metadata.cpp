#include "model/metadata.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "camkit/error.hpp"

namespace camkit {

std::string task_name(Task task) {
  switch (task) {
    case Task::binary:
      return "binary";
    case Task::multilabel:
      return "multilabel";
    case Task::regression:
      return "regression";
    default:
      return "multiclass";
  }
}

std::optional<Task> parse_task(const std::string& name) {
  for (Task t : {Task::multiclass, Task::binary, Task::multilabel, Task::regression})
    if (name == task_name(t)) return t;
  return std::nullopt;
}

}  // namespace camkit

namespace camkit::detail {

namespace {

// A metadata field that is not what docs/export.md says: thrown as "FIELD: reason".
struct Bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Larger inputs are not image classifiers camkit can run in memory; a lying field would make
// every run fail or take all memory.
constexpr int kMaxSide = 16384;
constexpr long long kMaxPixels = 1LL << 26;
constexpr int kMaxDepth = 4096;  // slices or frames of a 3-D input

int positive_int(const nlohmann::json& j, const std::string& field, int max = kMaxSide) {
  if (!j.is_number_integer()) throw Bad(field + ": expected a positive integer");
  const long long v = j.get<long long>();
  if (v < 1 || v > max)
    throw Bad(field + ": " + std::to_string(v) + " is out of range 1.." + std::to_string(max));
  return static_cast<int>(v);
}

std::vector<float> finite_floats(const nlohmann::json& j, const std::string& field) {
  std::vector<float> out;
  if (j.is_number()) {
    out.push_back(j.get<float>());
  } else if (j.is_array()) {
    for (const auto& v : j) {
      if (!v.is_number()) throw Bad(field + ": expected numbers");
      out.push_back(v.get<float>());
    }
  } else {
    throw Bad(field + ": expected a number or a list of numbers");
  }
  for (float v : out)
    if (!std::isfinite(v)) throw Bad(field + ": values must be finite");
  if (out.empty()) throw Bad(field + ": no values");
  return out;
}

std::pair<int, int> pair_of(const nlohmann::json& j, const std::string& field) {
  if (j.is_number_integer()) {
    const int v = positive_int(j, field);
    return {v, v};
  }
  if (!j.is_array() || j.empty() || j.size() > 2) throw Bad(field + ": expected [H, W]");
  const int h = positive_int(j[0], field), w = positive_int(j[j.size() - 1], field);
  return {h, w};
}

std::string string_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string()) throw Bad(std::string(key) + ": expected a string");
  return j[key].get<std::string>();
}

}  // namespace

ModelMetadata parse_metadata(const std::string& text, const std::string& path) {
  ModelMetadata meta;
  meta.json = text;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) throw Bad("the text is not a JSON object");
    meta.present = true;
    if (!j.contains("camkit_meta_version")) throw Bad("camkit_meta_version: missing");
    if (!j["camkit_meta_version"].is_number_integer() ||
        j["camkit_meta_version"].get<long long>() != kMetadataVersion)
      throw Bad("camkit_meta_version: " + j["camkit_meta_version"].dump() +
                " is not a version this camkit reads (" + std::to_string(kMetadataVersion) + ")");
    meta.architecture = string_field(j, "architecture");
    meta.volume = string_field(j, "volume");
    if (!meta.volume.empty() && meta.volume != "stacked" && meta.volume != "batch")
      throw Bad("volume: must be \"stacked\" or \"batch\"");
    meta.task = string_field(j, "task");
    if (!meta.task.empty() && !parse_task(meta.task))
      throw Bad("task: \"" + meta.task + "\" (use multiclass, binary, multilabel or regression)");
    if (j.contains("output") && !j["output"].is_null())
      meta.output = j["output"].is_number_integer() ? std::to_string(j["output"].get<long long>())
                                                    : string_field(j, "output");
    if (j.contains("num_classes"))
      meta.num_classes = positive_int(j["num_classes"], "num_classes", 1 << 24);
    if (j.contains("labels") && !j["labels"].is_null()) {
      if (!j["labels"].is_array()) throw Bad("labels: expected a list of strings");
      for (const auto& l : j["labels"]) {
        if (!l.is_string()) throw Bad("labels: expected a list of strings");
        meta.labels.push_back(l.get<std::string>());
      }
    }
    Preprocess pre;
    bool any = false;
    if (j.contains("input")) {
      const auto& in = j["input"];
      if (!in.is_object()) throw Bad("input: expected an object");
      pre.channels =
          in.contains("channels") ? positive_int(in["channels"], "input.channels", 64) : 3;
      const int h = in.contains("height") ? positive_int(in["height"], "input.height") : 0;
      const int w = in.contains("width") ? positive_int(in["width"], "input.width") : 0;
      const int d = in.contains("depth") ? positive_int(in["depth"], "input.depth", kMaxDepth) : 0;
      if (static_cast<long long>(h) * w * std::max(d, 1) > kMaxPixels)
        throw Bad("input: " + std::to_string(h) + "x" + std::to_string(w) +
                  (d ? "x" + std::to_string(d) : "") + " exceeds " + std::to_string(kMaxPixels) +
                  (d ? " voxels" : " pixels"));
      meta.input = {pre.channels, h, w, d, d ? 3 : 2};
      any = true;
    }
    if (j.contains("preprocess")) {
      const auto& p = j["preprocess"];
      if (!p.is_object()) throw Bad("preprocess: expected an object");
      if (p.contains("resize")) pre.resize = positive_int(p["resize"], "preprocess.resize");
      if (p.contains("crop"))
        std::tie(pre.crop_height, pre.crop_width) = pair_of(p["crop"], "preprocess.crop");
      if (p.contains("size") && p["size"].is_array() && p["size"].size() == 3) {
        // A volume's (D, H, W): trilinear resampling.
        pre.size_depth = positive_int(p["size"][0], "preprocess.size", kMaxDepth);
        pre.size_height = positive_int(p["size"][1], "preprocess.size");
        pre.size_width = positive_int(p["size"][2], "preprocess.size");
      } else if (p.contains("size")) {
        std::tie(pre.size_height, pre.size_width) = pair_of(p["size"], "preprocess.size");
      }
      if (p.contains("frames"))
        pre.frames = positive_int(p["frames"], "preprocess.frames", kMaxDepth);
      // Video presets resize every frame, then crop it (torchvision's VideoClassification).
      if (p.contains("size") && !pre.frames && (p.contains("resize") || p.contains("crop")))
        throw Bad(
            "preprocess: \"size\" excludes \"resize\" and \"crop\" (except for video: "
            "\"frames\")");
      if (pre.size_depth && pre.frames)
        throw Bad("preprocess: a volume \"size\" [D, H, W] excludes \"frames\"");
      if (p.contains("window") && !p["window"].is_null()) {
        const std::vector<float> w = finite_floats(p["window"], "preprocess.window");
        if (w.size() != 2 || !(w[1] > 0))
          throw Bad("preprocess.window: expected [centre, width] with width > 0");
        pre.window = std::make_pair(static_cast<double>(w[0]), static_cast<double>(w[1]));
      }
      if (p.contains("zscore")) {
        if (!p["zscore"].is_boolean()) throw Bad("preprocess.zscore: expected true or false");
        pre.zscore = p["zscore"].get<bool>();
      }
      if (pre.window && pre.zscore) throw Bad("preprocess: \"window\" excludes \"zscore\"");
      any = true;
    }
    if (j.contains("mean") && !j["mean"].is_null())
      pre.mean = finite_floats(j["mean"], "mean"), any = true;
    if (j.contains("std") && !j["std"].is_null())
      pre.std = finite_floats(j["std"], "std"), any = true;
    if (pre.mean.empty() != pre.std.empty()) throw Bad("mean, std: give both or neither");
    for (float s : pre.std)
      if (!(std::fabs(s) > 1e-12f)) throw Bad("std: values must be non-zero");
    const size_t c = static_cast<size_t>(pre.channels);
    for (const auto& [name, v] :
         {std::pair<const char*, const std::vector<float>*>{"mean", &pre.mean}, {"std", &pre.std}})
      if (!v->empty() && v->size() != 1 && v->size() != c)
        throw Bad(std::string(name) + ": " + std::to_string(v->size()) + " values for " +
                  std::to_string(c) + " input channel(s)");
    if (any) meta.preprocess = pre;
  } catch (const Bad& e) {
    throw Error(ErrorCode::model, path + ": invalid camkit metadata (camkit.json): " + e.what());
  } catch (const std::exception& e) {
    throw Error(ErrorCode::model,
                path + ": invalid camkit metadata (camkit.json): " + std::string(e.what()));
  }
  return meta;
}

namespace {

[[noreturn]] void does_not_fit(const std::string& path, const std::string& why) {
  throw Error(ErrorCode::model,
              path + ": camkit metadata (camkit.json) does not fit the model: " + why);
}

}  // namespace

void check_metadata_input(const ModelMetadata& meta, int input_channels, const std::string& path) {
  if (meta.present && input_channels > 0 && meta.input.channels > 0 &&
      meta.input.channels != input_channels)
    does_not_fit(path, "input.channels is " + std::to_string(meta.input.channels) +
                           " but the model's first convolution takes " +
                           std::to_string(input_channels));
}

void check_metadata(const ModelMetadata& meta, int input_channels, int num_classes, Task task,
                    const std::string& path) {
  if (!meta.present) return;
  auto bad = [&](const std::string& why) { does_not_fit(path, why); };
  check_metadata_input(meta, input_channels, path);
  if (meta.num_classes > 0 && meta.num_classes != num_classes)
    bad("num_classes is " + std::to_string(meta.num_classes) + " but the model returns " +
        std::to_string(num_classes) + " logits");
  const size_t n = meta.labels.size();
  if (n > 0) {
    const bool ok =
        task == Task::binary ? (n == 1 || n == 2) : n == static_cast<size_t>(num_classes);
    if (!ok)
      bad("labels has " + std::to_string(n) + " names for " + std::to_string(num_classes) +
          (task == Task::binary ? " logit (give 1, the positive class, or 2: [negative, positive])"
                                : " classes"));
  }
  if (!meta.task.empty()) {
    const Task declared = *parse_task(meta.task);
    if (declared == Task::binary && num_classes != 1)
      bad("task is binary but the model returns " + std::to_string(num_classes) + " logits");
    if (declared == Task::multiclass && num_classes < 2)
      bad("task is multiclass but the model returns one logit (use binary)");
  }
}

}  // namespace camkit::detail
