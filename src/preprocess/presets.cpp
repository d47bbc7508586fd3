// The table of named preprocessing recipes. Each row is the transform a model family was trained
// with, written as the torchvision pipeline it stands for.
#include <array>
#include <tuple>

#include "camkit/error.hpp"
#include "camkit/preprocess.hpp"

namespace camkit {
namespace {

struct Preset {
  const char* name;
  int channels;
  int resize;
  int crop_height, crop_width;
  int size_height, size_width;
  std::array<float, 3> mean;  // used up to mean_count values
  int mean_count;
  std::array<float, 3> std;
  int std_count;
};

constexpr std::array<Preset, 2> kPresets = {{
    // torchvision ImageNet classifiers: Resize(256), CenterCrop(224), ToTensor(),
    // Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]).
    {"imagenet", 3, 256, 224, 224, 0, 0, {0.485f, 0.456f, 0.406f}, 3, {0.229f, 0.224f, 0.225f}, 3},
    // The reference chest X-ray classifier: Grayscale(1), Resize((224, 224)), ToTensor(),
    // Normalize(mean=[0.49], std=[0.248]).
    {"xray", 1, 0, 0, 0, 224, 224, {0.49f, 0.0f, 0.0f}, 1, {0.248f, 0.0f, 0.0f}, 1},
}};

Preprocess to_recipe(const Preset& p) {
  Preprocess r;
  r.channels = p.channels;
  r.resize = p.resize;
  r.crop_height = p.crop_height;
  r.crop_width = p.crop_width;
  r.size_height = p.size_height;
  r.size_width = p.size_width;
  r.mean.assign(p.mean.begin(), p.mean.begin() + p.mean_count);
  r.std.assign(p.std.begin(), p.std.begin() + p.std_count);
  return r;
}

std::pair<int, int> height_width(const std::vector<int>& v, const char* flag) {
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() == 2) return {v[0], v[1]};
  throw Error(ErrorCode::usage, std::string(flag) + " takes N or H,W");
}

}  // namespace

std::optional<Preprocess> find_preset(std::string_view name) {
  for (const Preset& p : kPresets) {
    if (name == p.name) return to_recipe(p);
  }
  return std::nullopt;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  names.reserve(kPresets.size());
  for (const Preset& p : kPresets) names.emplace_back(p.name);
  return names;
}

Preprocess apply_changes(const Preprocess& recipe, const PreprocessChanges& a, bool keep_channels,
                         bool volume_model) {
  Preprocess pre = recipe;
  if (!a.preset.empty()) {
    auto p = find_preset(a.preset);
    if (!p) throw Error(ErrorCode::usage, "--preset " + a.preset + ": unknown preset");
    pre = *p;
    if (keep_channels) pre.channels = recipe.channels;
  }
  if (a.resize) {
    pre.resize = a.resize;
    pre.size_height = pre.size_width = 0;
  }
  if (!a.crop.empty()) {
    std::tie(pre.crop_height, pre.crop_width) = height_width(a.crop, "--crop");
    pre.size_height = pre.size_width = 0;
  }
  if (a.size.size() == 3) {  // a volume's D,H,W (3-D models)
    if (!volume_model)
      throw Error(ErrorCode::usage, "--size D,H,W is for 3-D models; this one takes images");
    pre.size_depth = a.size[0];
    pre.size_height = a.size[1];
    pre.size_width = a.size[2];
    pre.resize = pre.crop_height = pre.crop_width = 0;
  } else if (!a.size.empty()) {
    std::tie(pre.size_height, pre.size_width) = height_width(a.size, "--size");
    pre.resize = pre.crop_height = pre.crop_width = 0;
  }
  if (!a.mean.empty()) pre.mean = a.mean;
  if (!a.std.empty()) pre.std = a.std;
  if (a.channels) pre.channels = a.channels;
  for (const auto* v : {&pre.mean, &pre.std})
    if (v->size() > 1 && static_cast<int>(v->size()) != pre.channels)
      throw Error(ErrorCode::usage,
                  "--mean/--std need 1 or " + std::to_string(pre.channels) + " values");
  return pre;
}

}  // namespace camkit
