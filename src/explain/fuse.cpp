// Several layers at once (docs/methods.md, "Several layers at once"): each layer's display map
// at the input's size, then one pixel-wise rule over the layers.
#include <algorithm>

#include "camkit/error.hpp"
#include "camkit/explain.hpp"

namespace camkit {
namespace {

struct RuleName {
  FuseRule rule;
  const char* name;
};
constexpr RuleName kRules[] = {
    {FuseRule::mean, "mean"}, {FuseRule::max, "max"}, {FuseRule::product, "product"}};

}  // namespace

std::optional<FuseRule> parse_fuse_rule(std::string_view name) {
  for (const auto& r : kRules)
    if (name == r.name) return r.rule;
  return std::nullopt;
}

std::string fuse_rule_name(FuseRule rule) {
  for (const auto& r : kRules)
    if (r.rule == rule) return r.name;
  return "";
}

std::string fuse_refusal(Method method) {
  switch (method) {
    case Method::cam:
      return "CAM is defined only at the feature map that enters the global pooling (one "
             "layer); fuse a gradient method (gradcam, layercam, ...) instead";
    case Method::attention_relevance:
      return "attention relevance already combines every attention layer; it reads no single "
             "layer to fuse";
    case Method::guided_backprop:
    case Method::guided_gradcam:
      return "the guided methods' maps are input gradients at input resolution, not maps of a "
             "layer";
    case Method::fullgrad:
      return "FullGrad already sums the bias gradients of every layer with a bias; it reads no "
             "single layer to fuse";
    default:
      return "";
  }
}

Explanation fuse_explanations(const std::vector<Explanation>& layers, const Prepared& input,
                              FuseRule rule) {
  if (layers.size() < 2) throw Error(ErrorCode::usage, "fusing needs at least two layers");
  const Explanation& first = layers.front();
  if (const std::string why = fuse_refusal(first.method); !why.empty())
    throw Error(ErrorCode::usage, "--fuse: " + method_name(first.method) + ": " + why);
  if (input.depth != 1) throw Error(ErrorCode::usage, "--fuse is defined for 2-D inputs only");
  Explanation out = first;
  out.all_maps.clear();
  out.fused_layers.clear();
  out.fuse = rule;
  out.layer.clear();
  for (const Explanation& ex : layers) {
    if (ex.method != first.method || ex.maps.size() != first.maps.size())
      throw Error(ErrorCode::usage, "fused explanations must have the same method and classes");
    for (size_t i = 0; i < ex.maps.size(); ++i)
      if (ex.maps[i].prediction.class_index != first.maps[i].prediction.class_index)
        throw Error(ErrorCode::usage, "fused explanations must explain the same classes");
    out.fused_layers.push_back({ex.layer, ex.layout, ex.feature_shape});
    out.layer += (out.layer.empty() ? "" : "+") + ex.layer;
  }
  out.layout = "fused";
  out.feature_shape = {input.height, input.width};
  const bool relu = method_uses_relu(first.method);
  for (size_t i = 0; i < out.maps.size(); ++i) {
    Map fused = display_map(layers[0].maps[i].raw, input.height, input.width, relu);
    for (size_t l = 1; l < layers.size(); ++l) {
      const Map d = display_map(layers[l].maps[i].raw, input.height, input.width, relu);
      for (size_t p = 0; p < fused.data.size(); ++p) {
        float& v = fused.data[p];
        switch (rule) {
          case FuseRule::mean:
            v += d.data[p];
            break;
          case FuseRule::max:
            v = std::max(v, d.data[p]);
            break;
          case FuseRule::product:
            v *= d.data[p];
            break;
        }
      }
    }
    if (rule == FuseRule::mean) {
      const float n = static_cast<float>(layers.size());
      for (float& v : fused.data) v /= n;
    }
    out.maps[i].raw = std::move(fused);
  }
  return out;
}

}  // namespace camkit
