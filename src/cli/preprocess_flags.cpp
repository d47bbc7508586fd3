#include "cli/preprocess_flags.hpp"

#include <tuple>

#include "camkit/error.hpp"

namespace camkit::cli {
namespace {

std::pair<int, int> height_width(const std::vector<int>& v, const char* flag) {
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() == 2) return {v[0], v[1]};
  throw Error(ErrorCode::usage, std::string(flag) + " takes N or H,W");
}

}  // namespace

void add_preprocess_flags(CLI::App* cmd, PreprocessFlags& f) {
  cmd->add_option("--preset", f.preset, "Preprocessing preset (imagenet, xray)");
  cmd->add_option("--resize", f.resize, "Resize the shorter side to N (torchvision Resize(N))");
  cmd->add_option("--crop", f.crop, "Centre crop N or H,W after --resize")->delimiter(',');
  cmd->add_option("--size", f.size, "Resize directly to H,W (3-D models: D,H,W, trilinear)")
      ->delimiter(',');
  cmd->add_option("--mean", f.mean, "Normalisation mean, one value or one per channel")
      ->delimiter(',');
  cmd->add_option("--std", f.std, "Normalisation std, one value or one per channel")
      ->delimiter(',');
  cmd->add_option("--channels", f.channels, "Input channels the model takes (1 or 3)")
      ->check(CLI::IsMember({1, 3}));
}

Preprocess build_preprocess(const PreprocessFlags& a, const Model& model) {
  Preprocess pre = model.preprocess();
  if (!a.preset.empty()) {
    auto p = find_preset(a.preset);
    if (!p) throw Error(ErrorCode::usage, "--preset " + a.preset + ": unknown preset");
    const int channels = pre.channels;
    pre = *p;
    if (model.input_spec().channels > 0) pre.channels = channels;
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
    if (model.input_spec().rank != 3)
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

}  // namespace camkit::cli
