#include "model/metadata.hpp"

#include <nlohmann/json.hpp>

#include "camkit/error.hpp"

namespace camkit::detail {

namespace {

std::vector<float> floats(const nlohmann::json& j) {
  if (j.is_number()) return {j.get<float>()};
  return j.get<std::vector<float>>();
}

std::pair<int, int> pair_of(const nlohmann::json& j) {
  if (j.is_number_integer()) return {j.get<int>(), j.get<int>()};
  auto v = j.get<std::vector<int>>();
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() != 2) throw std::invalid_argument("expected [H, W]");
  return {v[0], v[1]};
}

}  // namespace

ModelMetadata parse_metadata(const std::string& text, const std::string& path) {
  ModelMetadata meta;
  meta.json = text;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    meta.present = true;
    meta.architecture = j.value("architecture", "");
    meta.volume = j.value("volume", "");
    if (!meta.volume.empty() && meta.volume != "stacked" && meta.volume != "batch")
      throw std::invalid_argument("volume must be \"stacked\" or \"batch\"");
    if (j.contains("labels") && !j["labels"].is_null())
      meta.labels = j["labels"].get<std::vector<std::string>>();
    Preprocess pre;
    bool any = false;
    if (j.contains("input")) {
      const auto& in = j["input"];
      pre.channels = in.value("channels", 3);
      meta.input = {pre.channels, in.value("height", 0), in.value("width", 0)};
      any = true;
    }
    if (j.contains("preprocess")) {
      const auto& p = j["preprocess"];
      if (p.contains("resize")) pre.resize = p["resize"].get<int>();
      if (p.contains("crop")) std::tie(pre.crop_height, pre.crop_width) = pair_of(p["crop"]);
      if (p.contains("size")) std::tie(pre.size_height, pre.size_width) = pair_of(p["size"]);
      any = true;
    }
    if (j.contains("mean") && !j["mean"].is_null()) pre.mean = floats(j["mean"]), any = true;
    if (j.contains("std") && !j["std"].is_null()) pre.std = floats(j["std"]), any = true;
    if (any) meta.preprocess = pre;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::model, path + ": invalid camkit metadata (" + e.what() + ")");
  }
  return meta;
}

}  // namespace camkit::detail
