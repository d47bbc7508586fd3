// What modifies a method rather than choosing it: eigen-smoothing of the gradient methods and
// test-time augmentation (docs/methods.md, "Smoothing").
#include <torch/script.h>

#include <cmath>

#include "camkit/error.hpp"
#include "explain/explain_impl.hpp"
#include "methods/methods.hpp"

namespace camkit {

std::vector<Augmentation> augmentations() {
  std::vector<Augmentation> out;
  for (bool flip : {false, true})
    for (float scale : {1.0f, 0.9f, 1.1f}) out.push_back({flip, scale});
  return out;
}

namespace detail {
namespace {

// w (C) as a factor of every position of a (C, spatial...).
at::Tensor scaled(const at::Tensor& w, const at::Tensor& a) {
  std::vector<int64_t> keep(static_cast<size_t>(a.dim()), 1);
  keep[0] = a.size(0);
  return w.view(keep) * a;
}

// The terms whose sum over channels is the method's raw map (its "weighted activations").
at::Tensor weighted_activations(Method m, const at::Tensor& a, const at::Tensor& g) {
  switch (m) {
    case Method::gradcam:
      return scaled(methods::gradcam_weights(g), a);
    case Method::gradcam_pp: {
      const at::Tensor g2 = g * g;
      return scaled(methods::gradcam_pp_weights(a, g, g2, g2 * g), a);
    }
    case Method::xgradcam:
      return scaled(methods::xgradcam_weights(a, g), a);
    case Method::layercam:
      return g.relu() * a;
    case Method::gradcam_elementwise:
      return (g * a).relu();
    default:
      return g * a;
  }
}

Prepared augmented(const Prepared& p, const Augmentation& aug) {
  Prepared out = p;
  const size_t w = static_cast<size_t>(p.width);
  for (size_t row = 0; row < out.chw.size() / w; ++row) {
    float* r = out.chw.data() + row * w;
    if (aug.flip) std::reverse(r, r + w);
    for (size_t x = 0; x < w; ++x) r[x] *= aug.scale;
  }
  return out;
}

// sum += map, mirrored back when the input was.
void accumulate(std::vector<double>& sum, const Map& map, bool flip) {
  for (int y = 0; y < map.height; ++y)
    for (int x = 0; x < map.width; ++x)
      sum[static_cast<size_t>(y) * map.width + x] += map.at(y, flip ? map.width - 1 - x : x);
}

void average(std::vector<ClassMap>& maps, const std::vector<Explanation>& extra,
             const std::vector<Augmentation>& augs, bool all) {
  for (size_t j = 0; j < maps.size(); ++j) {
    Map& map = maps[j].raw;
    std::vector<double> sum(map.data.begin(), map.data.end());
    for (size_t e = 0; e < extra.size(); ++e) {
      const std::vector<ClassMap>& other = all ? extra[e].all_maps : extra[e].maps;
      accumulate(sum, other.at(j).raw, augs[e + 1].flip);
    }
    for (size_t k = 0; k < sum.size(); ++k)
      map.data[k] = static_cast<float>(sum[k] / static_cast<double>(augs.size()));
  }
}

}  // namespace

at::Tensor gradient_map(Method m, const at::Tensor& a, const at::Tensor& g, bool eigen_smooth) {
  if (eigen_smooth) return methods::first_component(weighted_activations(m, a, g));
  switch (m) {
    case Method::gradcam:
      return methods::gradcam(a, g);
    case Method::gradcam_pp:
      return methods::gradcam_pp(a, g);
    case Method::xgradcam:
      return methods::xgradcam(a, g);
    case Method::layercam:
      return methods::layercam(a, g);
    case Method::gradcam_elementwise:
      return methods::gradcam_elementwise(a, g);
    case Method::eigengradcam:
      return methods::eigengradcam(a, g);
    default:
      return methods::hirescam(a, g);
  }
}

void check_method_options(const ExplainOptions& o) {
  const Method m = o.method;
  if (o.eigen_smooth &&
      !((is_gradient_method(m) && m != Method::eigengradcam) || m == Method::smoothgradcam_pp))
    throw Error(ErrorCode::usage,
                "--eigen-smooth is defined for gradcam, gradcam++, xgradcam, layercam, hirescam, "
                "gradcam-elementwise and smoothgradcam++, not " +
                    method_name(m));
  if (m == Method::smoothgradcam_pp || m == Method::sscam || m == Method::iscam) {
    if (o.samples < 1) throw Error(ErrorCode::usage, "--samples must be at least 1");
    if (!(std::isfinite(o.noise_sigma) && o.noise_sigma >= 0))
      throw Error(ErrorCode::usage, "--noise-sigma must be a number >= 0");
  }
}

std::vector<Explanation> explain_augmented(const Explainer& explainer,
                                           const std::vector<const Prepared*>& inputs,
                                           const ExplainOptions& options) {
  ExplainOptions plain = options;
  plain.aug_smooth = false;
  std::vector<Explanation> out = explainer.explain_batch(inputs, plain);  // the identity
  const std::vector<Augmentation> augs = augmentations();
  for (size_t i = 0; i < out.size(); ++i) {
    Explanation& ex = out[i];
    if (ex.maps.empty()) continue;
    // The classes the unaugmented input selected, for every augmentation: an augmented copy
    // may rank them differently.
    ExplainOptions fixed = plain;
    fixed.classes.clear();
    for (const ClassMap& cm : ex.maps) fixed.classes.push_back(cm.prediction.class_index);
    std::vector<Prepared> copies;
    for (size_t a = 1; a < augs.size(); ++a) copies.push_back(augmented(*inputs[i], augs[a]));
    std::vector<const Prepared*> batch;
    for (const Prepared& p : copies) batch.push_back(&p);
    const std::vector<Explanation> extra = explainer.explain_batch(batch, fixed);
    average(ex.maps, extra, augs, false);
    if (!ex.all_maps.empty()) average(ex.all_maps, extra, augs, true);
  }
  return out;
}

}  // namespace detail
}  // namespace camkit
