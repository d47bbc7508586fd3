// Options hash, shards, index names and thread limits.
#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "camkit/error.hpp"
#include "camkit/pipeline.hpp"
#include "pipeline/stages.hpp"

namespace camkit {

namespace fs = std::filesystem;

std::uint64_t stable_hash(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool in_shard(const std::string& relative, int index, int count) {
  return count <= 1 ||
         static_cast<int>(stable_hash(relative) % static_cast<unsigned>(count)) == index;
}

std::pair<int, int> parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      size_t a = 0, b = 0;
      const int i = std::stoi(text.substr(0, slash), &a);
      const int n = std::stoi(text.substr(slash + 1), &b);
      if (a == slash && b == text.size() - slash - 1 && n >= 1 && i >= 0 && i < n) return {i, n};
    }
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::usage, "--shard " + text + ": use i/N with 0 <= i < N");
}

std::string options_hash(const Model& model, const PipelineOptions& o) {
  std::error_code ec;
  const auto size = fs::file_size(model.path(), ec);
  const auto mtime = fs::last_write_time(model.path(), ec).time_since_epoch().count();
  const Preprocess& p = o.preprocess;
  const ExplainOptions& e = o.explain;
  nlohmann::json j{
      {"version", 1},
      {"model", {model.path(), ec ? 0 : size, ec ? 0 : mtime, model.layer().layer}},
      {"extra", o.fingerprint_extra},
      {"preprocess",
       {p.channels, p.resize, p.crop_height, p.crop_width, p.size_height, p.size_width, p.mean,
        p.std}},
      {"explain", {method_name(e.method), e.top_k, e.classes, e.all_classes, o.class_true}},
      {"render",
       {colormap_name(o.colormap), o.image_colormap ? colormap_name(*o.image_colormap) : "",
        o.alpha, o.box_threshold, o.draw_box}},
      {"output",
       {o.overlay, o.raw,
        o.format == PictureFormat::jpg   ? "jpg"
        : o.format == PictureFormat::png ? "png"
                                         : "auto",
        o.png_compression, o.jpeg_quality}}};
  // Added only when set, so that the hashes of earlier runs stay valid.
  if (o.volume) j["volume"] = *o.volume == VolumeLayout::stacked ? "stacked" : "batch";
  if (o.read.window) j["window"] = {o.read.window->first, o.read.window->second};
  if (o.overlay && o.max_overlay_side != PipelineOptions().max_overlay_side)
    j["max_overlay_side"] = o.max_overlay_side;
  if (model.task() == Task::multilabel || model.task() == Task::regression)
    j["task"] = task_name(model.task());
  if (!model.output().chosen.empty()) j["output"] = model.output().chosen;
  if (e.explain_positives || e.positive_threshold != ExplainOptions().positive_threshold)
    j["positive"] = {e.explain_positives, e.positive_threshold};
  if (const nlohmann::json mo = pipeline::method_options_json(e); !mo.is_null())
    j["method_options"] = mo;
  if (!o.fuse_layers.empty()) {
    nlohmann::json layers = nlohmann::json::array({model.layer().layer});
    for (const Model& m : o.fuse_layers) layers.push_back(m.layer().layer);
    j["fuse"] = {fuse_rule_name(o.fuse), layers};
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(stable_hash(j.dump())));
  return hex;
}

std::string fused_folder(FuseRule rule, const std::vector<std::string>& layers) {
  std::string out = "fused-" + fuse_rule_name(rule) + "-";
  for (size_t i = 0; i < layers.size(); ++i) {
    if (i) out += '+';
    for (char c : layers[i]) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      out += plain ? c : '_';
    }
  }
  return out;
}

std::string method_folder(Method method) {
  return "method-" + method_name(method);
}

std::string index_file_name(int shard_index, int shard_count) {
  if (shard_count <= 1) return "index.jsonl";
  return "index-" + std::to_string(shard_index) + "-of-" + std::to_string(shard_count) + ".jsonl";
}

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

int thread_limit() {
  return std::min(256, 4 * available_cpus());
}

}  // namespace camkit
