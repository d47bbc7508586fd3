// Options hash, shards, index merging and clean-up after killed runs.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "camkit/error.hpp"
#include "camkit/output.hpp"
#include "camkit/pipeline.hpp"

namespace camkit {
namespace {

namespace fs = std::filesystem;

// The pid in "<name>.tmp-<pid>-<n>", or 0 when the name is not a temporary of write_file_atomic.
long temporary_pid(const std::string& name) {
  const size_t at = name.rfind(".tmp-");
  if (at == std::string::npos) return 0;
  const std::string tail = name.substr(at + 5);
  const size_t dash = tail.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == tail.size()) return 0;
  if (tail.find_first_not_of("0123456789-") != std::string::npos) return 0;
  return std::stol(tail.substr(0, dash));
}

}  // namespace

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
       {o.overlay, o.raw, o.format == PictureFormat::jpg ? "jpg" : "png", o.png_compression,
        o.jpeg_quality}}};
  // Added only when set, so that the hashes of earlier runs stay valid.
  if (o.volume) j["volume"] = *o.volume == VolumeLayout::stacked ? "stacked" : "batch";
  if (o.read.window) j["window"] = {o.read.window->first, o.read.window->second};
  if (o.overlay && o.max_overlay_side != PipelineOptions().max_overlay_side)
    j["max_overlay_side"] = o.max_overlay_side;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(stable_hash(j.dump())));
  return hex;
}

std::size_t remove_stale_temporaries(const std::string& dir) {
  std::size_t removed = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const long pid = temporary_pid(it->path().filename().string());
    if (pid <= 0) continue;
    // Only temporaries of processes that are gone: a concurrent shard may be writing the others.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

std::size_t merge_indexes(const std::vector<std::string>& dirs, const std::string& out_dir) {
  struct Line {
    std::uint64_t seq;
    std::string input;
    nlohmann::json json;
  };
  std::vector<Line> lines;
  const fs::path out = fs::absolute(out_dir).lexically_normal();
  for (const std::string& dir : dirs) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("index", 0) == 0 && e.path().extension() == ".jsonl")
        files.push_back(e.path());
    }
    if (files.empty())
      throw Error(ErrorCode::usage, dir + ": no index*.jsonl (not a camkit output)");
    std::sort(files.begin(), files.end());
    const fs::path base = fs::absolute(dir).lexically_normal();
    for (const fs::path& file : files) {
      if (base == out && file.filename() == "index.jsonl") continue;  // merging into itself
      std::ifstream in(file);
      std::string text;
      int number = 0;
      while (std::getline(in, text)) {
        ++number;
        if (text.empty()) continue;
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (!j.is_object() || !j.contains("seq") || !j.contains("input"))
          throw Error(ErrorCode::usage,
                      file.string() + ":" + std::to_string(number) + ": not an index line");
        if (j.contains("record"))
          j["record"] =
              (base / j["record"].get<std::string>()).lexically_relative(out).generic_string();
        lines.push_back({j["seq"].get<std::uint64_t>(), j["input"].get<std::string>(), j});
      }
    }
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return a.seq != b.seq ? a.seq < b.seq : a.input < b.input;
  });
  std::ostringstream text;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i && lines[i].seq == lines[i - 1].seq && lines[i].input == lines[i - 1].input)
      throw Error(ErrorCode::usage, lines[i].input + ": appears in more than one index");
    text << lines[i].json.dump() << "\n";
  }
  write_file_atomic((out / "index.jsonl").string(), text.str());
  return lines.size();
}

}  // namespace camkit
